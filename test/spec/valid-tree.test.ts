import { afterAll, describe, expect, it } from 'vitest';
import { loadRevision, loadRevisionFromDir } from '../../src/spec/load.js';
import type { LoadResult, Revision } from '../../src/spec/types.js';
import {
  CONFIG_FILE,
  memTree,
  PROCESS_WATCH,
  ROUTE,
  STREAM_TARGET,
  type TempTree,
  tempTree,
  yaml,
} from './helpers.js';

const trees: TempTree[] = [];
afterAll(async () => {
  await Promise.all(trees.map((t) => t.cleanup()));
});

async function load(files: Record<string, string | Buffer>): Promise<Revision> {
  const tree = await tempTree(files);
  trees.push(tree);
  return revisionOf(await loadRevisionFromDir(tree.dir));
}

function revisionOf(result: LoadResult): Revision {
  if (!result.ok)
    throw new Error(
      result.errors.map((e) => `${e.file}:${e.line}:${e.col}: ${e.path}: ${e.message}`).join('\n'),
    );
  return result.revision;
}

const MINIMAL = {
  'target.yaml': STREAM_TARGET,
  'route.yaml': ROUTE,
  'agent.yaml': yaml(
    'apiVersion: gse/v1',
    'kind: AgentVersion',
    'metadata: { name: agent }',
    'spec:',
    '  version: 1.4.2',
    '  hosts: { names: ["*"] }',
  ),
  'config.yaml': CONFIG_FILE,
  'remediation.yaml': yaml(
    'apiVersion: gse/v1',
    'kind: Remediation',
    'metadata: { name: restart }',
    'spec:',
    '  on: { event: process.down }',
    '  hosts: { matchLabels: { role: web } }',
    '  run: { script: systemctl restart nginx }',
  ),
  'watch.yaml': PROCESS_WATCH,
  'hold.yaml': yaml(
    'apiVersion: gse/v1',
    'kind: ProcessOverride',
    'metadata: { name: nginx }',
    'spec:',
    '  watch: nginx',
    '  hosts: { web-1: { ensure: observed, op: stop } }',
  ),
  'check.yaml': yaml(
    'apiVersion: gse/v1',
    'kind: HostCheck',
    'metadata: { name: health }',
    'spec:',
    '  hosts: { names: ["*"] }',
    '  command: { run: "curl -fsS http://127.0.0.1/health" }',
  ),
  'group.yaml': yaml(
    'apiVersion: gse/v1',
    'kind: HostGroup',
    'metadata: { name: web }',
    'spec:',
    '  match: { names: ["web-*"] }',
    '  labels: { role: web }',
  ),
};

describe('loadRevisionFromDir (valid trees)', () => {
  it('fills in every default when optional fields are omitted', async () => {
    const rev = await load(MINIMAL);
    const spec = (kind: string) => rev.resources.find((r) => r.kind === kind)?.spec;
    expect(spec('StreamTarget')).toEqual({
      redis: { url: 'redis://127.0.0.1:6379/0', key: 'gse:events', mode: 'stream' },
    });
    expect(spec('Route')).toEqual({
      channel: 'events',
      targets: [{ name: 'redis-events' }],
      batch: { maxRecords: 500, maxDelayMs: 1000 },
      format: 'json',
    });
    expect(spec('AgentVersion')).toEqual({
      version: '1.4.2',
      hosts: { names: ['*'] },
      rollout: {
        batchSize: '25%',
        maxUnavailable: 1,
        maxFailures: 0,
        pauseBetweenMs: 0,
        healthDeadlineMs: 30_000,
        mode: 'auto',
      },
    });
    expect(spec('ConfigFile')).toEqual({
      hosts: { names: ['*'] },
      path: '/etc/motd',
      content: 'hello',
      template: false,
      mode: 0o644,
      syncPolicy: { selfHeal: true, prune: false },
    });
    expect(spec('Remediation')).toEqual({
      on: { event: 'process.down' },
      hosts: { matchLabels: { role: 'web' } },
      run: { run: 'systemctl restart nginx', script: 'systemctl restart nginx', timeoutMs: 60_000 },
      cooldownMs: 300_000,
      maxConcurrent: 1,
      maxPerHour: 6,
      dryRun: false,
    });
    expect(spec('ProcessWatch')).toEqual({
      hosts: { names: ['web-1'] },
      process: { name: 'nginx' },
      ensure: 'observed',
      probeIntervalMs: 10_000,
    });
    expect(spec('HostGroup')).toEqual({ match: { names: ['web-*'] }, labels: { role: 'web' } });
    expect(spec('HostCheck')).toEqual({
      hosts: { names: ['*'] },
      intervalMs: 30_000,
      command: { run: 'curl -fsS http://127.0.0.1/health', failuresInARow: 3, timeoutMs: 10_000 },
    });
  });

  it('fills in a HostCheck corefiles pattern and keeps disk and readonly probes as written', async () => {
    const check = (name: string, probe: string) =>
      yaml(
        'apiVersion: gse/v1',
        'kind: HostCheck',
        `metadata: { name: ${name} }`,
        'spec:',
        '  hosts: { names: ["*"] }',
        '  interval: 5s',
        `  ${probe}`,
      );
    const rev = await load({
      'a.yaml': [
        check('cores', 'corefiles: { dir: /var/crash }'),
        check('disk', 'disk: { mount: /var, usedPercentOver: 92.5 }'),
        check('ro', 'readonly: { mount: /data }'),
      ].join('---\n'),
    });
    expect(rev.byKind.HostCheck.map((r) => r.spec)).toEqual([
      { hosts: { names: ['*'] }, intervalMs: 5000, corefiles: { dir: '/var/crash', pattern: 'core*' } },
      { hosts: { names: ['*'] }, intervalMs: 5000, disk: { mount: '/var', usedPercentOver: 92.5 } },
      { hosts: { names: ['*'] }, intervalMs: 5000, readonly: { mount: '/data' } },
    ]);
  });

  it('turns durations into milliseconds and modes into numbers when they are given', async () => {
    const rev = await load({
      'a.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: ConfigFile',
        'metadata: { name: app, labels: { team: web }, annotations: { owner: ops } }',
        'spec:',
        '  hosts: { names: ["*"] }',
        '  path: /etc/app.conf',
        '  content: "x"',
        '  mode: "755"',
        '  owner: root:root',
        '  template: true',
        '  onChange: { run: reload, timeout: 2m, interpreter: /bin/bash, env: { A: b }, cwd: /tmp, runAs: app }',
        '  syncPolicy: { prune: true }',
        '---',
        'apiVersion: gse/v1',
        'kind: Remediation',
        'metadata: { name: r }',
        'spec:',
        '  on: { event: agent.lost, match: { cloud: 2, host: web-1 } }',
        '  hosts: { names: ["*"] }',
        '  run: { run: notify, timeout: 500ms }',
        '  runner: { webhook: "https://ops.example.com/hook" }',
        '  cooldown: 1h',
        '  dryRun: true',
      ),
    });
    const [config, remediation] = rev.resources;
    expect(config?.metadata).toEqual({ name: 'app', labels: { team: 'web' }, annotations: { owner: 'ops' } });
    expect(config?.spec).toMatchObject({
      mode: 0o755,
      owner: 'root:root',
      template: true,
      onChange: {
        run: 'reload',
        timeoutMs: 120_000,
        interpreter: '/bin/bash',
        env: { A: 'b' },
        cwd: '/tmp',
        runAs: 'app',
      },
      syncPolicy: { selfHeal: true, prune: true },
    });
    expect(remediation?.spec).toMatchObject({
      on: { event: 'agent.lost', match: { cloud: 2, host: 'web-1' } },
      run: { run: 'notify', script: 'notify', timeoutMs: 500 },
      runner: { webhook: 'https://ops.example.com/hook' },
      cooldownMs: 3_600_000,
      dryRun: true,
    });
  });

  it('accepts a custom event type with any match keys, and a declared type matched by its fields', async () => {
    const rev = await load({
      'r.yaml': yaml(
        'apiVersion: gse/v1',
        'kind: Remediation',
        'metadata: { name: custom }',
        'spec:',
        '  on: { event: custom.backup_failed, match: { job: nightly, anything: 3 } }',
        '  hosts: { names: ["*"] }',
        '  run: { script: echo }',
        '---',
        'apiVersion: gse/v1',
        'kind: Remediation',
        'metadata: { name: nginx }',
        'spec:',
        '  on: { event: process.down, match: { process: nginx, ensure: running, restarts: 0 } }',
        '  hosts: { names: ["*"] }',
        '  run: { script: echo }',
      ),
    });
    expect(rev.resources.map((r) => (r.kind === 'Remediation' ? r.spec.on : undefined))).toEqual([
      { event: 'custom.backup_failed', match: { job: 'nightly', anything: 3 } },
      { event: 'process.down', match: { process: 'nginx', ensure: 'running', restarts: 0 } },
    ]);
  });

  it('loads every document of a multi-document file when some are empty', async () => {
    const rev = await load({
      'all.yaml': `# leading comment\n---\n# only a comment\n---\n${STREAM_TARGET}---\n\n# a note\n${ROUTE}---\n`,
    });
    expect(rev.resources.map((r) => [r.kind, r.metadata.name, r.pos])).toEqual([
      ['StreamTarget', 'redis-events', { file: 'all.yaml', line: 5, col: 1 }],
      ['Route', 'events', { file: 'all.yaml', line: 16, col: 1 }],
    ]);
  });

  it('ignores YAML under files/ and hidden directories when they are not specs', async () => {
    const rev = await load({
      'a.yaml': CONFIG_FILE,
      'files/broken.yaml': 'not: [yaml',
      'apps/files/other.yml': 'kind: Nope',
      '.github/workflows/ci.yml': 'on: push',
      '.pre-commit-config.yaml': 'repos: []',
      'README.md': '# fleet',
    });
    expect(rev.resources.map((r) => r.metadata.name)).toEqual(['motd']);
  });

  it('keeps the bytes of every ConfigFile source when sources are binary or spelt with ./', async () => {
    const binary = Buffer.from([0x00, 0xff, 0x10, 0x80]);
    const rev = await load({
      'a.yaml': CONFIG_FILE.replace('content: hello', 'source: ./files/blob.bin'),
      'b.yaml': CONFIG_FILE.replace('name: motd', 'name: app').replace(
        'content: hello',
        'source: files/app.yaml',
      ),
      'files/blob.bin': binary,
      'files/app.yaml': 'any: yaml\n',
      'files/unused.txt': 'not referenced',
    });
    expect(rev.byKind.ConfigFile.map((c) => c.spec.source)).toEqual(['files/blob.bin', 'files/app.yaml']);
    expect([...rev.files.keys()].sort()).toEqual(['files/app.yaml', 'files/blob.bin']);
    expect(rev.files.get('files/blob.bin')?.equals(binary)).toBe(true);
  });

  it('indexes resources by kind in file order', async () => {
    const rev = await load(MINIMAL);
    expect(rev.resources.map((r) => r.pos.file)).toEqual([
      'agent.yaml',
      'check.yaml',
      'config.yaml',
      'group.yaml',
      'hold.yaml',
      'remediation.yaml',
      'route.yaml',
      'target.yaml',
      'watch.yaml',
    ]);
    expect(Object.fromEntries(Object.entries(rev.byKind).map(([k, v]) => [k, v.length]))).toEqual({
      StreamTarget: 1,
      Route: 1,
      AgentVersion: 1,
      ConfigFile: 1,
      Remediation: 1,
      ProcessWatch: 1,
      HostGroup: 1,
      Notification: 0,
      HostCheck: 1,
      ProcessOverride: 1,
    });
  });

  it('accepts one name in several kinds', async () => {
    const rev = await load({
      'a.yaml': `${CONFIG_FILE}---\n${PROCESS_WATCH.replace('name: nginx }', 'name: motd }')}`,
    });
    expect(rev.resources.map((r) => `${r.kind}/${r.metadata.name}`)).toEqual([
      'ConfigFile/motd',
      'ProcessWatch/motd',
    ]);
  });

  it('follows YAML anchors and aliases when a selector is shared', async () => {
    const rev = await load({
      'a.yaml': `${CONFIG_FILE.replace('hosts: { names: ["*"] }', 'hosts: &web { matchLabels: { role: web } }')}---\n${PROCESS_WATCH}`,
    });
    expect(rev.byKind.ConfigFile[0]?.spec.hosts).toEqual({ matchLabels: { role: 'web' } });
  });

  it('loads an empty tree as an empty revision', async () => {
    const rev = await load({ 'README.md': 'nothing here' });
    expect(rev.resources).toEqual([]);
    expect(rev.files.size).toBe(0);
  });

  it('reports the directory when it cannot be read', async () => {
    const result = await loadRevisionFromDir('/nonexistent/gse-spec-tree');
    expect(result).toEqual({
      ok: false,
      errors: [
        {
          file: '/nonexistent/gse-spec-tree',
          line: 1,
          col: 1,
          path: '',
          message: 'cannot read the spec tree: ENOENT',
        },
      ],
    });
  });
});

describe('loadRevision', () => {
  it('derives the revision id from every path and content when no id is given', () => {
    const files = { 'a.yaml': CONFIG_FILE, 'notes.txt': 'v1' };
    const id = revisionOf(loadRevision(memTree(files))).id;
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(revisionOf(loadRevision(memTree({ 'notes.txt': 'v1', 'a.yaml': CONFIG_FILE }))).id).toBe(id);
    expect(revisionOf(loadRevision(memTree({ ...files, 'notes.txt': 'v2' }))).id).not.toBe(id);
    expect(revisionOf(loadRevision(memTree({ ...files, 'b/notes.txt': 'v1' }))).id).not.toBe(id);
  });

  it('uses the given id when one is given', () => {
    expect(revisionOf(loadRevision(memTree({ 'a.yaml': CONFIG_FILE }), { id: 'abc123' })).id).toBe('abc123');
  });

  it('sorts errors by file, line and column when several files fail', () => {
    const result = loadRevision(
      memTree({
        'z.yaml': CONFIG_FILE.replace('path: /etc/motd', 'path: x'),
        'a.yaml': `${CONFIG_FILE.replace('name: motd', 'name: m2')}  bogus: 1\n  mode: 1\n`,
      }),
    );
    expect(result.ok ? [] : result.errors.map((e) => `${e.file}:${e.line}:${e.col}`)).toEqual([
      'a.yaml:9:3',
      'a.yaml:10:9',
      'z.yaml:7:9',
    ]);
  });
});
