/**
 * The two lanes of what an agent owes the controller. Control (reports, exec results) steers the fleet and
 * must never wait behind data; data (data records and host events) is bulk that waits on stream targets.
 * Each lane has its own in-flight window on both ends, so a target that is down fills only the data lane.
 *
 * Events travel on the data lane: on the controller an event is only routed (its handler waits on the
 * `events` channel's targets like any record), and remediation reacts to them on the agent itself, before
 * they are spooled. Putting them on the control lane would let a dead events target block reports again.
 */
import type { SpooledMessage } from './messages.js';

export type Lane = 'control' | 'data';

/** Lanes in the order they are served: control first. */
export const LANES: readonly Lane[] = ['control', 'data'];

/** The lane a spooled message travels on. */
export function laneOf(msg: Pick<SpooledMessage, 'type'>): Lane {
  return msg.type === 'report' || msg.type === 'execResult' ? 'control' : 'data';
}
