import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  decodeAgentFrame,
  decodeControllerFrame,
  encodeFrame,
  type FrameErrorCode,
  type RawFrame,
} from '../../src/protocol/codec.js';
import { SHARED_SCHEMAS } from '../../src/protocol/manifest-schema.js';
import { MESSAGE_SCHEMAS } from '../../src/protocol/message-schema.js';
import type { Message } from '../../src/protocol/messages.js';
import * as f from './fixtures.js';

type Direction = 'agent' | 'controller';

function decode(dir: Direction, data: RawFrame, maxBytes?: number) {
  return dir === 'agent' ? decodeAgentFrame(data, maxBytes) : decodeControllerFrame(data, maxBytes);
}

/** A deep copy of `msg` with `edit` applied, as a frame. */
function mutate<T>(msg: T, edit: (m: Record<string, unknown>) => void): string {
  const copy = structuredClone(msg) as Record<string, unknown>;
  edit(copy);
  return JSON.stringify(copy);
}

const validAgent: { name: string; msg: Message }[] = [
  { name: 'hello', msg: f.hello },
  { name: 'report', msg: f.report },
  { name: 'report (a dry run answer)', msg: f.dryRunReport },
  { name: 'execResult', msg: f.execResult },
  { name: 'event', msg: f.event },
  { name: 'data', msg: f.data },
  { name: 'heartbeat', msg: f.heartbeat },
  { name: 'error', msg: f.error },
];

const validController: { name: string; msg: Message }[] = [
  { name: 'welcome', msg: f.welcome },
  { name: 'manifest (full, every item kind)', msg: f.manifestFull },
  { name: 'manifest (delta)', msg: f.manifestDelta },
  { name: 'dryRun', msg: f.dryRun },
  { name: 'exec', msg: f.exec },
  { name: 'ack', msg: f.ack },
  { name: 'heartbeat', msg: f.heartbeat },
  { name: 'error', msg: f.error },
];

const invalid: {
  name: string;
  dir: Direction;
  input: RawFrame;
  code: FrameErrorCode;
  message: string;
  maxBytes?: number;
}[] = [
  { name: 'not JSON', dir: 'agent', input: '{"v":1,', code: 'bad_json', message: 'frame is not JSON' },
  {
    name: 'invalid UTF-8 bytes',
    dir: 'agent',
    input: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
    code: 'bad_json',
    message: 'not valid UTF-8',
  },
  { name: 'a JSON array', dir: 'agent', input: '[1,2]', code: 'bad_frame', message: 'must be a JSON object' },
  {
    name: 'JSON null',
    dir: 'controller',
    input: 'null',
    code: 'bad_frame',
    message: 'must be a JSON object',
  },
  {
    name: 'no version',
    dir: 'agent',
    input: '{"type":"heartbeat","time":"x"}',
    code: 'bad_version',
    message: 'v: protocol version 1 expected, got undefined',
  },
  {
    name: 'version 2',
    dir: 'controller',
    input: mutate(f.ack, (m) => {
      m.v = 2;
    }),
    code: 'bad_version',
    message: 'got 2',
  },
  {
    name: 'no type',
    dir: 'agent',
    input: '{"v":1}',
    code: 'bad_frame',
    message: 'type: is required',
  },
  {
    name: 'an unknown type',
    dir: 'agent',
    input: '{"v":1,"type":"bogus"}',
    code: 'unknown_type',
    message: 'type: "bogus" is not a message the agent sends',
  },
  {
    name: 'a controller-only type sent by an agent',
    dir: 'agent',
    input: JSON.stringify(f.welcome),
    code: 'unknown_type',
    message: '"welcome" is not a message the agent sends',
  },
  {
    name: 'an agent-only type sent by the controller',
    dir: 'controller',
    input: JSON.stringify(f.report),
    code: 'unknown_type',
    message: '"report" is not a message the controller sends',
  },
  {
    name: 'hello without facts',
    dir: 'agent',
    input: mutate(f.hello, (m) => {
      delete m.facts;
    }),
    code: 'bad_frame',
    message: 'hello.facts: is required',
  },
  {
    name: 'hello with a bad agent id',
    dir: 'agent',
    input: mutate(f.hello, (m) => {
      m.agentId = '../etc/passwd';
    }),
    code: 'bad_frame',
    message: 'hello.agentId: must match pattern',
  },
  {
    name: 'hello with a numeric ip',
    dir: 'agent',
    input: mutate(f.hello, (m) => {
      (m.facts as { ips: unknown[] }).ips = [10];
    }),
    code: 'bad_frame',
    message: 'hello.facts.ips[0]: must be string',
  },
  {
    name: 'hello with a negative cloud id',
    dir: 'agent',
    input: mutate(f.hello, (m) => {
      (m.facts as { cloudId: number }).cloudId = -1;
    }),
    code: 'bad_frame',
    message: 'hello.facts.cloudId: must be >= 0',
  },
  {
    name: 'report with an unknown item state',
    dir: 'agent',
    input: mutate(f.report, (m) => {
      (m.items as { state: string }[])[1]!.state = 'great';
    }),
    code: 'bad_frame',
    message: 'report.items[1].state: must be one of "ok", "changed", "failed", "drifted", "pending"',
  },
  {
    name: 'report without an id',
    dir: 'agent',
    input: mutate(f.report, (m) => {
      delete m.id;
    }),
    code: 'bad_frame',
    message: 'report.id: is required',
  },
  {
    name: 'report with an empty id',
    dir: 'agent',
    input: mutate(f.report, (m) => {
      m.id = '';
    }),
    code: 'bad_frame',
    message: 'report.id: must NOT have fewer than 1 characters',
  },
  {
    name: 'execResult with a fractional exit code',
    dir: 'agent',
    input: mutate(f.execResult, (m) => {
      m.exitCode = 1.5;
    }),
    code: 'bad_frame',
    message: 'execResult.exitCode: must be integer,null',
  },
  {
    name: 'event whose fields is an array',
    dir: 'agent',
    input: mutate(f.event, (m) => {
      (m.event as { fields: unknown }).fields = [];
    }),
    code: 'bad_frame',
    message: 'event.event.fields: must be object',
  },
  {
    name: 'data with a record missing its rid',
    dir: 'agent',
    input: mutate(f.data, (m) => {
      delete (m.records as Record<string, unknown>[])[0]!.rid;
    }),
    code: 'bad_frame',
    message: 'data.records[0].rid: is required',
  },
  {
    name: 'heartbeat with a numeric time',
    dir: 'agent',
    input: '{"v":1,"type":"heartbeat","time":5}',
    code: 'bad_frame',
    message: 'heartbeat.time: must be string',
  },
  {
    name: 'welcome with a zero window',
    dir: 'controller',
    input: mutate(f.welcome, (m) => {
      m.window = 0;
    }),
    code: 'bad_frame',
    message: 'welcome.window: must be >= 1',
  },
  {
    name: 'manifest with an unknown mode',
    dir: 'controller',
    input: mutate(f.manifestFull, (m) => {
      m.mode = 'partial';
    }),
    code: 'bad_frame',
    message: 'manifest.mode: unknown value "partial"',
  },
  {
    name: 'manifest with an unknown item kind',
    dir: 'controller',
    input: mutate(f.manifestFull, (m) => {
      (m.manifest as { items: { kind: string }[] }).items[0]!.kind = 'Route';
    }),
    code: 'bad_frame',
    message: 'manifest.manifest.items[0].kind: unknown value "Route"',
  },
  {
    name: 'manifest with a file mode above 0o7777',
    dir: 'controller',
    input: mutate(f.manifestFull, (m) => {
      (m.manifest as { items: { mode?: number }[] }).items[1]!.mode = 0o10000;
    }),
    code: 'bad_frame',
    message: 'manifest.manifest.items[1].mode: must be <= 4095',
  },
  {
    name: 'manifest delta whose Remediation run lacks a script',
    dir: 'controller',
    input: mutate(f.manifestDelta, (m) => {
      m.upsert = [{ ...f.hostManifest.items[3], run: { run: 'x', timeoutMs: 1 } }];
    }),
    code: 'bad_frame',
    message: 'manifest.upsert[0].run.script: is required',
  },
  {
    name: 'exec with a string timeout',
    dir: 'controller',
    input: mutate(f.exec, (m) => {
      m.timeoutMs = '10s';
    }),
    code: 'bad_frame',
    message: 'exec.timeoutMs: must be integer',
  },
  {
    name: 'ack whose ids is not a list',
    dir: 'controller',
    input: '{"v":1,"type":"ack","ids":"r-1"}',
    code: 'bad_frame',
    message: 'ack.ids: must be array',
  },
  {
    name: 'a frame above maxBytes',
    dir: 'agent',
    input: JSON.stringify({ ...f.heartbeat, time: 'x'.repeat(200) }),
    code: 'too_large',
    message: 'exceeds the limit of 100 bytes',
    maxBytes: 100,
  },
  {
    name: 'a multi-byte frame above maxBytes in bytes but not in characters',
    dir: 'agent',
    input: JSON.stringify({ ...f.heartbeat, time: '\u00e9'.repeat(40) }),
    code: 'too_large',
    message: 'exceeds the limit of 100 bytes',
    maxBytes: 100,
  },
];

describe('codec', () => {
  it.each(validAgent)('accepts a valid agent $name frame when it matches the schema', ({ msg }) => {
    expect(decodeAgentFrame(encodeFrame(msg))).toEqual({ ok: true, msg });
  });

  it.each(validController)('accepts a valid controller $name frame when it matches the schema', ({ msg }) => {
    expect(decodeControllerFrame(encodeFrame(msg))).toEqual({ ok: true, msg });
  });

  it.each(invalid)('refuses $name with $code when decoding', ({ dir, input, code, message, maxBytes }) => {
    const result = decode(dir, input, maxBytes);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe(code);
    expect(result.message).toContain(message);
  });

  it('accepts Buffer, ArrayBuffer and fragment lists when ws hands them over', () => {
    const text = encodeFrame(f.heartbeat);
    const buf = Buffer.from(text);
    const arrayBuffer = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    for (const input of [buf, arrayBuffer, [buf.subarray(0, 5), buf.subarray(5)]]) {
      expect(decodeAgentFrame(input)).toEqual({ ok: true, msg: f.heartbeat });
    }
  });

  it('drops unknown fields when a newer peer adds them', () => {
    const frame = mutate(f.report, (m) => {
      m.extra = 1;
      (m.items as Record<string, unknown>[])[0]!.future = true;
    });
    expect(decodeAgentFrame(frame)).toEqual({ ok: true, msg: f.report });
  });

  it('returns the frame id as ref when a frame with an id is refused', () => {
    const result = decodeAgentFrame(mutate(f.report, (m) => delete m.items));
    expect(result).toMatchObject({ ok: false, code: 'bad_frame', ref: 'r-1' });
  });

  it('keeps the message schemas stable when nobody changes them on purpose', () => {
    expect({ messages: MESSAGE_SCHEMAS, shared: SHARED_SCHEMAS }).toMatchSnapshot();
  });

  it('has schemas that are valid JSON Schema when checked against the meta-schema', () => {
    const ajv = new Ajv({ discriminator: true, allowUnionTypes: true });
    for (const schema of SHARED_SCHEMAS) ajv.addSchema(schema);
    for (const schema of Object.values(MESSAGE_SCHEMAS)) expect(ajv.validateSchema(schema)).toBe(true);
    for (const schema of SHARED_SCHEMAS) expect(ajv.validateSchema(schema)).toBe(true);
  });
});
