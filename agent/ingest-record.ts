/** Turns a pushed record input into a DataRecord: a unique `rid`, the receive time and this host's identity. */
import { randomBytes } from 'node:crypto';
import type { DataRecord } from '../src/protocol/messages.js';
import type { Clock } from './engine/index.js';
import type { RecordInput } from './ingest-parse.js';

/** Random bytes in a session tag: with the start time, tells apart two runs of the same agent. */
const SESSION_TAG_RANDOM_BYTES = 4;

export interface StamperDeps {
  /** This agent's identity as records carry it (read per record: the id is known only after create). */
  host(): DataRecord['host'];
  clock: Clock;
}

export type Stamper = (input: RecordInput) => DataRecord;

/**
 * A stamper whose rids are `<agentId>-<session>-<n>`: unique across agents (agent id), restarts (start time
 * plus random session tag) and records (a counter), and ordered within one session.
 */
export function createStamper(deps: StamperDeps): Stamper {
  const session = `${deps.clock.now().toString(36)}${randomBytes(SESSION_TAG_RANDOM_BYTES).toString('hex')}`;
  let n = 0;
  // Time and host are built once per millisecond and shared by the records stamped in it.
  let lastMs = Number.NaN;
  let time = '';
  let host = deps.host();
  return (input) => {
    const now = deps.clock.now();
    if (now !== lastMs) {
      lastMs = now;
      time = new Date(now).toISOString();
      host = deps.host();
    }
    n += 1;
    return {
      rid: `${host.id}-${session}-${n.toString(36)}`,
      channel: input.channel,
      time,
      host,
      fields: input.fields,
    };
  };
}
