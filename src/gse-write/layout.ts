/**
 * Where write-back keeps what GSE calls write: one resource per file under `gse/routes/channel-<id>.yaml`,
 * `gse/streamto/<name>.yaml` and `gse/process/<watch>.yaml` (WRITE_DIRS), relative to the spec root. Only those files are GSE's to change;
 * a Route or StreamTarget a person declared elsewhere is served by the queries but refused here
 * (ConflictError), so a GSE call never rewrites a hand-kept file.
 */
import { stringify } from 'yaml';
import { channelIdsOf, streamToId } from '../routing/gse-query.js';
import type { Revision, Route, StreamTarget } from '../spec/types.js';
import type { Obj } from './call-body.js';
import { ConflictError, InvalidCallError, NotFoundError } from './errors.js';

/** Where written resources live, relative to the spec root. */
export const WRITE_DIRS = { route: 'gse/routes', streamTo: 'gse/streamto', process: 'gse/process' } as const;
/** Annotation naming who made the last GSE call that wrote the resource. */
export const WRITTEN_BY_ANNOTATION = 'gse-gitops/written-by';
const MAX_NAME_LENGTH = 253;

/** What a write changes: spec-root-relative path -> new content, or null to delete. */
export interface WritePlan {
  files: Record<string, string | null>;
  /** The `data` of GSE's answer once applied. */
  data: Record<string, unknown>;
  /** One line for the commit subject, e.g. `add_route channel 1001`. */
  summary: string;
}

/** A GSE name (`mq_stream_to_1`) as a spec name (`mq-stream-to-1`): lower case, `[a-z0-9.-]`. */
export function specNameOf(gseName: string, path: string): string {
  const name = gseName
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
    .slice(0, MAX_NAME_LENGTH)
    .replace(/[^a-z0-9]+$/, '');
  if (name === '')
    throw new InvalidCallError(`${path}: "${gseName}" has no letter or digit to name a resource by`);
  return name;
}

export const streamToFile = (name: string): string => `${WRITE_DIRS.streamTo}/${name}.yaml`;
export const routeFile = (channelId: number): string => `${WRITE_DIRS.route}/channel-${channelId}.yaml`;
export const processFile = (watch: string): string => `${WRITE_DIRS.process}/${watch}.yaml`;

/** Depends on the resource only, so a call that changes nothing writes the same bytes (and commits nothing). */
const FILE_HEADER =
  '# Written by gse-gitops for GSE calls (docs/GSE-MAPPING.md); they may change it again.\n';

export function yamlDoc(kind: string, metadata: Obj, spec: Obj): string {
  return FILE_HEADER + stringify({ apiVersion: 'gse/v1', kind, metadata, spec }, { lineWidth: 0 });
}

export function findStreamTo(head: Revision, id: number): StreamTarget | undefined {
  return head.byKind.StreamTarget.find((t) => streamToId(t.metadata.name) === id);
}

/** The target written by this API with `stream_to_id`; NotFound or Conflict (hand-written) otherwise. */
export function ownedStreamTo(head: Revision, id: number): StreamTarget {
  const t = findStreamTo(head, id);
  if (!t) throw new NotFoundError(`stream_to ${id} not found`);
  if (t.pos.file !== streamToFile(t.metadata.name))
    throw new ConflictError(
      `stream_to ${id} is StreamTarget "${t.metadata.name}" declared in ${t.pos.file} by hand; GSE calls change only ${WRITE_DIRS.streamTo}/<name>.yaml, edit it in Git`,
    );
  return t;
}

export function routesOfChannel(head: Revision, channelId: number): Route[] {
  return head.byKind.Route.filter((r) => channelIdsOf(r.spec.channel).includes(channelId));
}

export function ownedRoute(head: Revision, channelId: number): Route {
  const routes = routesOfChannel(head, channelId);
  const owned = routes.find((r) => r.pos.file === routeFile(channelId));
  if (owned) return owned;
  if (routes.length === 0) throw new NotFoundError(`route ${channelId} not found`);
  throw new ConflictError(
    `route ${channelId} is Route "${routes[0]?.metadata.name}" declared in ${routes[0]?.pos.file} by hand; GSE calls change only ${routeFile(channelId)}, edit it in Git`,
  );
}
