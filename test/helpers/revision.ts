/** Builds typed Revisions directly, for pure planner tests that do not need the YAML loader. */
import { KINDS, type Resource, type Revision } from '../../src/spec/types.js';

/** A Revision from resources in any order, indexed by kind as the loader indexes it. */
export function makeRevision(
  resources: Resource[],
  files: Record<string, string | Buffer> = {},
  id = 'rev-1',
): Revision {
  const byKind = Object.fromEntries(
    KINDS.map((k) => [k, resources.filter((r) => r.kind === k)]),
  ) as Revision['byKind'];
  const fileMap = new Map(
    Object.entries(files).map(([p, c]) => [p, Buffer.isBuffer(c) ? c : Buffer.from(c)]),
  );
  return { id, resources, byKind, files: fileMap };
}

const pos = { file: 'test.yaml', line: 1, col: 1 };

/** A ConfigFile resource with the loader's defaults filled in. */
export function configFile(
  name: string,
  spec: Partial<Extract<Resource, { kind: 'ConfigFile' }>['spec']>,
): Resource {
  return {
    apiVersion: 'gse/v1',
    kind: 'ConfigFile',
    metadata: { name },
    pos,
    spec: {
      hosts: { names: ['*'] },
      path: `/etc/${name}.conf`,
      template: false,
      mode: 0o644,
      syncPolicy: { selfHeal: true, prune: false },
      ...spec,
    },
  };
}

/** A HostGroup resource. */
export function hostGroup(
  name: string,
  match: Extract<Resource, { kind: 'HostGroup' }>['spec']['match'],
  labels: Record<string, string>,
): Resource {
  return { apiVersion: 'gse/v1', kind: 'HostGroup', metadata: { name }, pos, spec: { match, labels } };
}
