/**
 * Turns a pushed record input into a record to send: a unique `rid` and the receive time. The controller
 * stamps the host from the session; an older controller gets it added on the way out (agent.ts).
 */
import { randomBytes } from 'node:crypto';
import type { DataRecord, SpooledMessage, WireDataRecord } from '../src/protocol/messages.js';
import type { Clock } from './engine/index.js';
import type { RecordInput } from './ingest-parse.js';

/** Random bytes in a session tag: with the start time, tells apart two runs of the same agent. */
const SESSION_TAG_RANDOM_BYTES = 4;

export interface StamperDeps {
  /** This agent's id, which rids start with (read per millisecond: the id is known only after enrollment). */
  agentId(): string;
  clock: Clock;
}

export type Stamper = (input: RecordInput) => WireDataRecord;

/**
 * A stamper whose rids are `<agentId>-<session>-<n>`: unique across agents (agent id), restarts (start time
 * plus random session tag) and records (a counter), and ordered within one session.
 */
export function createStamper(deps: StamperDeps): Stamper {
  const session = `${deps.clock.now().toString(36)}${randomBytes(SESSION_TAG_RANDOM_BYTES).toString('hex')}`;
  let n = 0;
  // Time and agent id are read once per millisecond and shared by the records stamped in it.
  let lastMs = Number.NaN;
  let time = '';
  let agentId = deps.agentId();
  return (input) => {
    const now = deps.clock.now();
    if (now !== lastMs) {
      lastMs = now;
      time = new Date(now).toISOString();
      agentId = deps.agentId();
    }
    n += 1;
    return {
      rid: `${agentId}-${session}-${n.toString(36)}`,
      channel: input.channel,
      time,
      fields: input.fields,
    };
  };
}

/**
 * A spooled message's JSON with `host` on each of its data records (the others as they are), for an older
 * controller that does not stamp records with the session's host and refuses them without one.
 */
export function withRecordHosts(json: string, host: DataRecord['host']): string {
  const msg = JSON.parse(json) as SpooledMessage;
  if (msg.type !== 'data') return json;
  for (const r of msg.records) r.host ??= host;
  return JSON.stringify(msg);
}
