/** The small interfaces every engine module takes through its deps object: the kernel's (src/kernel). */
export {
  type Clock,
  isoNow,
  type LogFields,
  type Logger,
  silentLogger,
  systemClock,
} from '../../src/kernel/index.js';
