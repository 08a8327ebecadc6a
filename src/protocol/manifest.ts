/**
 * What the planner produces and the agent converges: one manifest per host. Shared with the agent through
 * `src/protocol`, so it holds plain JSON only.
 */
import type { RunSpec } from './run-spec.js';

/** A host as the controller knows it: from the agent's hello, or from an inventory file. */
export interface HostFacts {
  /** Agent id (stable per host); the inventory may use the host name. */
  id: string;
  name: string;
  ips: string[];
  cloudId: number;
  os?: string;
  agentVersion?: string;
  labels: Record<string, string>;
  /** Free-form facts available to templates as `host.facts.x`. */
  facts?: Record<string, string | number | boolean>;
}

export interface Inventory {
  hosts: HostFacts[];
}

interface ManifestItemBase {
  name: string;
  /** sha256 (hex) of the item's canonical JSON without `hash`: what the agent reports back. */
  hash: string;
}

export interface ManifestConfigFile extends ManifestItemBase {
  kind: 'ConfigFile';
  path: string;
  /** Rendered content: utf8 text, or base64 when the source is binary. */
  content: string;
  encoding: 'utf8' | 'base64';
  /** sha256 (hex) of the decoded bytes, to compare with the file on disk. */
  contentHash: string;
  mode: number;
  owner?: string;
  onChange?: RunSpec;
  selfHeal: boolean;
  prune: boolean;
}

export interface ManifestProcessWatch extends ManifestItemBase {
  kind: 'ProcessWatch';
  process: { name?: string; cmdline?: string; pidFile?: string };
  ensure: 'running' | 'observed';
  start?: string;
  stop?: string;
  restart?: string;
  probeIntervalMs: number;
}

/**
 * A HostCheck: what the agent probes every `intervalMs`; exactly one probe is set. Paths are host paths,
 * resolved under the agent's `--root`.
 */
export interface ManifestHostCheck extends ManifestItemBase {
  kind: 'HostCheck';
  intervalMs: number;
  disk?: { mount: string; usedPercentOver: number };
  readonly?: { mount: string };
  corefiles?: { dir: string; pattern: string };
  command?: {
    run: string;
    interpreter?: string;
    failuresInARow: number;
    timeoutMs: number;
    env?: Record<string, string>;
    runAs?: string;
  };
}

export interface ManifestRemediation extends ManifestItemBase {
  kind: 'Remediation';
  on: { event: string; match?: Record<string, string | number | boolean> };
  run: RunSpec & { script: string };
  cooldownMs: number;
  maxConcurrent: number;
  maxPerHour: number;
  dryRun: boolean;
}

export interface ManifestAgentVersion extends ManifestItemBase {
  kind: 'AgentVersion';
  /** The version THIS host must run now (the controller gates it per rollout batch). */
  version: string;
  /**
   * The package of `version`: its sha256 and where to get it, an absolute http(s) URL or a path on the
   * controller (`/api/v1/artifacts/gse-agent-1.2.0.tgz`) resolved against the agent's controller URL.
   */
  artifact?: { sha256: string; url: string };
  /** The new version must connect and report within this long, else the launcher rolls it back. */
  healthDeadlineMs: number;
  /** From 1; bumped by the controller on resume/retry. A failed (version, sha256, attempt) is never retried. */
  attempt: number;
}

export type ManifestItem =
  | ManifestConfigFile
  | ManifestProcessWatch
  | ManifestRemediation
  | ManifestAgentVersion
  | ManifestHostCheck;

export interface HostManifest {
  hostId: string;
  /** The revision this manifest was planned from. */
  revision: string;
  /** Effective labels: the host's own, plus those HostGroups give it. */
  labels: Record<string, string>;
  /** Sorted by kind, then name. */
  items: ManifestItem[];
  /** sha256 over the items' hashes in order: stable under reordering of files and documents. */
  hash: string;
}

/** `Kind/name`, the key a manifest item is known by in reports and deltas. */
export function itemKey(item: { kind: string; name: string }): string {
  return `${item.kind}/${item.name}`;
}

const KIND_ORDER: Record<ManifestItem['kind'], number> = {
  AgentVersion: 0,
  ConfigFile: 1,
  ProcessWatch: 2,
  Remediation: 3,
  HostCheck: 4,
};

/** The one order of manifest items: by kind, then name (so equal content hashes equal). */
export function compareManifestItems(a: ManifestItem, b: ManifestItem): number {
  return KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}
