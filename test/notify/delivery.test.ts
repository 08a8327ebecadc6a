/**
 * The notifier against a real HTTP receiver on 127.0.0.1 and a real on-disk queue: every delivery signed
 * and verified, a tampered body refused by the receiver's check, nothing lost while the receiver's port is
 * closed, queued deliveries delivered by a new notifier after a restart, and the queue's bound.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CallbackSecretMissingError, Notifier, type NotifierOptions } from '../../src/notify/notifier.js';
import { signBody } from '../../src/notify/sign.js';
import type { Notification, Selector } from '../../src/spec/types.js';
import { waitFor } from '../helpers/controller.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { freePort } from '../helpers/redis-server.js';

const SECRET = 'notify-secret-0123456789abcdef';
const CALLBACK_SECRET = 'callback-secret-0123456789abcdef';
/** Quick retries, so a test waits little once the receiver is back (no assertion depends on them). */
const FAST = { baseMs: 20, maxMs: 200 };

function notification(
  name: string,
  url: string,
  on: Notification['spec']['on'],
  hosts?: Selector,
): Notification {
  return {
    apiVersion: 'gse/v1',
    kind: 'Notification',
    metadata: { name },
    spec: { on, url, secretFrom: { env: 'NOTIFY_SECRET' }, ...(hosts ? { hosts } : {}) },
    pos: { file: 'n.yaml', line: 1, col: 1 },
  };
}

describe('Notifier', () => {
  let dir: string;
  let receiver: Receiver | undefined;
  const notifiers: Notifier[] = [];

  async function open(overrides: Partial<NotifierOptions> = {}): Promise<Notifier> {
    const n = await Notifier.open({
      dir: join(dir, 'queue'),
      resolveSecret: async (ref) => {
        if (!('env' in ref) || ref.env !== 'NOTIFY_SECRET') throw new Error('unexpected ref');
        return SECRET;
      },
      callbackSecret: CALLBACK_SECRET,
      // web-* hosts carry role=web.
      hostMatches: (sel, host) =>
        sel.matchLabels?.role === undefined || host.startsWith(`${sel.matchLabels.role}-`),
      now: Date.now,
      newId: randomUUID,
      backoff: FAST,
      ...overrides,
    });
    notifiers.push(n);
    return n;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-notify-'));
  });
  afterEach(async () => {
    await Promise.all(notifiers.splice(0).map((n) => n.stop()));
    await receiver?.close();
    receiver = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('POSTs each wanted outcome signed, with its id in the body and X-GSE-Delivery, for the selected hosts only', async () => {
    receiver = await startReceiver(SECRET);
    const n = await open();
    n.setNotifications([
      notification('web-drift', receiver.url, ['drift.detected', 'revision.rejected'], {
        matchLabels: { role: 'web' },
      }),
    ]);
    n.start();
    await n.outcome({ type: 'drift.detected', host: 'web-1', resource: 'ConfigFile/motd' });
    await n.outcome({ type: 'drift.detected', host: 'db-1', resource: 'ConfigFile/motd' }); // not selected
    await n.outcome({ type: 'drift.healed', host: 'web-1', resource: 'ConfigFile/motd' }); // not subscribed
    await n.outcome({ type: 'revision.rejected', revision: 'abc' }); // no host: always sent
    const got = await waitFor('both deliveries', () =>
      receiver?.accepted.length === 2 ? receiver.accepted : undefined,
    );
    expect(got.map((d) => d.body.type)).toEqual(['drift.detected', 'revision.rejected']);
    expect(got[0]?.body).toMatchObject({
      host: 'web-1',
      resource: 'ConfigFile/motd',
      notification: 'web-drift',
    });
    for (const d of got) {
      expect(d.headers['x-gse-delivery']).toBe(d.id);
      expect(d.headers['x-gse-signature']).toBe(signBody(d.raw, SECRET));
      expect(typeof d.body.at).toBe('string');
    }
    expect(receiver.rejected).toBe(0);
    await waitFor('the queue to empty', () => n.stats().queued === 0);
  });

  it("has a tampered body refused by the receiver's check", async () => {
    receiver = await startReceiver(SECRET);
    const body = JSON.stringify({ id: 'x1', type: 'drift.detected', host: 'web-1' });
    const signature = signBody(body, SECRET);
    const tampered = body.replace('web-1', 'web-2');
    const res = await fetch(receiver.url, {
      method: 'POST',
      body: tampered,
      headers: { 'content-type': 'application/json', 'x-gse-signature': signature },
    });
    expect(res.status).toBe(401);
    const ok = await fetch(receiver.url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-gse-signature': signature },
    });
    expect(ok.status).toBe(204);
    expect(receiver.rejected).toBe(1);
    expect(receiver.accepted.map((d) => d.id)).toEqual(['x1']);
  });

  it('delivers everything queued while the receiver was down, in order, once it is back', async () => {
    const port = await freePort();
    receiver = await startReceiver(SECRET, port, false);
    const n = await open();
    n.setNotifications([notification('all', receiver.url, ['execution.finished'])]);
    n.start();
    for (let i = 0; i < 5; i++) await n.outcome({ type: 'execution.finished', host: `web-${i}`, seq: i });
    await waitFor('failed attempts while the port is closed', () => n.stats().failedAttempts >= 2);
    expect(n.stats().queued).toBe(5);
    await receiver.reopen();
    await waitFor('every delivery', () => receiver?.unique().length === 5);
    expect(receiver.unique().map((d) => d.body.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(new Set(receiver.unique().map((d) => d.id)).size).toBe(5);
    await waitFor('the queue to empty', () => n.stats().queued === 0);
    expect(n.stats().dropped).toBe(0);
  });

  it('keeps queued deliveries on disk (0600) across a restart and delivers them from the new notifier', async () => {
    const port = await freePort();
    receiver = await startReceiver([SECRET, CALLBACK_SECRET], port, false);
    const first = await open();
    first.setNotifications([notification('all', receiver.url, ['rollout.paused'])]);
    first.start();
    await first.outcome({ type: 'rollout.paused', rollout: 'agent', n: 1 });
    await first.outcome({ type: 'rollout.paused', rollout: 'agent', n: 2 });
    await first.taskResult(receiver.url, { taskId: 't-1', hosts: [] });
    await first.stop();
    const files = (await readdir(join(dir, 'queue'))).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(3);
    for (const f of files) expect((await stat(join(dir, 'queue', f))).mode & 0o777).toBe(0o600);

    await receiver.reopen();
    const second = await open();
    expect(second.stats().queued).toBe(3);
    second.start();
    await waitFor('the three deliveries', () => receiver?.unique().length === 3);
    const bodies = receiver.unique().map((d) => d.body);
    expect(bodies.map((b) => b.type)).toEqual(['rollout.paused', 'rollout.paused', 'task.finished']);
    // The callback is signed with the callback secret, not the Notification's.
    const callback = receiver.unique()[2];
    expect(callback?.headers['x-gse-signature']).toBe(signBody(callback?.raw ?? '', CALLBACK_SECRET));
    await waitFor('the queue files to go', async () => (await readdir(join(dir, 'queue'))).length === 0);
  });

  it('refuses a new delivery past the bound and counts it, keeping every queued one', async () => {
    const port = await freePort();
    receiver = await startReceiver(SECRET, port, false);
    const n = await open({ maxQueued: 2 });
    n.setNotifications([notification('all', receiver.url, ['drift.detected'])]);
    for (let i = 0; i < 3; i++) await n.outcome({ type: 'drift.detected', host: 'web-1', i });
    expect(n.stats()).toMatchObject({ queued: 2, dropped: 1 });
    await receiver.reopen();
    n.start();
    await waitFor('the two queued deliveries', () => receiver?.unique().length === 2);
    expect(receiver.unique().map((d) => d.body.i)).toEqual([0, 1]);
    // Queued before start, sent once each (start rebuilds the lanes from the queue).
    await waitFor('every lane to drain', () => n.stats().pending === 0);
    expect(receiver.accepted).toHaveLength(2);
  });

  it('refuses a task callback when no callback secret is configured', async () => {
    const n = await open({ callbackSecret: undefined });
    expect(n.callbacksEnabled).toBe(false);
    await expect(n.taskResult('http://127.0.0.1:1/x', {})).rejects.toBeInstanceOf(CallbackSecretMissingError);
    expect(n.stats().queued).toBe(0);
  });
});
