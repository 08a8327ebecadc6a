/**
 * The wire protocol between controller and agent: JSON text frames over ws, each `{v, type, ...}`.
 * Messages that cause work or must not be lost carry an `id`; the receiver dedupes by it.
 *
 * agent -> controller: hello, report, execResult, event, data, heartbeat, error
 * controller -> agent: welcome, manifest, dryRun, exec, cancel, putFile, procOp, ack, heartbeat, error
 */
import type { HostManifest, ManifestItem } from './manifest.js';

export const PROTOCOL_VERSION = 1;
/** Frames larger than this are refused by both sides. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** What an agent says about its host in `hello`. */
export interface AgentFacts {
  name: string;
  ips: string[];
  cloudId: number;
  os: string;
  agentVersion: string;
  labels: Record<string, string>;
  facts?: Record<string, string | number | boolean>;
}

export interface HelloMessage {
  v: 1;
  type: 'hello';
  agentId: string;
  /** First contact: the bootstrap token, answered by a credential in `welcome`. */
  bootstrapToken?: string;
  /** Later contacts: the per-agent credential received at enrollment. */
  credential?: string;
  facts: AgentFacts;
  /** Hash of the manifest the agent holds ('' when none). */
  manifestHash: string;
  /** Highest spool sequence the agent has written, for diagnostics. */
  spoolHighWater: number;
}

export interface WelcomeMessage {
  v: 1;
  type: 'welcome';
  agentId: string;
  /** Only at enrollment: the credential to keep and present from now on. */
  credential?: string;
  heartbeatMs: number;
  /** How many un-acked spooled messages the agent may have in flight (per lane, see lanes.ts). */
  window: number;
  /**
   * The data lane's window when it differs from `window` (added with the two lanes; absent: `window`).
   * Older agents drop the unknown field and keep one window for everything, which stays within both.
   */
  dataWindow?: number;
  /**
   * The controller stamps every data record with the session's host, so the agent leaves `host` out of
   * the records it sends (added with host-less records; absent: an older controller that needs it).
   */
  stampsHost?: true;
}

export interface ManifestFullMessage {
  v: 1;
  type: 'manifest';
  id: string;
  mode: 'full';
  manifest: HostManifest;
}

export interface ManifestDeltaMessage {
  v: 1;
  type: 'manifest';
  id: string;
  mode: 'delta';
  /** The manifest hash this delta applies to; an agent holding another answers with a report asking for full. */
  baseHash: string;
  hash: string;
  revision: string;
  labels: Record<string, string>;
  upsert: ManifestItem[];
  /** Item keys (`Kind/name`) that left the manifest. */
  remove: string[];
}

export type ManifestMessage = ManifestFullMessage | ManifestDeltaMessage;

export type ItemState = 'ok' | 'changed' | 'failed' | 'drifted' | 'pending';

/** Bytes of a managed file's content an agent puts in a report, at most (a bigger file: size and hash only). */
export const OBSERVED_CONTENT_MAX_BYTES = 64 * 1024;

/**
 * A ConfigFile as the agent found it on disk, sent when it differs from the manifest (drift not healed, a
 * failed apply, a dry run), so `gsectl diff` can show a real diff. Content only for utf8 items up to
 * OBSERVED_CONTENT_MAX_BYTES whose declared mode lets others read the file; never for binary or private ones.
 */
export interface ObservedFileReport {
  /** False when the file is absent. */
  exists: boolean;
  size?: number;
  /** Permission bits found. */
  mode?: number;
  /** The file's text when it may be shown. */
  content?: string;
  /** Why `content` is absent although the file exists. */
  contentOmitted?: 'binary' | 'private' | 'too large' | 'unreadable';
}

export interface ItemReport {
  kind: ManifestItem['kind'];
  name: string;
  /** The manifest item hash this report is about. */
  hash: string;
  state: ItemState;
  /** For ConfigFile: sha256 of what is on disk now. */
  observedHash?: string;
  /** For ConfigFile: `uid:gid` of the file on disk now (owner drift is drift like content and mode). */
  observedOwner?: string;
  message?: string;
  /** Present when the agent found the host diverged from the manifest it holds. */
  drift?: { detectedAt: string; healed: boolean; detail: string };
  /** For ProcessWatch: what the probe saw. */
  process?: { running: boolean; pids: number[] };
  /** For ConfigFile, when the file differs from the manifest: what is on disk. */
  observed?: ObservedFileReport;
}

export interface ReportMessage {
  v: 1;
  type: 'report';
  id: string;
  manifestHash: string;
  revision: string;
  /** True when the agent cannot apply a delta and wants the full manifest. */
  needFull?: boolean;
  items: ItemReport[];
  /** Item keys the agent removed (pruned) on this apply (in a dry run's answer: would remove). */
  pruned?: string[];
  /**
   * Set on the answer to a `dryRun`: its id. Such a report says what an apply WOULD do (`changed`: would
   * change, with `observed`), changes nothing on the host, and is not the host's state.
   */
  dryRunOf?: string;
}

/**
 * Asks an agent what applying `manifest` would change, without writing anything or running an onChange;
 * answered by a `report` with `dryRunOf` set to this id.
 */
export interface DryRunMessage {
  v: 1;
  type: 'dryRun';
  id: string;
  manifest: HostManifest;
}

export interface ExecMessage {
  v: 1;
  type: 'exec';
  id: string;
  /** Idempotency key: an agent never runs the same task id twice. */
  taskId: string;
  script: string;
  interpreter?: string;
  timeoutMs: number;
  env?: Record<string, string>;
  cwd?: string;
  /** `user` or `user:group` to run as; the agent fails the task when it cannot switch, never ignores it. */
  runAs?: string;
  /** Why it runs: 'adhoc', 'onChange:ConfigFile/x', 'remediation:Remediation/y'. */
  reason: string;
}

/** Stop a running task (GSE's terminate): its process group is killed and its result says `killed`. */
export interface CancelMessage {
  v: 1;
  type: 'cancel';
  id: string;
  taskId: string;
}

/**
 * Write a file the controller sends (GSE's file transfer): at `path` under the agent's `--root`, atomically,
 * with `mode`/`owner` when given. Answered by an `execResult` (exit code 0 when written), once per task id.
 */
export interface PutFileMessage {
  v: 1;
  type: 'putFile';
  id: string;
  taskId: string;
  reason: string;
  /** The absolute host path to write. */
  path: string;
  /** The bytes, base64. */
  content: string;
  mode?: number;
  /** `user` or `user:group`. */
  owner?: string;
  /** Create missing parent directories (GSE's `auto_mkdir`); false: a missing directory fails the task. */
  mkdir: boolean;
}

/** What a process operation does to a ProcessWatch. */
export const PROC_OPS = ['start', 'stop', 'restart', 'reload'] as const;
export type ProcOp = (typeof PROC_OPS)[number];

/**
 * Start, stop, restart or reload the process a ProcessWatch of the agent's manifest watches (bk-nodeman's
 * operate_proc). A stop holds off the watch's own restarts until a start or a new version of the watch.
 * Answered by an `execResult` once per task id.
 */
export interface ProcOpMessage {
  v: 1;
  type: 'procOp';
  id: string;
  taskId: string;
  reason: string;
  /** The ProcessWatch's name. */
  watch: string;
  op: ProcOp;
  /** The command to use when the watch declares none for this op (GSE's `spec.control`). */
  command?: string;
  timeoutMs: number;
}

/** What a remediation engine decided about one matching event (the agent's, or the controller's for agent.lost). */
export const REMEDIATION_DECISIONS = ['ran', 'cooldown', 'budget', 'concurrency', 'dryRun'] as const;
export type RemediationDecisionKind = (typeof REMEDIATION_DECISIONS)[number];

/** The chain of a remediation: the event, the rule (name + item hash), the revision and the decision. */
export interface RemediationDecision {
  /** The Remediation's name. */
  name: string;
  /** The manifest item hash of the rule that decided. */
  itemHash: string;
  revision: string;
  decision: RemediationDecisionKind;
  event: HostEvent;
  /** Why it did not run (skips), or what it would have run (dry run). */
  detail?: string;
}

export interface ExecResultMessage {
  v: 1;
  type: 'execResult';
  id: string;
  taskId: string;
  reason: string;
  /** Present on a remediation's result: why it ran, or why not (a skip carries exitCode null). */
  remediation?: RemediationDecision;
  exitCode: number | null;
  signal: string | null;
  stdoutTail: string;
  stderrTail: string;
  startedAt: string;
  durationMs: number;
  timedOut: boolean;
  killed: boolean;
}

/** A host event (process.down, disk.full, agent.start...). Also forwarded on the `events` data channel. */
export interface HostEvent {
  type: string;
  time: string;
  resource?: string;
  fields: Record<string, unknown>;
}

export interface EventMessage {
  v: 1;
  type: 'event';
  id: string;
  event: HostEvent;
}

/** One data record as it travels: `rid` is unique per record, so consumers can dedupe. */
export interface DataRecord {
  rid: string;
  channel: string;
  /** ISO time the agent received it. */
  time: string;
  host: { id: string; name: string; ip: string; cloudId: number };
  fields: Record<string, unknown>;
}

/**
 * A record as an agent sends it. The controller stamps `host` from the session (an agent cannot speak for
 * another), so an agent whose controller says `stampsHost` leaves it out: a third of a record's bytes.
 */
export type WireDataRecord = Omit<DataRecord, 'host'> & { host?: DataRecord['host'] };

export interface DataMessage {
  v: 1;
  type: 'data';
  id: string;
  records: WireDataRecord[];
}

export interface AckMessage {
  v: 1;
  type: 'ack';
  /** Ids of agent messages (report, execResult, event, data) now durable on the controller. */
  ids: string[];
}

export interface HeartbeatMessage {
  v: 1;
  type: 'heartbeat';
  time: string;
}

export interface ErrorMessage {
  v: 1;
  type: 'error';
  code: string;
  message: string;
  /** The id of the message this answers, when known. */
  ref?: string;
}

export type AgentToController =
  | HelloMessage
  | ReportMessage
  | ExecResultMessage
  | EventMessage
  | DataMessage
  | HeartbeatMessage
  | ErrorMessage;

export type ControllerToAgent =
  | WelcomeMessage
  | ManifestMessage
  | DryRunMessage
  | ExecMessage
  | CancelMessage
  | PutFileMessage
  | ProcOpMessage
  | AckMessage
  | HeartbeatMessage
  | ErrorMessage;

export type Message = AgentToController | ControllerToAgent;

/** Spooled agent messages: what must be acked before the agent may forget it. */
export type SpooledMessage = ReportMessage | ExecResultMessage | EventMessage | DataMessage;
