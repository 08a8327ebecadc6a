/** One valid message of every type (and every manifest item kind), typed against `messages.ts`. */
import type { HostManifest } from '../../src/protocol/manifest.js';
import type {
  AckMessage,
  DataMessage,
  DryRunMessage,
  ErrorMessage,
  EventMessage,
  ExecMessage,
  ExecResultMessage,
  HeartbeatMessage,
  HelloMessage,
  ManifestDeltaMessage,
  ManifestFullMessage,
  ReportMessage,
  WelcomeMessage,
} from '../../src/protocol/messages.js';

export const hello = {
  v: 1,
  type: 'hello',
  agentId: 'sim-1',
  bootstrapToken: 'bootstrap-secret',
  facts: {
    name: 'sim-1',
    ips: ['10.0.0.1'],
    cloudId: 0,
    os: 'linux',
    agentVersion: '0.1.0',
    labels: { role: 'web' },
    facts: { cpus: 4, virtual: true, arch: 'x64' },
  },
  manifestHash: '',
  spoolHighWater: 0,
} satisfies HelloMessage;

export const welcome = {
  v: 1,
  type: 'welcome',
  agentId: 'sim-1',
  credential: 'c2VjcmV0',
  heartbeatMs: 10_000,
  window: 64,
} satisfies WelcomeMessage;

export const hostManifest = {
  hostId: 'sim-1',
  revision: 'abc123',
  labels: { role: 'web' },
  items: [
    {
      kind: 'AgentVersion',
      name: 'agents',
      hash: 'h0',
      version: '0.2.0',
      artifact: { url: '/api/v1/artifacts/gse-agent-0.2.0.tgz', sha256: 'ff' },
      healthDeadlineMs: 30_000,
      attempt: 1,
    },
    {
      kind: 'ConfigFile',
      name: 'nginx',
      hash: 'h1',
      path: '/etc/nginx/conf.d/app.conf',
      content: 'server {}',
      encoding: 'utf8',
      contentHash: 'aa',
      mode: 0o644,
      owner: 'root:root',
      onChange: { run: 'nginx -t', timeoutMs: 30_000 },
      selfHeal: true,
      prune: true,
    },
    {
      kind: 'ProcessWatch',
      name: 'nginx',
      hash: 'h2',
      process: { name: 'nginx' },
      ensure: 'running',
      start: 'systemctl start nginx',
      probeIntervalMs: 5_000,
    },
    {
      kind: 'Remediation',
      name: 'restart-nginx',
      hash: 'h3',
      on: { event: 'process.down', match: { process: 'nginx' } },
      run: { run: 'systemctl restart nginx', script: 'systemctl restart nginx', timeoutMs: 60_000 },
      cooldownMs: 300_000,
      maxConcurrent: 1,
      maxPerHour: 6,
      dryRun: false,
    },
  ],
  hash: 'mh',
} satisfies HostManifest;

export const manifestFull = {
  v: 1,
  type: 'manifest',
  id: 'm-1',
  mode: 'full',
  manifest: hostManifest,
} satisfies ManifestFullMessage;

export const manifestDelta = {
  v: 1,
  type: 'manifest',
  id: 'm-2',
  mode: 'delta',
  baseHash: 'mh',
  hash: 'mh2',
  revision: 'def456',
  labels: {},
  upsert: [hostManifest.items[1]!],
  remove: ['ProcessWatch/nginx'],
} satisfies ManifestDeltaMessage;

export const report = {
  v: 1,
  type: 'report',
  id: 'r-1',
  manifestHash: 'mh',
  revision: 'abc123',
  items: [
    {
      kind: 'ConfigFile',
      name: 'nginx',
      hash: 'h1',
      state: 'drifted',
      observedHash: 'bb',
      drift: { detectedAt: '2024-01-01T00:00:00Z', healed: true, detail: 'content changed' },
    },
    { kind: 'ProcessWatch', name: 'nginx', hash: 'h2', state: 'ok', process: { running: true, pids: [42] } },
  ],
  pruned: ['ConfigFile/old'],
} satisfies ReportMessage;

/** A dry run's answer: what an apply would change, with what is on disk now. */
export const dryRunReport = {
  v: 1,
  type: 'report',
  id: 'r-2',
  manifestHash: 'mh',
  revision: 'abc123',
  dryRunOf: 'd-1',
  items: [
    {
      kind: 'ConfigFile',
      name: 'nginx',
      hash: 'h1',
      state: 'changed',
      observedHash: 'bb',
      message: 'would change content, mode 0600 -> 0644',
      observed: { exists: true, size: 6, mode: 0o600, content: 'hello\n' },
    },
    {
      kind: 'ConfigFile',
      name: 'key',
      hash: 'h3',
      state: 'changed',
      observed: { exists: true, size: 32, mode: 0o600, contentOmitted: 'private' },
    },
  ],
} satisfies ReportMessage;

export const dryRun = { v: 1, type: 'dryRun', id: 'd-1', manifest: hostManifest } satisfies DryRunMessage;

export const exec = {
  v: 1,
  type: 'exec',
  id: 'x-1',
  taskId: 't-1',
  script: 'uptime',
  timeoutMs: 10_000,
  env: { LANG: 'C' },
  reason: 'adhoc',
} satisfies ExecMessage;

export const execResult = {
  v: 1,
  type: 'execResult',
  id: 'xr-1',
  taskId: 't-1',
  reason: 'adhoc',
  exitCode: null,
  signal: 'SIGKILL',
  stdoutTail: '',
  stderrTail: 'killed',
  startedAt: '2024-01-01T00:00:00Z',
  durationMs: 10_001,
  timedOut: true,
  killed: true,
} satisfies ExecResultMessage;

export const event = {
  v: 1,
  type: 'event',
  id: 'e-1',
  event: { type: 'process.down', time: '2024-01-01T00:00:00Z', resource: 'ProcessWatch/nginx', fields: {} },
} satisfies EventMessage;

export const data = {
  v: 1,
  type: 'data',
  id: 'd-1',
  records: [
    {
      rid: 'sim-1:1',
      channel: 'metrics',
      time: '2024-01-01T00:00:00Z',
      host: { id: 'sim-1', name: 'sim-1', ip: '10.0.0.1', cloudId: 0 },
      fields: { cpu: 0.5, nested: { a: [1, 2] } },
    },
  ],
} satisfies DataMessage;

export const ack = { v: 1, type: 'ack', ids: ['r-1', 'd-1'] } satisfies AckMessage;

export const heartbeat = { v: 1, type: 'heartbeat', time: '2024-01-01T00:00:00Z' } satisfies HeartbeatMessage;

export const error = {
  v: 1,
  type: 'error',
  code: 'bad_frame',
  message: 'nope',
  ref: 'r-1',
} satisfies ErrorMessage;
