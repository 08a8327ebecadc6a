/**
 * The GseTaskPort of a running controller (src/gse-task): its tracked hosts, plans, exec engine, store and
 * process overrides; transfer sources are read under `--artifact-dir`.
 */
import { randomUUID } from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { GSE_BAD_REQUEST, GseError } from '../gse-task/errors.js';
import type { GseHost, GseTaskPort } from '../gse-task/port.js';
import type { Controller } from './controller.js';
import { factsOf } from './controller.js';

/** The GSE task calls' view of a running controller. */
export function gseTaskPort(c: Controller): GseTaskPort {
  return {
    hosts: () =>
      c.reconciler.hostStates().map((h): GseHost => {
        const session = c.hub.session(h.hostId);
        const facts = session ? factsOf(session) : c.reconciler.selectableFor(h.hostId);
        return {
          hostId: h.hostId,
          ips: facts?.ips ?? [],
          cloudId: facts?.cloudId ?? 0,
          alive: session?.status === 'Connected',
        };
      }),
    manifestFor: (id) => c.reconciler.desiredFor(id),
    processOf: (id, name) =>
      c.reconciler.reportedItems(id).find((r) => r.kind === 'ProcessWatch' && r.name === name)?.process,
    exec: {
      startOnHosts: (ids, task) => c.exec.startOnHosts(ids, task),
      cancel: (taskId, ids) => c.exec.cancel(taskId, ids),
    },
    store: c.store,
    overrides: {
      forHost: (id) => c.overrides?.forHost(id) ?? [],
      setAll: async (list) => c.overrides?.setAll(list),
      clear: async (id, name) => c.overrides?.clear(id, name),
    },
    readSource: (dir, name) => readArtifactSource(c.options.artifactDir, dir, name),
    now: () => Date.now(),
    newId: randomUUID,
  };
}

/** `dir/name` under the artifact dir (a leading `/` is taken as the artifact dir's root); never outside it. */
export async function readArtifactSource(
  artifactDir: string | undefined,
  dir: string,
  name: string,
): Promise<Buffer> {
  const what = `${dir.replace(/\/+$/, '')}/${name}`;
  if (artifactDir === undefined)
    throw new GseError(
      GSE_BAD_REQUEST,
      `source ${what}: file transfers read their sources under the controller's --artifact-dir, and none is set`,
    );
  try {
    const base = await realpath(artifactDir);
    const file = await realpath(join(base, '.', dir, name));
    const rel = relative(base, file);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel))
      throw new Error('it lies outside the artifact dir');
    return await readFile(file);
  } catch (err) {
    throw new GseError(
      GSE_BAD_REQUEST,
      `source ${what}: cannot read it under --artifact-dir ${artifactDir}: ${(err as Error).message}`,
    );
  }
}
