/**
 * Checks between documents: duplicate kind/name, Route targets naming missing StreamTargets (or
 * overriding the wrong thing), and ConfigFile sources absent from the tree.
 */
import { closestMatch, didYouMean } from './did-you-mean.js';
import { type FieldPath, formatFieldPath } from './field-path.js';
import type { SourcePos, SpecError, StreamTarget } from './types.js';
import type { ValidatedDoc } from './validate-doc.js';

function where(p: SourcePos): string {
  return `${p.file}:${p.line}:${p.col}`;
}

function errorAt(d: ValidatedDoc, path: FieldPath, message: string): SpecError {
  const printed = formatFieldPath(path);
  return { ...(d.refs[printed] ?? d.pos), path: printed, message };
}

function duplicateErrors(docs: ValidatedDoc[]): SpecError[] {
  const errors: SpecError[] = [];
  const first = new Map<string, SourcePos>();
  for (const d of docs) {
    if (d.kind === undefined || d.name === undefined) continue;
    const key = `${d.kind}/${d.name}`;
    const prior = first.get(key);
    if (prior === undefined) first.set(key, d.refs['metadata.name'] ?? d.pos);
    else {
      const message = `duplicate ${d.kind} "${d.name}"; first defined at ${where(prior)}`;
      errors.push(errorAt(d, ['metadata', 'name'], message));
    }
  }
  return errors;
}

function targetKind(t: StreamTarget): 'redis' | 'kafka' | 'file' {
  return t.spec.redis ? 'redis' : t.spec.kafka ? 'kafka' : 'file';
}

function routeTargetErrors(docs: ValidatedDoc[]): SpecError[] {
  const names = new Set<string>();
  const targets = new Map<string, StreamTarget>();
  for (const d of docs) {
    if (d.kind !== 'StreamTarget' || d.name === undefined) continue;
    names.add(d.name);
    if (d.resource?.kind === 'StreamTarget') targets.set(d.name, d.resource);
  }
  const errors: SpecError[] = [];
  for (const d of docs) {
    if (d.resource?.kind !== 'Route') continue;
    d.resource.spec.targets.forEach((ref, i) => {
      if (!names.has(ref.name)) {
        const message = `no StreamTarget "${ref.name}"${didYouMean(ref.name, names)}`;
        errors.push(errorAt(d, ['spec', 'targets', i, 'name'], message));
        return;
      }
      const target = targets.get(ref.name);
      if (!target) return;
      const kind = targetKind(target);
      if (ref.key !== undefined && kind !== 'redis') {
        const message = `overrides a Redis key, but StreamTarget "${ref.name}" writes to ${kind}${kind === 'kafka' ? '; use topic' : ''}`;
        errors.push(errorAt(d, ['spec', 'targets', i, 'key'], message));
      }
      if (ref.topic !== undefined && kind !== 'kafka') {
        const message = `overrides a Kafka topic, but StreamTarget "${ref.name}" writes to ${kind}${kind === 'redis' ? '; use key' : ''}`;
        errors.push(errorAt(d, ['spec', 'targets', i, 'topic'], message));
      }
    });
  }
  return errors;
}

/** True when a normalised repo path stays inside the repo. */
export function isInsideRepo(path: string): boolean {
  return !path.startsWith('/') && path !== '..' && !path.startsWith('../') && path !== '.';
}

function sourceErrors(docs: ValidatedDoc[], tree: ReadonlyMap<string, Buffer>): SpecError[] {
  const errors: SpecError[] = [];
  for (const d of docs) {
    if (d.resource?.kind !== 'ConfigFile' || d.resource.spec.source === undefined) continue;
    const source = d.resource.spec.source;
    if (!isInsideRepo(source)) {
      const message = `"${source}" is outside the repo; name a file relative to the repo root`;
      errors.push(errorAt(d, ['spec', 'source'], message));
    } else if (!tree.has(source)) {
      const close = closestMatch(source, tree.keys());
      const hint = close === undefined ? '' : `; did you mean "${close}"?`;
      errors.push(errorAt(d, ['spec', 'source'], `no file "${source}" in the repo${hint}`));
    }
  }
  return errors;
}

/** Every cross-document error; `docs` in file order, so "first defined" is the earlier file. */
export function crossRefErrors(docs: ValidatedDoc[], tree: ReadonlyMap<string, Buffer>): SpecError[] {
  return [...duplicateErrors(docs), ...routeTargetErrors(docs), ...sourceErrors(docs, tree)];
}
