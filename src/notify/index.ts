/** Signed outcome notifications and exec task callbacks (see docs/ARCHITECTURE.md, src/notify). */
export * from './notifier.js';
export * from './outcome.js';
export * from './queue.js';
export * from './sign.js';
export * from './task-callbacks.js';
export * from './worker.js';
