/** The AgentVersion manifest item a host is sent, built the same way by the planner and the rollout logic. */
import { hashValue } from '../controller/hash.js';
import type { ManifestAgentVersion } from '../protocol/manifest.js';
import type { AgentVersion } from '../spec/types.js';
import type { RolloutArtifact } from '../store/rollout-record.js';

/** What a rollout tells one host to run; absent, the host runs what Git says. */
export interface VersionAssignment {
  version: string;
  artifact?: RolloutArtifact;
  attempt: number;
}

/** The controller path agents fetch a version from when the spec gives no url (served from --artifact-dir). */
export function defaultArtifactUrl(version: string): string {
  return `/api/v1/artifacts/gse-agent-${version}.tgz`;
}

/** The spec's package with its url filled in (default: the controller's artifact dir). */
export function specArtifact(av: AgentVersion): RolloutArtifact | undefined {
  const a = av.spec.artifact;
  return a ? { sha256: a.sha256, url: a.url ?? defaultArtifactUrl(av.spec.version) } : undefined;
}

/** The manifest item for `av` on a host told `assignment` (Git's version, attempt 1, when absent). */
export function agentVersionItem(av: AgentVersion, assignment?: VersionAssignment): ManifestAgentVersion {
  const item: Omit<ManifestAgentVersion, 'hash'> = {
    kind: 'AgentVersion',
    name: av.metadata.name,
    version: assignment?.version ?? av.spec.version,
    artifact: assignment ? assignment.artifact : specArtifact(av),
    healthDeadlineMs: av.spec.rollout.healthDeadlineMs,
    attempt: assignment?.attempt ?? 1,
  };
  return { ...item, hash: hashValue(item) };
}
