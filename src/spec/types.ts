/**
 * The typed shape of the spec language (apiVersion gse/v1). The JSON Schemas in `specs/` are the truth
 * for validation; these types mirror them after validation and normalisation (durations become `...Ms`
 * numbers, modes become numbers).
 */

export const API_VERSION = 'gse/v1';

export const KINDS = [
  'StreamTarget',
  'Route',
  'AgentVersion',
  'ConfigFile',
  'Remediation',
  'ProcessWatch',
  'HostGroup',
  'Notification',
  'HostCheck',
  'ProcessOverride',
] as const;
export type Kind = (typeof KINDS)[number];

/** Where a document (or a field in it) came from, 1-based. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

export interface MatchExpression {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** A host selector: every present clause must hold (AND); within `names`, `cidrs`, `cloudIds` any may match. */
export interface Selector {
  names?: string[];
  /** Labels Git gives the host (HostGroups). */
  matchLabels?: Record<string, string>;
  /** Labels the host's agent declared (`gse-agent --labels`): opted into explicitly, never by matchLabels. */
  matchAgentLabels?: Record<string, string>;
  matchExpressions?: MatchExpression[];
  cidrs?: string[];
  cloudIds?: number[];
}

/** A reference to a secret that is resolved on the controller and never stored in Git. */
export type SecretRef = { env: string } | { file: string };

export interface Metadata {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface SyncPolicy {
  /** Re-apply when the host drifts from Git. Default true. */
  selfHeal: boolean;
  /** Remove what left Git. Default false. */
  prune: boolean;
}

import type { RunSpec } from '../protocol/run-spec.js';
import type { NotificationOutcome } from './notification.js';

export type { RunSpec };

// ---- kinds -------------------------------------------------------------------------------------------

export interface RedisTargetSpec {
  url: string;
  mode: 'stream' | 'list' | 'pubsub';
  key: string;
  maxLen?: number;
  passwordFrom?: SecretRef;
  sentinel?: { name: string; nodes: string[] };
}

export interface KafkaTargetSpec {
  brokers: string[];
  topic: string;
  clientId?: string;
  keyField?: string;
  sasl?: {
    mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
    username: string;
    passwordFrom: SecretRef;
  };
  ssl?: boolean;
}

export interface FileTargetSpec {
  path: string;
  rotate?: { maxBytes: number; keep: number };
  fsync?: 'always' | 'batch' | 'never';
}

export interface StreamTargetSpec {
  redis?: RedisTargetSpec;
  kafka?: KafkaTargetSpec;
  file?: FileTargetSpec;
  /** Spool limit for this target; back-pressure beyond it. */
  spool?: { maxBytes: number };
}

export type FilterOp = 'eq' | 'ne' | 'in' | 'regex' | 'exists' | 'gt' | 'lt';
export interface FilterCondition {
  field: string;
  op: FilterOp;
  value?: string | number | boolean | Array<string | number>;
}
export interface RouteFilters {
  allOf?: FilterCondition[];
  anyOf?: FilterCondition[];
}

export interface RouteTargetRef {
  name: string;
  /** Per-target key (Redis) or topic (Kafka) override. */
  key?: string;
  topic?: string;
}

export interface RouteSpec {
  channel: string | number;
  hosts?: Selector;
  filters?: RouteFilters;
  targets: RouteTargetRef[];
  batch: { maxRecords: number; maxDelayMs: number };
  format: 'json' | 'gse';
}

export interface AgentVersionSpec {
  version: string;
  /** The package; without `url` agents fetch it from the controller's --artifact-dir. */
  artifact?: { url?: string; sha256: string };
  hosts: Selector;
  rollout: {
    /** A number of hosts, or a percentage ("25%") of the selected hosts. */
    batchSize: number | string;
    /** Hosts upgrading or offline that still let the next batch start: a number or a percentage. */
    maxUnavailable: number | string;
    /** Failed hosts a batch tolerates; one more pauses the rollout. */
    maxFailures: number;
    pauseBetweenMs: number;
    /** How long a new version has to connect and report before the host rolls back. */
    healthDeadlineMs: number;
    mode: 'auto' | 'manual';
  };
}

export interface ConfigFileSpec {
  hosts: Selector;
  path: string;
  /** Path of a file in the repo tree, relative to the spec root. Exactly one of source/content. */
  source?: string;
  content?: string;
  template: boolean;
  mode: number;
  /** Lets `mode` set setuid, setgid, sticky or world-writable bits; default false (refused). */
  allowSpecialModes?: boolean;
  owner?: string;
  onChange?: RunSpec;
  syncPolicy: SyncPolicy;
}

export interface RemediationSpec {
  on: { event: string; match?: Record<string, string | number | boolean> };
  hosts: Selector;
  run: RunSpec & { script: string };
  /** For agent.lost: how long a heartbeat may be overdue first (`on.grace`); absent: the controller's default. */
  graceMs?: number;
  /** For agent.lost: the host that runs the script, since the lost host cannot. */
  runner?: { host?: string; webhook?: string };
  cooldownMs: number;
  maxConcurrent: number;
  maxPerHour: number;
  dryRun: boolean;
}

export interface ProcessWatchSpec {
  process: { name?: string; cmdline?: string; pidFile?: string };
  hosts: Selector;
  ensure: 'running' | 'observed';
  start?: string;
  stop?: string;
  restart?: string;
  probeIntervalMs: number;
}

/** What a HostCheck probes: exactly one of these is set. */
export interface HostCheckProbe {
  /** disk.full when the file system holding `<root><mount>` is used over `usedPercentOver` percent. */
  disk?: { mount: string; usedPercentOver: number };
  /** disk.readonly when the mount holding `<root><mount>` is read-only. */
  readonly?: { mount: string };
  /** corefile for each new file in `<root><dir>` whose name matches `pattern`. */
  corefiles?: { dir: string; pattern: string };
  /** check.failed when the command fails `failuresInARow` times in a row. */
  command?: {
    run: string;
    interpreter?: string;
    failuresInARow: number;
    timeoutMs: number;
    env?: Record<string, string>;
    runAs?: string;
  };
}

export interface HostCheckSpec extends HostCheckProbe {
  hosts: Selector;
  intervalMs: number;
}

/** One host's hold on a ProcessWatch (ProcessOverride). */
export interface ProcessHold {
  ensure: 'running' | 'observed';
  /** The GSE operation that set it: a `stop` hold ends when a start succeeds. */
  op?: 'stop' | 'delegate' | 'undelegate';
}

export interface ProcessOverrideSpec {
  /** The ProcessWatch held. */
  watch: string;
  /** Host id -> its hold. */
  hosts: Record<string, ProcessHold>;
}

export interface HostGroupSpec {
  match: { names?: string[]; cidrs?: string[]; cloudIds?: number[] };
  labels: Record<string, string>;
}

export interface NotificationSpec {
  /** The outcomes sent (at least one). */
  on: NotificationOutcome[];
  /** Only outcomes on these hosts; outcomes without a host (revision.rejected, rollout.paused) always go. */
  hosts?: Selector;
  /** Where each outcome is POSTed (http or https). */
  url: string;
  /** The HMAC-SHA256 key that signs each body (X-GSE-Signature), resolved on the controller. */
  secretFrom: SecretRef;
}

interface DocBase<K extends Kind, S> {
  apiVersion: typeof API_VERSION;
  kind: K;
  metadata: Metadata;
  spec: S;
  /** Where the document starts. */
  pos: SourcePos;
}

export type StreamTarget = DocBase<'StreamTarget', StreamTargetSpec>;
export type Route = DocBase<'Route', RouteSpec>;
export type AgentVersion = DocBase<'AgentVersion', AgentVersionSpec>;
export type ConfigFile = DocBase<'ConfigFile', ConfigFileSpec>;
export type Remediation = DocBase<'Remediation', RemediationSpec>;
export type ProcessWatch = DocBase<'ProcessWatch', ProcessWatchSpec>;
export type HostGroup = DocBase<'HostGroup', HostGroupSpec>;
export type Notification = DocBase<'Notification', NotificationSpec>;
export type HostCheck = DocBase<'HostCheck', HostCheckSpec>;
export type ProcessOverride = DocBase<'ProcessOverride', ProcessOverrideSpec>;

export type Resource =
  | StreamTarget
  | Route
  | AgentVersion
  | ConfigFile
  | Remediation
  | ProcessWatch
  | HostGroup
  | Notification
  | HostCheck
  | ProcessOverride;

/** A validated spec tree: every document, indexed by kind, and the repo files that ConfigFiles source. */
export interface Revision {
  /** Git SHA when loaded from Git, or a content hash of the tree. */
  id: string;
  resources: Resource[];
  byKind: { [K in Kind]: Extract<Resource, { kind: K }>[] };
  /** Repo-relative path -> bytes, for every `ConfigFile.spec.source`. */
  files: Map<string, Buffer>;
}

/** One validation error, printed as `file:line:col: <path>: <message>`. */
export interface SpecError {
  file: string;
  line: number;
  col: number;
  /** Field path in the document, e.g. `spec.targets[0].name`; empty for document-level errors. */
  path: string;
  message: string;
}

export type LoadResult = { ok: true; revision: Revision } | { ok: false; errors: SpecError[] };

/** `file:line:col: path: message`, the one format every error is printed in. */
export function formatSpecError(e: SpecError): string {
  return `${e.file}:${e.line}:${e.col}: ${e.path ? `${e.path}: ` : ''}${e.message}`;
}
