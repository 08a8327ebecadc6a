/**
 * A Revision as the leader publishes it for the followers: JSON of its resources and the bytes of the files
 * ConfigFiles source (base64). Pure; `decodeRevision` checks the shape it needs and rebuilds the index by kind.
 */
import { KINDS, type Resource, type Revision } from '../spec/types.js';

interface RevisionJson {
  v: 1;
  id: string;
  resources: Resource[];
  files: Array<[string, string]>;
}

/** Thrown when a published revision cannot be read (a replica of another version wrote it, or it is corrupt). */
export class RevisionDecodeError extends Error {
  readonly code = 'REVISION_DECODE';
  constructor(message: string) {
    super(`published revision: ${message}`);
    this.name = 'RevisionDecodeError';
  }
}

/** The revision as one JSON string. */
export function encodeRevision(revision: Revision): string {
  const body: RevisionJson = {
    v: 1,
    id: revision.id,
    resources: revision.resources,
    files: [...revision.files].map(([path, bytes]) => [path, bytes.toString('base64')]),
  };
  return JSON.stringify(body);
}

/** The revision `encodeRevision` wrote; throws RevisionDecodeError on anything else. */
export function decodeRevision(text: string): Revision {
  let body: Partial<RevisionJson>;
  try {
    body = JSON.parse(text) as Partial<RevisionJson>;
  } catch (err) {
    throw new RevisionDecodeError(`not JSON: ${(err as Error).message}`);
  }
  if (
    body.v !== 1 ||
    typeof body.id !== 'string' ||
    !Array.isArray(body.resources) ||
    !Array.isArray(body.files)
  )
    throw new RevisionDecodeError('expected {v: 1, id, resources[], files[]}');
  const byKind = Object.fromEntries(KINDS.map((k) => [k, [] as Resource[]])) as Record<string, Resource[]>;
  for (const r of body.resources) {
    const list = byKind[r.kind];
    if (!list) throw new RevisionDecodeError(`unknown kind ${String(r.kind)}`);
    list.push(r);
  }
  return {
    id: body.id,
    resources: body.resources,
    byKind: byKind as unknown as Revision['byKind'],
    files: new Map(body.files.map(([path, b64]) => [path, Buffer.from(b64, 'base64')])),
  };
}
