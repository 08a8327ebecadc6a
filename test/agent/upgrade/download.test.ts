/** The resumable download against a real local HTTP server that honours (and can cut) Range requests. */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadArtifact } from '../../../agent/upgrade/download.js';
import { ArtifactDownloadError, ArtifactHashMismatchError } from '../../../agent/upgrade/errors.js';
import { installLayout, linkedVersion, switchLink } from '../../../agent/upgrade/layout.js';
import { readUpgradeRecord, withFailure, writeUpgradeRecord } from '../../../agent/upgrade/record.js';

const BODY = Buffer.from(`${'x'.repeat(100_000)}end`);
const SHA = createHash('sha256').update(BODY).digest('hex');

describe('downloadArtifact', () => {
  let dir: string;
  let server: Server;
  let base: string;
  const ranges: Array<string | undefined> = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-dl-'));
    server = createServer((req, res) => {
      ranges.push(req.headers.range);
      if (req.url === '/missing') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'no artifact gse-agent-9.tgz' } }));
        return;
      }
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (m) {
        const start = Number(m[1]);
        res.writeHead(206, { 'content-range': `bytes ${start}-${BODY.length - 1}/${BODY.length}` });
        res.end(BODY.subarray(start));
        return;
      }
      res.writeHead(200, { 'content-length': BODY.length });
      res.end(BODY);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('downloads and verifies a whole artifact when nothing is there yet', async () => {
    const dest = join(dir, 'a.tgz');
    await downloadArtifact({ url: `${base}/a`, dest, sha256: SHA });
    expect((await readFile(dest)).equals(BODY)).toBe(true);
  });

  it('asks only for the missing bytes when a part was left by an earlier run', async () => {
    const dest = join(dir, 'b.tgz');
    await writeFile(`${dest}.part`, BODY.subarray(0, 40_000));
    ranges.length = 0;
    await downloadArtifact({ url: `${base}/b`, dest, sha256: SHA });
    expect(ranges).toEqual(['bytes=40000-']);
    expect((await readFile(dest)).equals(BODY)).toBe(true);
    expect(await stat(`${dest}.part`).catch(() => undefined)).toBeUndefined();
  });

  it('refuses a file whose sha256 differs, naming both hashes, and keeps nothing', async () => {
    const dest = join(dir, 'c.tgz');
    const wrong = 'b'.repeat(64);
    const err = await downloadArtifact({ url: `${base}/c`, dest, sha256: wrong }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactHashMismatchError);
    expect((err as Error).message).toContain(`has sha256 ${SHA}, the AgentVersion pins ${wrong}`);
    expect(await stat(dest).catch(() => undefined)).toBeUndefined();
    expect(await stat(`${dest}.part`).catch(() => undefined)).toBeUndefined();
  });

  it('reports the server message of a 404 without retrying', async () => {
    ranges.length = 0;
    const err = await downloadArtifact({
      url: `${base}/missing`,
      dest: join(dir, 'd.tgz'),
      sha256: SHA,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactDownloadError);
    expect((err as Error).message).toContain('HTTP 404 no artifact gse-agent-9.tgz');
    expect(ranges).toHaveLength(1);
  });
});

describe('install layout and upgrade record', () => {
  it('switches current by rename and keeps failures across reads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gse-layout-'));
    try {
      const layout = installLayout(dir);
      await switchLink(layout.current, '1.0.0');
      await switchLink(layout.current, '1.1.0');
      expect(await readlink(layout.current)).toBe('versions/1.1.0');
      expect(await linkedVersion(layout.current)).toBe('1.1.0');
      const current = {
        from: '1.0.0',
        to: '1.1.0',
        sha256: SHA,
        attempt: 1,
        url: 'u',
        healthDeadlineMs: 1,
        state: 'switched' as const,
        at: 't',
      };
      await writeUpgradeRecord(layout.record, withFailure({ current, failed: [] }, 'why', 't2', true));
      const back = await readUpgradeRecord(layout.record);
      expect(back.current).toMatchObject({ state: 'failed', reason: 'why', rolledBack: true });
      expect(back.failed).toEqual([{ to: '1.1.0', sha256: SHA, attempt: 1, reason: 'why', at: 't2' }]);
      expect(await readUpgradeRecord(join(dir, 'absent.json'))).toEqual({ failed: [] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
