/**
 * The agent's upgrader and `gse-agent install` on real files: small packages made with tar, served by a local
 * HTTP server, an install dir with real symlinks and upgrade.json. The agent around it is a recording context.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { installArtifact } from '../../../agent/upgrade/install.js';
import { installLayout, linkedVersion } from '../../../agent/upgrade/layout.js';
import { readUpgradeRecord, writeUpgradeRecord } from '../../../agent/upgrade/record.js';
import {
  installUpgrader,
  resolveArtifactUrl,
  type Upgrader,
  type UpgraderContext,
} from '../../../agent/upgrade/upgrader.js';
import { silentLogger } from '../../../src/kernel/index.js';
import type { HostManifest, ManifestAgentVersion } from '../../../src/protocol/manifest.js';
import type { ItemReport } from '../../../src/protocol/messages.js';
import { waitFor } from '../../helpers/controller.js';

const run = promisify(execFile);

/** A minimal package of `version`: dist/VERSION and a main.js. */
async function makePackage(dir: string, version: string): Promise<{ path: string; sha256: string }> {
  const stage = join(dir, `stage-${version}`);
  await mkdir(join(stage, 'dist/agent'), { recursive: true });
  await writeFile(join(stage, 'dist/VERSION'), `${version}\n`);
  await writeFile(join(stage, 'dist/agent/main.js'), '// agent\n');
  const path = join(dir, `gse-agent-${version}.tgz`);
  await run('tar', ['-czf', path, '-C', stage, '.']);
  const sha256 = createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
  return { path, sha256 };
}

function manifestWith(item: Omit<ManifestAgentVersion, 'kind' | 'name' | 'hash'>): HostManifest {
  const av: ManifestAgentVersion = {
    kind: 'AgentVersion',
    name: 'agents',
    hash: `h-${item.version}`,
    ...item,
  };
  return { hostId: 'h1', revision: 'r1', labels: {}, items: [av], hash: 'm1' };
}

describe('resolveArtifactUrl', () => {
  const table = [
    {
      name: 'a controller path on a wss controller',
      url: '/api/v1/artifacts/gse-agent-1.2.0.tgz',
      controller: 'wss://ctl.example:7070/agent',
      want: { url: 'https://ctl.example:7070/api/v1/artifacts/gse-agent-1.2.0.tgz', sameOrigin: true },
    },
    {
      name: 'a controller path on a plain ws controller',
      url: '/api/v1/artifacts/a.tgz',
      controller: 'ws://127.0.0.1:7070/agent',
      want: { url: 'http://127.0.0.1:7070/api/v1/artifacts/a.tgz', sameOrigin: true },
    },
    {
      name: 'an absolute URL elsewhere (no credential goes there)',
      url: 'https://dl.example.com/gse-agent-1.2.0.tgz',
      controller: 'wss://ctl.example:7070/agent',
      want: { url: 'https://dl.example.com/gse-agent-1.2.0.tgz', sameOrigin: false },
    },
    {
      name: 'an absolute URL on the controller itself',
      url: 'https://ctl.example:7070/api/v1/artifacts/x.tgz',
      controller: 'wss://ctl.example:7070/agent',
      want: { url: 'https://ctl.example:7070/api/v1/artifacts/x.tgz', sameOrigin: true },
    },
    {
      name: 'the same host on another port',
      url: 'https://ctl.example:8443/x.tgz',
      controller: 'wss://ctl.example:7070/agent',
      want: { url: 'https://ctl.example:8443/x.tgz', sameOrigin: false },
    },
  ];
  it.each(table)('resolves $name', ({ url, controller, want }) => {
    expect(resolveArtifactUrl(url, controller)).toEqual(want);
  });
});

describe('installArtifact', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-install-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lays out versions/<V>, current and launcher, and installing again changes nothing', async () => {
    const pkg = await makePackage(dir, '1.0.0');
    const installDir = join(dir, 'opt');
    const first = await installArtifact({ artifact: pkg.path, installDir });
    expect(first).toEqual({ installDir, version: '1.0.0', sha256: pkg.sha256 });
    const again = await installArtifact({ artifact: pkg.path, installDir });
    expect(again).toEqual({ ...first, previous: '1.0.0' });
    const layout = installLayout(installDir);
    expect(await linkedVersion(layout.current)).toBe('1.0.0');
    expect(await linkedVersion(layout.launcher)).toBe('1.0.0');
    expect(await readFile(join(layout.versions, '1.0.0/dist/VERSION'), 'utf8')).toBe('1.0.0\n');
  });

  it('switches current and launcher to a newer package and drops an upgrade left half-way', async () => {
    const installDir = join(dir, 'opt');
    await installArtifact({ artifact: (await makePackage(dir, '1.0.0')).path, installDir });
    const layout = installLayout(installDir);
    await writeUpgradeRecord(layout.record, {
      current: {
        from: '1.0.0',
        to: '1.5.0',
        sha256: 'c'.repeat(64),
        attempt: 1,
        url: '/x',
        healthDeadlineMs: 1000,
        state: 'switching',
        at: '2026-01-01T00:00:00.000Z',
      },
      failed: [],
    });
    const done = await installArtifact({ artifact: (await makePackage(dir, '1.1.0')).path, installDir });
    expect(done).toMatchObject({ version: '1.1.0', previous: '1.0.0' });
    expect(await linkedVersion(layout.current)).toBe('1.1.0');
    expect(await linkedVersion(layout.launcher)).toBe('1.1.0');
    expect((await readUpgradeRecord(layout.record)).current).toBeUndefined();
  });

  const bad = [
    {
      name: 'a missing file',
      make: async (d: string) => join(d, 'nope.tgz'),
      error: /no such file .*gsectl artifact build/,
    },
    {
      name: 'a tarball that is not a gse-agent package',
      make: async (d: string) => {
        await mkdir(join(d, 'junk'), { recursive: true });
        await writeFile(join(d, 'junk/readme'), 'hi');
        await run('tar', ['-czf', join(d, 'junk.tgz'), '-C', join(d, 'junk'), '.']);
        return join(d, 'junk.tgz');
      },
      error: /not a gse-agent package: dist\/VERSION is missing/,
    },
    {
      name: 'a file that is not a tarball',
      make: async (d: string) => {
        await writeFile(join(d, 'text.tgz'), 'not gzip');
        return join(d, 'text.tgz');
      },
      error: /cannot unpack/,
    },
  ];
  it.each(bad)('refuses $name with a clear error', async ({ make, error }) => {
    await expect(
      installArtifact({ artifact: await make(dir), installDir: join(dir, 'opt') }),
    ).rejects.toThrow(error);
  });
});

describe('the install upgrader', () => {
  let dir: string;
  let server: Server;
  let base: string;
  let v2: { path: string; sha256: string };
  const requests: Array<{ url: string; headers: IncomingHttpHeaders }> = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gse-upgrader-'));
    v2 = await makePackage(dir, '1.1.0');
    server = createServer((req, res) => {
      requests.push({ url: req.url ?? '', headers: req.headers });
      readFile(v2.path).then(
        (body) => res.writeHead(200, { 'content-length': body.length }).end(body),
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  async function setUp(running: string, controllerUrl = 'ws://127.0.0.1:9/agent') {
    const installDir = await mkdtemp(join(dir, 'opt-'));
    await installArtifact({ artifact: (await makePackage(dir, running)).path, installDir });
    const reports: ItemReport[] = [];
    let restarts = 0;
    const ctx: UpgraderContext = {
      running,
      controllerUrl,
      credentials: () => ({ agentId: 'h1', credential: 'secret' }),
      report: async (item) => {
        reports.push(item);
      },
      clock: { now: () => Date.parse('2026-01-01T00:00:00.000Z') },
      logger: silentLogger,
    };
    const upgrader: Upgrader = installUpgrader({
      installDir,
      restart: () => {
        restarts++;
      },
    })(ctx);
    return { installDir, layout: installLayout(installDir), reports, upgrader, restarts: () => restarts };
  }

  it('downloads, verifies, unpacks, switches current, records switched and asks for a restart', async () => {
    const h = await setUp('1.0.0');
    const m = manifestWith({
      version: '1.1.0',
      artifact: { sha256: v2.sha256, url: `${base}/gse-agent-1.1.0.tgz` },
      healthDeadlineMs: 5000,
      attempt: 1,
    });
    const [report] = await h.upgrader.versionReports(m);
    expect(report).toMatchObject({ state: 'changed', message: 'upgrading 1.0.0 -> 1.1.0' });
    await waitFor('the restart asked for', () => h.restarts() === 1);
    expect(await linkedVersion(h.layout.current)).toBe('1.1.0');
    expect((await readUpgradeRecord(h.layout.record)).current).toMatchObject({
      from: '1.0.0',
      to: '1.1.0',
      state: 'switched',
      healthDeadlineMs: 5000,
    });
    // An absolute URL on another origin than the controller gets no credential.
    expect(requests.at(-1)?.headers.authorization).toBeUndefined();
    // Asked again while it runs, it reports progress and does not start a second upgrade.
    expect((await h.upgrader.versionReports(m))[0]?.state).toBe('changed');
    expect(h.restarts()).toBe(1);
  });

  it('sends Basic agentId:credential when the package comes from the controller', async () => {
    const h = await setUp('1.0.0', base.replace('http:', 'ws:'));
    await h.upgrader.versionReports(
      manifestWith({
        version: '1.1.0',
        artifact: { sha256: v2.sha256, url: '/api/v1/artifacts/gse-agent-1.1.0.tgz' },
        healthDeadlineMs: 5000,
        attempt: 1,
      }),
    );
    await waitFor('the restart asked for', () => h.restarts() === 1);
    expect(requests.at(-1)).toMatchObject({
      url: '/api/v1/artifacts/gse-agent-1.1.0.tgz',
      headers: { authorization: `Basic ${Buffer.from('h1:secret').toString('base64')}` },
    });
  });

  it('refuses a package whose sha256 differs: failed with both hashes, nothing switched, never retried', async () => {
    const h = await setUp('1.0.0');
    const wrong = 'd'.repeat(64);
    const m = manifestWith({
      version: '1.1.0',
      artifact: { sha256: wrong, url: `${base}/gse-agent-1.1.0.tgz` },
      healthDeadlineMs: 5000,
      attempt: 1,
    });
    await h.upgrader.versionReports(m);
    const failed = await waitFor('the failure reported', () => h.reports[0]);
    expect(failed.state).toBe('failed');
    expect(failed.message).toContain(`has sha256 ${v2.sha256}, the AgentVersion pins ${wrong}`);
    expect(await linkedVersion(h.layout.current)).toBe('1.0.0');
    expect(h.restarts()).toBe(0);
    const record = await readUpgradeRecord(h.layout.record);
    expect(record.current).toMatchObject({ state: 'failed', to: '1.1.0' });
    // The same (version, sha256, attempt) again: reported failed at once, no new download.
    const before = requests.length;
    expect((await h.upgrader.versionReports(m))[0]).toMatchObject({ state: 'failed' });
    expect(requests.length).toBe(before);
    // Its report acked: the failure is marked reported, so a restart need not re-apply for it.
    await h.upgrader.reportAcked();
    expect((await readUpgradeRecord(h.layout.record)).current?.reported).toBe(true);
  });

  it('marks a switched record healthy once the new version has a report acked', async () => {
    const h = await setUp('1.1.0');
    await writeUpgradeRecord(h.layout.record, {
      current: {
        from: '1.0.0',
        to: '1.1.0',
        sha256: v2.sha256,
        attempt: 1,
        url: '/x',
        healthDeadlineMs: 5000,
        state: 'switched',
        at: '2026-01-01T00:00:00.000Z',
      },
      failed: [],
    });
    expect(await h.upgrader.mustReapply()).toBe(true);
    expect(h.upgrader.wantsAck).toBe(true);
    const [report] = await h.upgrader.versionReports(
      manifestWith({
        version: '1.1.0',
        artifact: { sha256: v2.sha256, url: '/x' },
        healthDeadlineMs: 5000,
        attempt: 1,
      }),
    );
    expect(report).toMatchObject({ state: 'ok', message: 'running 1.1.0' });
    // Versions from long ago are removed once healthy; the one before (undo) and the launcher's stay.
    await mkdir(join(h.layout.versions, '0.9.0'), { recursive: true });
    await mkdir(join(h.layout.versions, '1.0.0'), { recursive: true });
    await h.upgrader.reportAcked();
    expect((await readUpgradeRecord(h.layout.record)).current?.state).toBe('healthy');
    expect((await readdir(h.layout.versions)).sort()).toEqual(['1.0.0', '1.1.0']);
    expect(h.upgrader.wantsAck).toBe(false);
    expect(await h.upgrader.mustReapply()).toBe(false);
  });
});
