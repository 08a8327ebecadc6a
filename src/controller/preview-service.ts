/**
 * `POST /api/v1/preview` on the controller: loads a tree sent by `gsectl diff --tree` with the controller's own
 * limits and secret policy (parsed on worker threads, as revisions are), then previews it against the hosts
 * the controller knows (preview.ts). Nothing is stored, sent or applied.
 */
import type { HostFacts } from '../protocol/manifest.js';
import { createSpecLoader } from '../spec/load.js';
import type { SpecError } from '../spec/types.js';
import { type Controller, factsOf } from './controller.js';
import { type Preview, previewRevision } from './preview.js';

export type PreviewOutcome = { ok: true; preview: Preview } | { ok: false; errors: SpecError[] };

/** Validates `files` (posix path -> bytes) and previews the revision they make. */
export async function previewTree(
  c: Controller,
  files: ReadonlyMap<string, Buffer>,
): Promise<PreviewOutcome> {
  const result = await createSpecLoader().loadAsync(files, {
    limits: { maxSpecFileBytes: c.options.maxSpecFileBytes, maxRevisionBytes: c.options.maxRevisionBytes },
    secrets: { env: c.options.secretEnv, dir: c.options.secretDir },
    alwaysThreaded: true,
  });
  if (!result.ok) return { ok: false, errors: result.errors };
  const preview = previewRevision({
    revision: result.revision,
    current: c.reconciler.current,
    hosts: await knownHosts(c),
    desiredFor: (id) => c.reconciler.desiredFor(id),
    versions: c.rollouts.versionsOf(),
  });
  return { ok: true, preview };
}

/** Every host the reconciler tracks: live facts when connected, the stored record otherwise. */
async function knownHosts(c: Controller): Promise<HostFacts[]> {
  const out: HostFacts[] = [];
  for (const { hostId } of c.reconciler.hostStates()) {
    const session = c.hub.session(hostId);
    if (session) {
      out.push(factsOf(session));
      continue;
    }
    const rec = await c.store.getHost(hostId);
    if (rec)
      out.push({
        id: hostId,
        name: rec.name,
        ips: rec.ips,
        cloudId: rec.cloudId,
        os: rec.os,
        agentVersion: rec.agentVersion,
        labels: rec.labels,
        facts: rec.facts,
      });
  }
  return out;
}
