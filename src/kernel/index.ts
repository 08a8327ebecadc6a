/** The kernel: the few shapes every part may import (the agent included); it imports nothing itself. */
export * from './backoff.js';
export * from './clock.js';
export * from './errors.js';
export * from './glob.js';
export * from './line-diff.js';
export * from './logger.js';
export * from './remediation-budget.js';
