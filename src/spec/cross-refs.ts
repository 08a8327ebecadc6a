/**
 * Checks between documents: duplicate kind/name, Route targets naming missing StreamTargets (or
 * overriding the wrong thing), ConfigFile sources absent from the tree, and ProcessOverrides naming a
 * ProcessWatch that is not declared.
 */

import { type PlaceField, recordedPosition } from './deferred-positions.js';
import { closestMatch, didYouMean } from './did-you-mean.js';
import { type FieldPath, formatFieldPath } from './field-path.js';
import type { Route, SourcePos, SpecError, StreamTarget } from './types.js';
import type { ValidatedDoc } from './validate-doc.js';

function where(p: SourcePos): string {
  return `${p.file}:${p.line}:${p.col}`;
}

function errorAt(place: PlaceField, d: ValidatedDoc, path: FieldPath, message: string): SpecError {
  const printed = formatFieldPath(path);
  return { ...place(d, printed), path: printed, message };
}

/** The documents each check looks at, sorted out in one pass. */
interface Sorted {
  routes: Route[];
  routeDocs: ValidatedDoc[];
  sources: ValidatedDoc[];
  targetNames: Set<string>;
  targets: Map<string, StreamTarget>;
  watchNames: Set<string>;
  holds: ValidatedDoc[];
  duplicates: SpecError[];
}

function sortDocs(docs: ValidatedDoc[], place: PlaceField): Sorted {
  const out: Sorted = {
    routes: [],
    routeDocs: [],
    sources: [],
    targetNames: new Set(),
    targets: new Map(),
    watchNames: new Set(),
    holds: [],
    duplicates: [],
  };
  const seen = new Map<string, Map<string, ValidatedDoc>>();
  for (const d of docs) {
    const { kind, name, resource } = d;
    if (kind === undefined || name === undefined) continue;
    let names = seen.get(kind);
    if (!names) {
      names = new Map();
      seen.set(kind, names);
    }
    const first = names.get(name);
    if (first === undefined) names.set(name, d);
    else {
      const message = `duplicate ${kind} "${name}"; first defined at ${where(place(first, 'metadata.name'))}`;
      out.duplicates.push(errorAt(place, d, ['metadata', 'name'], message));
    }
    if (kind === 'StreamTarget') {
      out.targetNames.add(name);
      if (resource?.kind === 'StreamTarget') out.targets.set(name, resource);
    } else if (resource?.kind === 'Route') {
      out.routes.push(resource);
      out.routeDocs.push(d);
    } else if (resource?.kind === 'ConfigFile' && resource.spec.source !== undefined) out.sources.push(d);
    else if (kind === 'ProcessWatch') out.watchNames.add(name);
    else if (resource?.kind === 'ProcessOverride') out.holds.push(d);
  }
  return out;
}

function targetKind(t: StreamTarget): 'redis' | 'kafka' | 'file' {
  return t.spec.redis ? 'redis' : t.spec.kafka ? 'kafka' : 'file';
}

function routeTargetErrors(
  { routes, routeDocs, targetNames, targets }: Sorted,
  place: PlaceField,
): SpecError[] {
  const errors: SpecError[] = [];
  routes.forEach((route, r) => {
    const d = routeDocs[r] as ValidatedDoc;
    route.spec.targets.forEach((ref, i) => {
      if (!targetNames.has(ref.name)) {
        const message = `no StreamTarget "${ref.name}"${didYouMean(ref.name, targetNames)}`;
        errors.push(errorAt(place, d, ['spec', 'targets', i, 'name'], message));
        return;
      }
      const target = targets.get(ref.name);
      if (!target) return;
      const kind = targetKind(target);
      if (ref.key !== undefined && kind !== 'redis') {
        const message = `overrides a Redis key, but StreamTarget "${ref.name}" writes to ${kind}${kind === 'kafka' ? '; use topic' : ''}`;
        errors.push(errorAt(place, d, ['spec', 'targets', i, 'key'], message));
      }
      if (ref.topic !== undefined && kind !== 'kafka') {
        const message = `overrides a Kafka topic, but StreamTarget "${ref.name}" writes to ${kind}${kind === 'redis' ? '; use key' : ''}`;
        errors.push(errorAt(place, d, ['spec', 'targets', i, 'topic'], message));
      }
    });
  });
  return errors;
}

function holdErrors({ holds, watchNames }: Sorted, place: PlaceField): SpecError[] {
  const errors: SpecError[] = [];
  for (const d of holds) {
    const watch = d.resource?.kind === 'ProcessOverride' ? d.resource.spec.watch : undefined;
    if (watch === undefined || watchNames.has(watch)) continue;
    const message = `no ProcessWatch "${watch}"${didYouMean(watch, watchNames)}; declare the watch, or delete this override`;
    errors.push(errorAt(place, d, ['spec', 'watch'], message));
  }
  return errors;
}

/** True when a normalised repo path stays inside the repo. */
export function isInsideRepo(path: string): boolean {
  return !path.startsWith('/') && path !== '..' && !path.startsWith('../') && path !== '.';
}

function sourceErrors(
  { sources }: Sorted,
  tree: ReadonlyMap<string, Buffer>,
  symlinks: ReadonlyMap<string, string>,
  place: PlaceField,
): SpecError[] {
  const errors: SpecError[] = [];
  for (const d of sources) {
    const source = d.resource?.kind === 'ConfigFile' ? d.resource.spec.source : undefined;
    if (source === undefined) continue;
    if (!isInsideRepo(source)) {
      const message = `"${source}" is outside the repo; name a file relative to the repo root`;
      errors.push(errorAt(place, d, ['spec', 'source'], message));
    } else if (!tree.has(source) && !onSymlink(source, symlinks)) {
      // A source on a symlink is reported by the policy pass (policy-checks.ts), with the link.
      const close = closestMatch(source, tree.keys());
      const hint = close === undefined ? '' : `; did you mean "${close}"?`;
      errors.push(errorAt(place, d, ['spec', 'source'], `no file "${source}" in the repo${hint}`));
    }
  }
  return errors;
}

function onSymlink(path: string, symlinks: ReadonlyMap<string, string>): boolean {
  const parts = path.split('/');
  return parts.some((_, i) => symlinks.has(parts.slice(0, i + 1).join('/')));
}

/**
 * Every cross-document error; `docs` in file order, so "first defined" is the earlier file. `place`
 * finds the fields errors name (default: the positions recorded in `refs`).
 */
export function crossRefErrors(
  docs: ValidatedDoc[],
  tree: ReadonlyMap<string, Buffer>,
  symlinks: ReadonlyMap<string, string> = new Map(),
  place: PlaceField = recordedPosition,
): SpecError[] {
  const sorted = sortDocs(docs, place);
  return [
    ...sorted.duplicates,
    ...routeTargetErrors(sorted, place),
    ...sourceErrors(sorted, tree, symlinks, place),
    ...holdErrors(sorted, place),
  ];
}
