/**
 * The controller's options: every one optional with a documented default, except the two secrets;
 * `compileControllerOptions` fills defaults, checks them, and is the only place that reads the environment.
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { DEFAULT_MAX_REVISION_BYTES, DEFAULT_MAX_SPEC_FILE_BYTES } from '../spec/limits.js';

export interface ControllerOptions {
  /** Git URL or local path of the desired-state repo. Required. */
  repo?: string;
  /** Branch to follow. Default 'main'. */
  branch?: string;
  /** Sub-path of the spec tree in the repo. Default '.'. */
  path?: string;
  /** HOST:PORT for the API, dashboard and agent endpoint. Default 127.0.0.1:7070. */
  listen?: string;
  /** Where the clone, the SQLite store and spools live. Default ./.gse-state. */
  stateDir?: string;
  /** Use Redis as the store instead of SQLite. Env GSE_REDIS_URL. */
  redisUrl?: string;
  /**
   * This replica's id among the controllers sharing `redisUrl`: unique, and stable across restarts (work
   * routed to it waits in its inbox). Env GSE_REPLICA_ID. Default `<hostname>-<listen port>`.
   */
  replicaId?: string;
  /** The leader lease (with `redisUrl`): a dead leader is replaced within it. Default 5 s. */
  leaseMs?: number;
  /** What agents enroll with. Env GSE_BOOTSTRAP_TOKEN. Required. */
  bootstrapToken?: string;
  /** An API token with the admin role. Env GSE_ADMIN_TOKEN. Required. */
  adminToken?: string;
  /** An API token with the viewer role (for dashboards). Env GSE_VIEWER_TOKEN. Optional. */
  viewerToken?: string;
  /** HMAC secret of POST /api/v1/hooks/git. Env GSE_WEBHOOK_SECRET. Optional. */
  webhookSecret?: string;
  /** Git poll interval. Default 15 s. */
  fetchIntervalMs?: number;
  /** Periodic reconcile pass. Default 5 s. */
  resyncIntervalMs?: number;
  /** Agents with a valid bootstrap token are approved at once. Default true. */
  autoApprove?: boolean;
  /** Agent connections authenticating at once; more get 503 + Retry-After. Default 256. */
  maxHandshakes?: number;
  /** Time a new agent connection has to send its hello. Default 5 s. */
  helloTimeoutMs?: number;
  /** Agent handshakes admitted per second; the excess is told when to retry. Default 2,000; 0: unpaced. */
  admissionRate?: number;
  /** Accept only commits `git verify-commit` accepts. Default false. */
  verifySignatures?: boolean;
  /** For a repo on local disk, fetch as soon as its branch ref moves. Default true. */
  watchLocal?: boolean;
  /** Agent heartbeat interval. Default 10 s. */
  heartbeatMs?: number;
  /** Keep at most this many executions and drift records, each. Default 100,000. */
  retentionMaxCount?: number;
  /** Keep executions and drift at most this long. Default 30 days. */
  retentionMaxAgeMs?: number;
  /**
   * Hosts not seen for this long leave the fleet views (hosts, status, GSE; their history stays), checked
   * every resync pass. Default off: hosts are kept until deleted.
   */
  hostRetentionMs?: number;
  /** PEM certificate (chain) file: serve the API, dashboard and agent endpoint over HTTPS/WSS. Needs tlsKey. */
  tlsCert?: string;
  /** PEM private key file of tlsCert. */
  tlsKey?: string;
  /** GPG keyring (GNUPGHOME) that --verify-signatures trusts. Default: the process's GNUPGHOME or ~/.gnupg. */
  gnupgHome?: string;
  /** SSH allowed-signers file that --verify-signatures trusts. Default: git's gpg.ssh.allowedSignersFile. */
  sshAllowedSignersFile?: string;
  /** Bearer token /metrics requires. Env GSE_METRICS_TOKEN. Default none: /metrics is public. */
  metricsToken?: string;
  /** Environment variables specs may reference as secrets (`{env: NAME}`). Env GSE_SECRET_ENV (comma-separated). Default none. */
  secretEnv?: string[];
  /** A directory whose files (directly in it) specs may reference as secrets (`{file: NAME}`). Env GSE_SECRET_DIR. Default none. */
  secretDir?: string;
  /** Largest spec file parsed. Default 1 MiB. */
  maxSpecFileBytes?: number;
  /** Largest spec tree (all files together) loaded. Default 64 MiB. */
  maxRevisionBytes?: number;
  /** A directory whose files (directly in it) agents may download at /api/v1/artifacts/. Env GSE_ARTIFACT_DIR. Default none. */
  artifactDir?: string;
  /**
   * The environment variable holding the secret that signs exec result callbacks (`gsectl exec --callback`).
   * Default none: callbacks are refused.
   */
  callbackSecretEnv?: string;
  /**
   * GSE data-route writes (add_route, add_streamto...) become commits on the followed branch, pushed to
   * `gseWriteRepo`. Default false: those calls answer that they are not served.
   */
  gseWriteBack?: boolean;
  /** Where write-back pushes (a URL or path with push rights). Default the repo the controller follows. */
  gseWriteRepo?: string;
  /** Notification deliveries queued at most (on disk, in <state-dir>/notify). Default 10,000. */
  notifyMaxQueued?: number;
}

export interface CompiledControllerOptions {
  repo: string;
  branch: string;
  path: string;
  host: string;
  port: number;
  stateDir: string;
  redisUrl?: string;
  /** With redisUrl: this replica's id and the lease (see ControllerOptions). */
  replicaId: string;
  leaseMs: number;
  bootstrapToken: string;
  adminToken: string;
  viewerToken?: string;
  webhookSecret?: string;
  fetchIntervalMs: number;
  resyncIntervalMs: number;
  autoApprove: boolean;
  maxHandshakes?: number;
  helloTimeoutMs?: number;
  admissionRate?: number;
  verifySignatures: boolean;
  watchLocal: boolean;
  heartbeatMs: number;
  retentionMaxCount: number;
  retentionMaxAgeMs: number;
  hostRetentionMs?: number;
  /** Absolute paths of the certificate and key when the controller serves TLS; undefined: plain HTTP. */
  tls?: { certFile: string; keyFile: string };
  gnupgHome?: string;
  sshAllowedSignersFile?: string;
  metricsToken?: string;
  secretEnv: string[];
  secretDir?: string;
  maxSpecFileBytes: number;
  maxRevisionBytes: number;
  /** Absolute path of the directory artifacts are served from; undefined: none are. */
  artifactDir?: string;
  /** GSE write-back is on: data-route writes are committed to the followed branch. */
  gseWriteBack: boolean;
  /** Where write-back pushes; undefined: the followed repo. */
  gseWriteRepo?: string;
  /** The exec callback secret (read from the variable --callback-secret-env names); undefined: none. */
  callbackSecret?: string;
  notifyMaxQueued?: number;
}

export class ControllerOptionsError extends Error {
  readonly code = 'invalid_options';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'ControllerOptionsError';
  }
}

export const DEFAULT_LISTEN = '127.0.0.1:7070';
export const DEFAULT_RESYNC_INTERVAL_MS = 5_000;
export const DEFAULT_RETENTION_MAX_COUNT = 100_000;
export const DEFAULT_RETENTION_MAX_AGE_MS = 30 * 24 * 3600_000;
const MIN_TOKEN_LENGTH = 16;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `A,B, C` -> [A, B, C]; empty or unset -> []. */
function splitList(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function positiveInt(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new ControllerOptionsError(field, `must be a whole number of bytes above 0, not ${value}`);
  return value;
}

/** Fills defaults, reads GSE_* from `env`, and checks everything; throws ControllerOptionsError. */
export function compileControllerOptions(
  opts: ControllerOptions,
  env: NodeJS.ProcessEnv = process.env,
): CompiledControllerOptions {
  const repo = opts.repo;
  if (!repo)
    throw new ControllerOptionsError(
      '--repo',
      'required: a Git URL or a local path of the desired-state repo',
    );
  const listen = opts.listen ?? DEFAULT_LISTEN;
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new ControllerOptionsError('--listen', `"${listen}" is not HOST:PORT`);
  const bootstrapToken = opts.bootstrapToken ?? env.GSE_BOOTSTRAP_TOKEN;
  const adminToken = opts.adminToken ?? env.GSE_ADMIN_TOKEN;
  for (const [field, value, envName] of [
    ['--bootstrap-token', bootstrapToken, 'GSE_BOOTSTRAP_TOKEN'],
    ['--admin-token', adminToken, 'GSE_ADMIN_TOKEN'],
  ] as const) {
    if (!value)
      throw new ControllerOptionsError(
        field,
        `required: pass ${field} or set ${envName} (e.g. openssl rand -hex 24)`,
      );
    if (value.length < MIN_TOKEN_LENGTH)
      throw new ControllerOptionsError(field, `must be at least ${MIN_TOKEN_LENGTH} characters`);
  }
  if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey))
    throw new ControllerOptionsError(
      opts.tlsCert ? '--tls-key' : '--tls-cert',
      'TLS needs both --tls-cert FILE and --tls-key FILE (PEM); pass both, or neither for plain HTTP',
    );
  const metricsToken = opts.metricsToken ?? env.GSE_METRICS_TOKEN;
  if (metricsToken !== undefined && metricsToken.length < MIN_TOKEN_LENGTH)
    throw new ControllerOptionsError('--metrics-token', `must be at least ${MIN_TOKEN_LENGTH} characters`);
  const secretEnv = opts.secretEnv ?? splitList(env.GSE_SECRET_ENV);
  for (const name of secretEnv) {
    if (!ENV_NAME.test(name))
      throw new ControllerOptionsError('--secret-env', `"${name}" is not an environment variable name`);
  }
  const secretDir = opts.secretDir ?? (env.GSE_SECRET_DIR || undefined);
  const maxSpecFileBytes = positiveInt(
    '--max-spec-file-bytes',
    opts.maxSpecFileBytes,
    DEFAULT_MAX_SPEC_FILE_BYTES,
  );
  const maxRevisionBytes = positiveInt(
    '--max-revision-bytes',
    opts.maxRevisionBytes,
    DEFAULT_MAX_REVISION_BYTES,
  );
  const callbackSecret = callbackSecretFrom(opts.callbackSecretEnv, env);
  const gseWriteBack = opts.gseWriteBack ?? env.GSE_WRITE_BACK === '1';
  // The write-back's commits are unsigned: with signatures required the controller would reject each one.
  if (gseWriteBack && (opts.verifySignatures ?? false))
    throw new ControllerOptionsError(
      '--gse-write-back',
      'cannot be used with --verify-signatures: the commits it makes are not signed, so the controller would reject them',
    );
  const artifactDir = existingDir('--artifact-dir', opts.artifactDir ?? (env.GSE_ARTIFACT_DIR || undefined));
  return {
    ...(artifactDir === undefined ? {} : { artifactDir }),
    ...(callbackSecret === undefined ? {} : { callbackSecret }),
    notifyMaxQueued: optionalPositiveInt('notifyMaxQueued', opts.notifyMaxQueued),
    gseWriteBack,
    ...(opts.gseWriteRepo === undefined && !env.GSE_WRITE_REPO
      ? {}
      : { gseWriteRepo: gseWriteRepoOf(opts.gseWriteRepo ?? (env.GSE_WRITE_REPO as string)) }),
    secretEnv,
    secretDir: secretDir === undefined ? undefined : resolve(secretDir),
    maxSpecFileBytes,
    maxRevisionBytes,
    repo: /^[a-z]+:\/\//.test(repo) || repo.includes('@') ? repo : resolve(repo),
    branch: opts.branch ?? 'main',
    path: opts.path ?? '.',
    host: m[1] || '127.0.0.1',
    port: Number(m[2]),
    stateDir: resolve(opts.stateDir ?? '.gse-state'),
    redisUrl: opts.redisUrl ?? env.GSE_REDIS_URL,
    replicaId: replicaIdOf(opts.replicaId ?? env.GSE_REPLICA_ID, m[2] as string),
    leaseMs: leaseOf(opts.leaseMs),
    bootstrapToken: bootstrapToken as string,
    adminToken: adminToken as string,
    viewerToken: opts.viewerToken ?? env.GSE_VIEWER_TOKEN,
    webhookSecret: opts.webhookSecret ?? env.GSE_WEBHOOK_SECRET,
    fetchIntervalMs: opts.fetchIntervalMs ?? 15_000,
    resyncIntervalMs: opts.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS,
    autoApprove: opts.autoApprove ?? true,
    // Defaulted by the hub (256, 5 s); checked here so the error names the flag.
    maxHandshakes: optionalPositiveInt('--max-handshakes', opts.maxHandshakes),
    helloTimeoutMs: optionalPositiveInt('helloTimeoutMs', opts.helloTimeoutMs),
    // Defaulted by the hub (DEFAULT_ADMISSION_RATE_PER_SECOND); checked here so the error names the flag.
    admissionRate: optionalNonNegativeInt('--admission-rate', opts.admissionRate),
    verifySignatures: opts.verifySignatures ?? false,
    watchLocal: opts.watchLocal ?? true,
    heartbeatMs: opts.heartbeatMs ?? 10_000,
    retentionMaxCount: opts.retentionMaxCount ?? DEFAULT_RETENTION_MAX_COUNT,
    retentionMaxAgeMs: opts.retentionMaxAgeMs ?? DEFAULT_RETENTION_MAX_AGE_MS,
    hostRetentionMs: optionalPositiveInt('--host-retention', opts.hostRetentionMs),
    ...(opts.tlsCert && opts.tlsKey
      ? { tls: { certFile: resolve(opts.tlsCert), keyFile: resolve(opts.tlsKey) } }
      : {}),
    gnupgHome: opts.gnupgHome,
    sshAllowedSignersFile: opts.sshAllowedSignersFile,
    metricsToken,
  };
}

/** A write-back remote as git takes it: URLs and scp-like `git@host:x` as given, local paths absolute. */
function gseWriteRepoOf(repo: string): string {
  if (repo.trim() === '' || repo.startsWith('-'))
    throw new ControllerOptionsError('--gse-write-repo', `"${repo}" is not a repo URL or path`);
  return /^[a-z]+:\/\//.test(repo) || repo.includes('@') ? repo : resolve(repo);
}

/** The smallest lease: renewals every third of it must fit several Redis round trips. */
export const MIN_LEASE_MS = 300;
export const DEFAULT_LEASE_MS = 5_000;
const REPLICA_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The replica id: given (checked), or `<hostname>-<port>` (a random suffix for port 0). */
function replicaIdOf(given: string | undefined, port: string): string {
  if (given === undefined || given === '') {
    // Port 0 (any free port) says nothing stable: a random suffix keeps such replicas apart.
    const suffix = port === '0' ? randomBytes(3).toString('hex') : port;
    return `${hostname().replace(/[^A-Za-z0-9._-]/g, '-')}-${suffix}`;
  }
  if (!REPLICA_ID.test(given))
    throw new ControllerOptionsError(
      '--replica-id',
      `"${given}" must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. ctl-a)`,
    );
  return given;
}

/** The lease in ms (default 5 s), at least MIN_LEASE_MS. */
function leaseOf(ms: number | undefined): number {
  if (ms === undefined) return DEFAULT_LEASE_MS;
  if (!Number.isSafeInteger(ms) || ms < MIN_LEASE_MS)
    throw new ControllerOptionsError('--lease', `must be at least ${MIN_LEASE_MS}ms (e.g. 5s), got ${ms}ms`);
  return ms;
}

/** The callback secret the variable `name` holds; undefined without a name; throws when unset or short. */
function callbackSecretFrom(name: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (name === undefined) return undefined;
  if (!ENV_NAME.test(name))
    throw new ControllerOptionsError(
      '--callback-secret-env',
      `"${name}" is not an environment variable name`,
    );
  const value = env[name]?.trim();
  if (!value)
    throw new ControllerOptionsError(
      '--callback-secret-env',
      `${name} is not set; export ${name}=<secret> (e.g. openssl rand -hex 32) before gsectl serve`,
    );
  if (value.length < MIN_TOKEN_LENGTH)
    throw new ControllerOptionsError(
      '--callback-secret-env',
      `${name} must hold at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 32)`,
    );
  return value;
}

/** `value` when it is a positive integer, undefined when absent; throws ControllerOptionsError otherwise. */
function optionalPositiveInt(field: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 1)
    throw new ControllerOptionsError(field, `must be a positive integer, got ${value}`);
  return value;
}

/** `value` when it is a whole number >= 0, undefined when absent; throws ControllerOptionsError otherwise. */
function optionalNonNegativeInt(field: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0)
    throw new ControllerOptionsError(field, `must be a whole number >= 0 (0 turns pacing off), got ${value}`);
  return value;
}

/** The absolute path of `dir` when it is an existing directory, undefined when absent; throws otherwise. */
function existingDir(field: string, dir: string | undefined): string | undefined {
  if (dir === undefined) return undefined;
  const abs = resolve(dir);
  const st = statSync(abs, { throwIfNoEntry: false });
  if (st === undefined)
    throw new ControllerOptionsError(
      field,
      `${abs} does not exist; create it (mkdir -p ${abs}) or pass another directory`,
    );
  if (!st.isDirectory())
    throw new ControllerOptionsError(field, `${abs} is not a directory; pass a directory`);
  return abs;
}
