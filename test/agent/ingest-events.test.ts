/**
 * Custom events pushed by local programs: the `{"event": "custom.<name>", ...fields}` line (parsed, named
 * by the rules, told apart from records), the `--field` arguments of `gse-agent push --event`, and the
 * ingest server raising them (socket and HTTP) once accepted.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../agent/engine/deps.js';
import { silentLogger } from '../../agent/engine/index.js';
import { IngestServer, type IngestSink } from '../../agent/ingest.js';
import { customEventProblem, LineSplitter, parseLines } from '../../agent/ingest-parse.js';
import { eventLine, PushArgumentError, parseEventFields, push, pushEvent } from '../../agent/push.js';
import type { DataMessage, HostEvent } from '../../src/protocol/messages.js';
import { type Sandbox, sandbox } from './engine/helpers.js';

const HOST = { id: 'agent-1', name: 'web-1', ip: '10.0.0.1', cloudId: 0 };

function parse(text: string) {
  const splitter = new LineSplitter();
  return parseLines([...splitter.push(text), ...splitter.end()]);
}

describe('custom event names', () => {
  it.each(['custom.backup_failed', 'custom.a', 'custom.db.replica-lag', 'custom.x9'])(
    'accepts %s',
    (name) => {
      expect(customEventProblem(name)).toBeUndefined();
    },
  );
  it.each([
    { name: 'a declared type', input: 'process.down' },
    { name: 'no name after the prefix', input: 'custom.' },
    { name: 'upper case', input: 'custom.Backup' },
    { name: 'a space', input: 'custom.backup failed' },
    { name: 'no prefix', input: 'backup_failed' },
    { name: 'a number', input: 3 },
  ])('refuses $name, saying what a name may hold', ({ input }) => {
    const problem = customEventProblem(input);
    expect(problem).toContain('"event" must be custom.<name>');
    expect(problem).toContain('a-z, 0-9');
  });
});

describe('parsing event lines', () => {
  it('reads a line with no channel and an event as a custom event, its other keys as fields', () => {
    const out = parse('{"event":"custom.backup_failed","job":"db","code":3}\n');
    expect(out.events).toEqual([{ type: 'custom.backup_failed', fields: { job: 'db', code: 3 } }]);
    expect(out.inputs).toEqual([]);
    expect(out.problems).toEqual([]);
  });

  it('keeps a record with a channel a record, even when one of its fields is named event', () => {
    const out = parse('{"channel":"logs","event":"login"}\n');
    expect(out.events).toEqual([]);
    expect(out.inputs).toMatchObject([{ channel: 'logs', fields: { event: 'login' } }]);
  });

  it('refuses a bad event name with the line number and the bad_event code, keeping the other lines', () => {
    const out = parse('{"event":"process.down"}\n{"event":"custom.ok"}\n[{"event":"custom.Bad"}]\n');
    expect(out.events.map((e) => e.type)).toEqual(['custom.ok']);
    expect(out.problems).toEqual([
      { line: 1, code: 'bad_event', error: expect.stringContaining('(got "process.down")') },
      { line: 3, code: 'bad_event', error: expect.stringMatching(/^item 0: "event" must be custom/) },
    ]);
  });
});

describe('push --field', () => {
  it.each([
    { name: 'strings', args: ['job=db', 'host=web-1'], want: { job: 'db', host: 'web-1' } },
    { name: 'a value holding =', args: ['query=a=b'], want: { query: 'a=b' } },
    { name: 'an empty value', args: ['note='], want: { note: '' } },
    {
      name: 'JSON values',
      args: ['code:=3', 'retry:=true', 'tags:=["a"]'],
      want: { code: 3, retry: true, tags: ['a'] },
    },
    { name: 'a repeated key (the last wins)', args: ['job=a', 'job=b'], want: { job: 'b' } },
  ])('reads $name', ({ args, want }) => {
    expect(parseEventFields(args)).toEqual(want);
  });

  it.each([
    { name: 'no =', args: ['job'], error: '--field "job": expected KEY=VALUE' },
    { name: 'no key', args: ['=db'], error: '--field "=db": expected KEY=VALUE' },
    { name: 'bad JSON', args: ['code:=oops'], error: 'KEY:=VALUE takes JSON' },
    { name: 'the reserved key event', args: ['event=x'], error: '"event" is reserved' },
  ])('refuses $name', ({ args, error }) => {
    expect(() => parseEventFields(args)).toThrow(PushArgumentError);
    expect(() => parseEventFields(args)).toThrow(error);
  });

  it('refuses an event name that is not custom.<name> before connecting', () => {
    expect(() => eventLine('disk.full', {})).toThrow(/--event: "event" must be custom.<name>/);
    expect(JSON.parse(eventLine('custom.x', { a: 1 }))).toEqual({ a: 1, event: 'custom.x' });
  });
});

class Sink implements IngestSink {
  readonly messages: DataMessage[] = [];
  async append(msg: DataMessage): Promise<void> {
    this.messages.push(msg);
  }
  backlog(): number {
    return 0;
  }
}

describe('IngestServer with pushed events', () => {
  let box: Sandbox;
  let server: IngestServer;
  let socketPath: string;
  let sink: Sink;
  let raised: HostEvent[];
  let failNext: boolean;

  beforeEach(async () => {
    box = await sandbox('gse-ingest-ev-');
    socketPath = join(box.dir, 'ingest.sock');
    sink = new Sink();
    raised = [];
    failNext = false;
    server = await IngestServer.start(
      { socketPath, httpPort: 0 },
      {
        sink,
        agentId: () => HOST.id,
        clock: systemClock,
        logger: silentLogger,
        raiseEvent: async (e) => {
          if (failNext) {
            failNext = false;
            throw new Error('spool full');
          }
          raised.push(e);
        },
      },
    );
  });
  afterEach(async () => {
    await server.close();
    await box.cleanup();
  });

  it('raises a pushed event stamped with the receive time, and answers accepted', async () => {
    const before = Date.now();
    const result = await pushEvent({ socketPath, event: 'custom.backup_failed', fields: { job: 'db' } });
    expect(result).toEqual({ ok: true, accepted: 1, refused: 0, errors: [] });
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({ type: 'custom.backup_failed', fields: { job: 'db' } });
    expect(Date.parse(raised[0]?.time ?? '')).toBeGreaterThanOrEqual(before - 1);
    expect(sink.messages).toEqual([]);
  });

  it('takes records and events on one connection, refusing a bad name by line', async () => {
    const result = await push({
      socketPath,
      input: ['{"channel":"m","v":1}\n{"event":"custom.a","n":1}\n{"event":"bad"}\n'],
    });
    expect(result.accepted).toBe(2);
    expect(result.refused).toBe(1);
    expect(result.errors).toEqual([expect.stringMatching(/^line 3: "event" must be custom/)]);
    expect(raised.map((e) => e.type)).toEqual(['custom.a']);
    await server.close();
    expect(sink.messages.flatMap((m) => m.records.map((r) => r.fields))).toEqual([{ v: 1 }]);
  });

  it('reports an event the agent could not spool as refused', async () => {
    failNext = true;
    const result = await pushEvent({ socketPath, event: 'custom.a', fields: {} });
    expect(result).toMatchObject({ ok: false, accepted: 0, refused: 1 });
    expect(result.errors.join('\n')).toContain('spool full');
  });

  it('raises events posted over HTTP, and answers 422 naming a bad one', async () => {
    const res = await fetch(`http://127.0.0.1:${server.httpPort}/v1/records`, {
      method: 'POST',
      body: '{"event":"custom.http","ok":true}\n{"event":"custom.NO"}\n',
    });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { accepted: number; refused: number; errors: Array<{ code: string }> };
    expect(body).toMatchObject({ accepted: 1, refused: 1, errors: [{ code: 'bad_event' }] });
    expect(raised.map((e) => e.type)).toEqual(['custom.http']);
  });
});
