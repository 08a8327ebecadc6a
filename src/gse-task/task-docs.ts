/**
 * What a GSE task id stands for, kept in the store (state key `gse/task/<id>`) so results can be polled after
 * a controller restart, and by another replica. Per-host progress lives in the execution records.
 */
import type { JsonValue, Store } from '../store/types.js';
import { GSE_TASK_NOT_FOUND, GseError } from './errors.js';

/** One agent of a script task, as the caller named it. */
export interface ScriptAgent {
  agentId: string;
  containerId: string;
  /** The host it resolved to (null: not a host of this fleet). */
  hostId: string | null;
  runAs?: string;
}

export interface ScriptAtomicTask {
  id: number;
  /** The script run for it on every agent (the wrapper around GSE's `command`). */
  script: string;
  command: string;
  timeoutMs: number;
  /** Atomic task ids that must succeed first. */
  after: number[];
}

export interface ScriptTaskDoc {
  kind: 'script';
  createdAt: string;
  by: string;
  agents: ScriptAgent[];
  atomic: ScriptAtomicTask[];
  /** Agent ids a terminate named: their tasks not yet started never start. */
  terminated?: string[];
}

/** One file to one target agent. */
export interface TransferEntry {
  /** Index of the execution (`<task id>/<n>`). */
  n: number;
  sourceAgentId: string;
  sourceContainerId: string;
  sourceDir: string;
  sourceName: string;
  destAgentId: string;
  destContainerId: string;
  destDir: string;
  destName: string;
  hostId: string | null;
  size: number;
  /** An entry refused before it was sent: its error code and message. */
  error?: { code: number; message: string };
}

export interface TransferTaskDoc {
  kind: 'transfer';
  createdAt: string;
  by: string;
  entries: TransferEntry[];
}

/** One process operation on one host. */
export interface ProcEntry {
  n: number;
  /** `"{agent_id}:{namespace}:{name}"`, the key nodeman reads. */
  key: string;
  /** `cloud:supplier:ip:ns:name` for the legacy result call, when the host came as `{ip, bk_cloud_id}`. */
  legacyKey?: string;
  hostId: string | null;
  namespace: string;
  name: string;
  opType: number;
  /** Settled when the call was made (delegate, undelegate, status, a refusal): the entry's answer. */
  settled?: { code: number; message: string; content: string };
}

export interface ProcTaskDoc {
  kind: 'proc';
  createdAt: string;
  by: string;
  entries: ProcEntry[];
}

export type TaskDoc = ScriptTaskDoc | TransferTaskDoc | ProcTaskDoc;

const key = (taskId: string) => `gse/task/${taskId}`;

/** Stores a task's document. */
export async function putTaskDoc(
  store: Pick<Store, 'setState'>,
  taskId: string,
  doc: TaskDoc,
): Promise<void> {
  await store.setState(key(taskId), doc as unknown as JsonValue);
}

/** The document of `taskId` of the kind asked for, or a GseError (not found, or another kind of task). */
export async function getTaskDoc<K extends TaskDoc['kind']>(
  store: Pick<Store, 'getState'>,
  taskId: string,
  kind: K,
): Promise<Extract<TaskDoc, { kind: K }>> {
  const doc = (await store.getState(key(taskId))) as unknown as TaskDoc | undefined;
  if (!doc || typeof doc !== 'object' || doc.kind !== kind)
    throw new GseError(GSE_TASK_NOT_FOUND, `task_id ${JSON.stringify(taskId)}: no ${kind} task has this id`);
  return doc as Extract<TaskDoc, { kind: K }>;
}

/** A new GSE task id: `GSETASK:<S|F|P>:<uuid>` (script, file, process), opaque to callers as GSE's is. */
export function newTaskId(kind: TaskDoc['kind'], id: string): string {
  return `GSETASK:${kind === 'script' ? 'S' : kind === 'transfer' ? 'F' : 'P'}:${id}`;
}

/** The execution record id of one part of a task (an atomic task, a transfer, a process operation). */
export function execId(taskId: string, n: number): string {
  return `${taskId}/${n}`;
}
