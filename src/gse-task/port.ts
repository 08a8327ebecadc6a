/**
 * What the GSE task and process calls need of the controller, and nothing more: the live fleet, the planned
 * manifests, the exec engine, the store, the desired-state hook, where transfer sources are read, a clock.
 * src/controller/api-port.ts builds it from a running controller; unit tests build it over plain objects.
 */
import type { ExecStarted, HostTask } from '../controller/exec-service.js';
import type { HostManifest } from '../protocol/manifest.js';
import type { Store } from '../store/types.js';
import type { DesiredStateOverride } from './overrides.js';

/** One host as these calls see it. */
export interface GseHost {
  hostId: string;
  ips: string[];
  cloudId: number;
  /** The agent holds a live session. */
  alive: boolean;
}

export interface GseTaskPort {
  /** Every host the controller tracks. */
  hosts(): GseHost[];
  /** The manifest planned for a host (overrides applied), if any. */
  manifestFor(hostId: string): HostManifest | undefined;
  /** What the host last reported of a ProcessWatch, if anything. */
  processOf(hostId: string, name: string): { running: boolean; pids: number[] } | undefined;
  exec: {
    startOnHosts(hostIds: readonly string[], task: HostTask): Promise<ExecStarted>;
    cancel(taskId: string, hostIds: readonly string[]): string[];
  };
  store: Pick<Store, 'getState' | 'setState' | 'getExecution'>;
  overrides: DesiredStateOverride;
  /**
   * The bytes of a transfer's source file `dir/name`, read on the controller (its `--artifact-dir`); throws
   * a GseError saying why when it cannot be read.
   */
  readSource(dir: string, name: string): Promise<Buffer>;
  now(): number;
  newId(): string;
}

/** Who makes a call (the API caller's name), for records and overrides. */
export interface GseCallContext {
  caller: string;
}
