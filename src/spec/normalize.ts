/**
 * Schema-valid YAML data -> typed resources: defaults filled in, durations as `...Ms`, modes as numbers.
 * Input must have passed its kind's schema; the Raw* types below describe that schema-valid shape.
 */
import { posix } from 'node:path';
import { DEFAULTS, parseDurationMs, parseMode } from './defaults.js';
import { NOTIFICATION_OUTCOMES } from './notification.js';
import type {
  AgentVersionSpec,
  ConfigFileSpec,
  HostCheckSpec,
  HostGroupSpec,
  Kind,
  Metadata,
  NotificationSpec,
  ProcessOverrideSpec,
  ProcessWatchSpec,
  RemediationSpec,
  Resource,
  RouteSpec,
  RunSpec,
  SourcePos,
  StreamTargetSpec,
} from './types.js';

interface RawRunSpec {
  run?: string;
  script?: string;
  interpreter?: string;
  timeout?: string;
  env?: Record<string, string>;
  cwd?: string;
  runAs?: string;
}

type RawStreamTarget = Omit<StreamTargetSpec, 'redis'> & {
  redis?: Omit<NonNullable<StreamTargetSpec['redis']>, 'mode'> & { mode?: 'stream' | 'list' | 'pubsub' };
};
type RawRoute = Omit<RouteSpec, 'batch' | 'format'> & {
  batch?: { maxRecords?: number; maxDelay?: string };
  format?: RouteSpec['format'];
};
type RawAgentVersion = Omit<AgentVersionSpec, 'rollout'> & {
  rollout?: Partial<Omit<AgentVersionSpec['rollout'], 'pauseBetweenMs' | 'healthDeadlineMs'>> & {
    pauseBetween?: string;
    healthDeadline?: string;
  };
};
type RawConfigFile = Omit<ConfigFileSpec, 'template' | 'mode' | 'onChange' | 'syncPolicy'> & {
  template?: boolean;
  mode?: string;
  onChange?: RawRunSpec;
  syncPolicy?: { selfHeal?: boolean; prune?: boolean };
};
type RawRemediation = Omit<
  RemediationSpec,
  'on' | 'run' | 'cooldownMs' | 'maxConcurrent' | 'maxPerHour' | 'dryRun' | 'graceMs'
> & {
  on: RemediationSpec['on'] & { grace?: string };
  run: RawRunSpec;
  cooldown?: string;
  maxConcurrent?: number;
  maxPerHour?: number;
  dryRun?: boolean;
};
type RawProcessWatch = Omit<ProcessWatchSpec, 'ensure' | 'probeIntervalMs'> & {
  ensure?: ProcessWatchSpec['ensure'];
  probeInterval?: string;
};

interface RawHostCheck {
  hosts: HostCheckSpec['hosts'];
  interval?: string;
  disk?: NonNullable<HostCheckSpec['disk']>;
  readonly?: NonNullable<HostCheckSpec['readonly']>;
  corefiles?: { dir: string; pattern?: string };
  command?: Omit<NonNullable<HostCheckSpec['command']>, 'failuresInARow' | 'timeoutMs'> & {
    failuresInARow?: number;
    timeout?: string;
  };
}

/** A document that passed its kind's schema. */
export interface RawDocument {
  apiVersion: 'gse/v1';
  kind: Kind;
  metadata: Metadata;
  spec: unknown;
}

function normalizeRunSpec(raw: RawRunSpec): RunSpec {
  return {
    run: raw.run ?? raw.script ?? '',
    ...(raw.interpreter !== undefined && { interpreter: raw.interpreter }),
    timeoutMs: parseDurationMs(raw.timeout ?? DEFAULTS.execTimeout),
    ...(raw.env !== undefined && { env: raw.env }),
    ...(raw.cwd !== undefined && { cwd: raw.cwd }),
    ...(raw.runAs !== undefined && { runAs: raw.runAs }),
  };
}

/** A repo-relative posix path without `./` or `a/../`; may still escape the repo (the cross-ref pass checks). */
export function normalizeRepoPath(path: string): string {
  return posix.normalize(path.replace(/\\/g, '/')).replace(/^\.\//, '');
}

function streamTarget(raw: RawStreamTarget): StreamTargetSpec {
  const { redis, ...rest } = raw;
  return redis ? { ...rest, redis: { ...redis, mode: redis.mode ?? DEFAULTS.redisMode } } : rest;
}

function route(raw: RawRoute): RouteSpec {
  const { batch, format, ...rest } = raw;
  return {
    ...rest,
    batch: {
      maxRecords: batch?.maxRecords ?? DEFAULTS.routeBatchMaxRecords,
      maxDelayMs: parseDurationMs(batch?.maxDelay ?? DEFAULTS.routeBatchMaxDelay),
    },
    format: format ?? DEFAULTS.routeFormat,
  };
}

function agentVersion(raw: RawAgentVersion): AgentVersionSpec {
  const r = raw.rollout ?? {};
  return {
    ...raw,
    rollout: {
      batchSize: r.batchSize ?? DEFAULTS.rolloutBatchSize,
      maxUnavailable: r.maxUnavailable ?? DEFAULTS.rolloutMaxUnavailable,
      maxFailures: r.maxFailures ?? DEFAULTS.rolloutMaxFailures,
      pauseBetweenMs: parseDurationMs(r.pauseBetween ?? DEFAULTS.rolloutPauseBetween),
      healthDeadlineMs: parseDurationMs(r.healthDeadline ?? DEFAULTS.rolloutHealthDeadline),
      mode: r.mode ?? DEFAULTS.rolloutMode,
    },
  };
}

function configFile(raw: RawConfigFile): ConfigFileSpec {
  const { onChange, syncPolicy, source, ...rest } = raw;
  return {
    ...rest,
    ...(source !== undefined && { source: normalizeRepoPath(source) }),
    template: raw.template ?? DEFAULTS.configTemplate,
    mode: parseMode(raw.mode ?? DEFAULTS.configMode),
    ...(onChange !== undefined && { onChange: normalizeRunSpec(onChange) }),
    syncPolicy: {
      selfHeal: syncPolicy?.selfHeal ?? DEFAULTS.syncSelfHeal,
      prune: syncPolicy?.prune ?? DEFAULTS.syncPrune,
    },
  };
}

function remediation(raw: RawRemediation): RemediationSpec {
  const { run, cooldown, on: rawOn, ...rest } = raw;
  const { grace, ...on } = rawOn;
  const runSpec = normalizeRunSpec(run);
  return {
    ...rest,
    on,
    ...(grace === undefined ? {} : { graceMs: parseDurationMs(grace) }),
    run: { ...runSpec, script: runSpec.run },
    cooldownMs: parseDurationMs(cooldown ?? DEFAULTS.remediationCooldown),
    maxConcurrent: raw.maxConcurrent ?? DEFAULTS.remediationMaxConcurrent,
    maxPerHour: raw.maxPerHour ?? DEFAULTS.remediationMaxPerHour,
    dryRun: raw.dryRun ?? DEFAULTS.remediationDryRun,
  };
}

function processWatch(raw: RawProcessWatch): ProcessWatchSpec {
  const { probeInterval, ...rest } = raw;
  return {
    ...rest,
    ensure: raw.ensure ?? DEFAULTS.processEnsure,
    probeIntervalMs: parseDurationMs(probeInterval ?? DEFAULTS.processProbeInterval),
  };
}

function notification(raw: NotificationSpec): NotificationSpec {
  // Listed once each, in the vocabulary's order, whatever the YAML repeats.
  return { ...raw, on: NOTIFICATION_OUTCOMES.filter((o) => raw.on.includes(o)) };
}

function checkCommand(raw: NonNullable<RawHostCheck['command']>): NonNullable<HostCheckSpec['command']> {
  const { timeout, failuresInARow, ...rest } = raw;
  return {
    ...rest,
    failuresInARow: failuresInARow ?? DEFAULTS.checkFailuresInARow,
    timeoutMs: parseDurationMs(timeout ?? DEFAULTS.checkCommandTimeout),
  };
}

function hostCheck(raw: RawHostCheck): HostCheckSpec {
  const { interval, corefiles, command, ...rest } = raw;
  return {
    ...rest,
    intervalMs: parseDurationMs(interval ?? DEFAULTS.checkInterval),
    ...(corefiles !== undefined && {
      corefiles: { dir: corefiles.dir, pattern: corefiles.pattern ?? DEFAULTS.checkCorePattern },
    }),
    ...(command !== undefined && { command: checkCommand(command) }),
  };
}

function metadata(raw: Metadata): Metadata {
  return {
    name: raw.name,
    ...(raw.labels !== undefined && { labels: raw.labels }),
    ...(raw.annotations !== undefined && { annotations: raw.annotations }),
  };
}

/** The typed resource of a schema-valid document. */
export function normalizeResource(doc: RawDocument, pos: SourcePos): Resource {
  const { apiVersion, spec } = doc;
  const meta = metadata(doc.metadata);
  switch (doc.kind) {
    case 'StreamTarget':
      return {
        apiVersion,
        kind: 'StreamTarget',
        metadata: meta,
        spec: streamTarget(spec as RawStreamTarget),
        pos,
      };
    case 'Route':
      return { apiVersion, kind: 'Route', metadata: meta, spec: route(spec as RawRoute), pos };
    case 'AgentVersion':
      return {
        apiVersion,
        kind: 'AgentVersion',
        metadata: meta,
        spec: agentVersion(spec as RawAgentVersion),
        pos,
      };
    case 'ConfigFile':
      return { apiVersion, kind: 'ConfigFile', metadata: meta, spec: configFile(spec as RawConfigFile), pos };
    case 'Remediation':
      return {
        apiVersion,
        kind: 'Remediation',
        metadata: meta,
        spec: remediation(spec as RawRemediation),
        pos,
      };
    case 'ProcessWatch':
      return {
        apiVersion,
        kind: 'ProcessWatch',
        metadata: meta,
        spec: processWatch(spec as RawProcessWatch),
        pos,
      };
    case 'HostGroup':
      return { apiVersion, kind: 'HostGroup', metadata: meta, spec: spec as HostGroupSpec, pos };
    case 'Notification':
      return {
        apiVersion,
        kind: 'Notification',
        metadata: meta,
        spec: notification(spec as NotificationSpec),
        pos,
      };
    case 'HostCheck':
      return { apiVersion, kind: 'HostCheck', metadata: meta, spec: hostCheck(spec as RawHostCheck), pos };
    case 'ProcessOverride':
      return { apiVersion, kind: 'ProcessOverride', metadata: meta, spec: spec as ProcessOverrideSpec, pos };
  }
}
