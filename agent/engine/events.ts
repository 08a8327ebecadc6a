/**
 * Builders of the HostEvents the agent emits, timed by the injected clock. Each type's fields are declared
 * in specs/events.schema.json (the vocabulary a Remediation's `match` is checked against).
 */
import type { HostEvent } from '../../src/protocol/messages.js';
import { type Clock, isoNow } from './deps.js';

export const HOST_EVENT_TYPES = [
  'agent.start',
  'agent.stop',
  'process.down',
  'process.up',
  'process.restarted',
  'process.restart_failed',
  'disk.full',
  'disk.readonly',
  'corefile',
  'check.failed',
] as const;
export type HostEventType = (typeof HOST_EVENT_TYPES)[number];

/** A HostEvent of `type` at `clock.now()`, about `resource` (an item key) when given. */
export function hostEvent(
  clock: Clock,
  type: HostEventType,
  fields: Record<string, unknown>,
  resource?: string,
): HostEvent {
  return { type, time: isoNow(clock), ...(resource !== undefined ? { resource } : {}), fields };
}

/** `agent.start`: the agent came up (version, host name...). */
export function agentStartEvent(clock: Clock, fields: { agentVersion: string; pid?: number }): HostEvent {
  return hostEvent(clock, 'agent.start', { ...fields });
}

/** `agent.stop`: the agent is shutting down, and why (signal, upgrade...). */
export function agentStopEvent(clock: Clock, fields: { reason: string }): HostEvent {
  return hostEvent(clock, 'agent.stop', { ...fields });
}

export interface ProcessEventFields {
  /** The ProcessWatch name (the documented `match` key; also sent as `name` for older readers). */
  process: string;
  pids: number[];
  ensure: 'running' | 'observed';
  /** Restarts the agent made since the process was last stable. */
  restarts: number;
}

/** `process.down` / `process.up` for the ProcessWatch with key `resource`. */
export function processEvent(
  clock: Clock,
  type: 'process.down' | 'process.up',
  resource: string,
  fields: ProcessEventFields,
): HostEvent {
  return hostEvent(clock, type, { ...fields, name: fields.process }, resource);
}

/** `process.restarted`: the agent started an `ensure: running` watch's process and it came up. */
export function processRestartedEvent(
  clock: Clock,
  resource: string,
  fields: { process: string; pids: number[]; restarts: number },
): HostEvent {
  return hostEvent(clock, 'process.restarted', { ...fields, name: fields.process }, resource);
}

/** `process.restart_failed`: the agent's start of an `ensure: running` watch's process did not bring it up. */
export function processRestartFailedEvent(
  clock: Clock,
  resource: string,
  fields: { process: string; restarts: number; error: string },
): HostEvent {
  return hostEvent(clock, 'process.restart_failed', { ...fields, name: fields.process }, resource);
}

/** Where a file system is, as the mount table says (HostCheck events carry it when known). */
export interface FileSystemFields {
  /** The path the HostCheck names (or the mount point a write failed under). */
  mount: string;
  device?: string;
  fstype?: string;
  /** The HostCheck that raised it. */
  check?: string;
  detail?: string;
}

/** `disk.full`: a file system ran out of space (ENOSPC seen, or usage above a threshold). */
export function diskFullEvent(
  clock: Clock,
  fields: FileSystemFields & { usedPercent?: number; thresholdPercent?: number },
  resource?: string,
): HostEvent {
  return hostEvent(clock, 'disk.full', { ...fields }, resource);
}

/** `disk.readonly`: a mount turned read-only, or a file system refused a write with EROFS. */
export function diskReadonlyEvent(clock: Clock, fields: FileSystemFields, resource?: string): HostEvent {
  return hostEvent(clock, 'disk.readonly', { ...fields }, resource);
}

/** `corefile`: a new core file in a directory a HostCheck watches. */
export function corefileEvent(
  clock: Clock,
  fields: { path: string; dir?: string; size?: number; check?: string },
  resource?: string,
): HostEvent {
  return hostEvent(clock, 'corefile', { ...fields }, resource);
}

/** `check.failed`: a HostCheck command failed its declared number of times in a row. */
export function checkFailedEvent(
  clock: Clock,
  fields: { check: string; exitCode?: number; failures?: number; output?: string },
  resource?: string,
): HostEvent {
  return hostEvent(clock, 'check.failed', { ...fields }, resource);
}
