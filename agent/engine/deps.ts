/** The small interfaces every engine module takes through its deps object: the kernel's (src/kernel). */
export {
  type Clock,
  isoNow,
  type LogFields,
  type Logger,
  silentLogger,
  systemClock,
} from '../../src/kernel/index.js';

/** Whether this process runs as root (read once: an agent never changes its own uid; each read is a syscall). */
let root: boolean | undefined;
export function runningAsRoot(): boolean {
  root ??= process.getuid?.() === 0;
  return root;
}
