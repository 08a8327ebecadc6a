/**
 * The planner: a pure function from a validated Revision and an inventory of hosts to one manifest per
 * host. No I/O, no clock: the same inputs give byte-identical manifests and hashes.
 */
import {
  compareManifestItems,
  type HostFacts,
  type HostManifest,
  type ManifestConfigFile,
  type ManifestHostCheck,
  type ManifestItem,
  type ManifestProcessWatch,
  type ManifestRemediation,
} from '../protocol/manifest.js';
import { agentVersionItem, type VersionAssignment } from '../rollout/item.js';
import type { ConfigFile, HostGroup, Revision } from '../spec/types.js';
import { hashValue, sha256 } from './hash.js';
import { type SelectableHost, selectorMatches } from './select.js';
import { renderTemplate } from './template.js';

/**
 * What a rollout tells a host to run for AgentVersion `name`; undefined means Git's version. Keeps the
 * planner pure: the rollout state is read by the caller.
 */
export type VersionsOf = (name: string, host: HostFacts) => VersionAssignment | undefined;

/** A resource that could not be planned for a host (a template variable the host lacks, say). */
export interface PlanError {
  hostId: string;
  resource: string;
  message: string;
}

export interface Plan {
  manifests: Map<string, HostManifest>;
  errors: PlanError[];
}

/**
 * Labels the controller gives a host: those of every HostGroup that matches it, in name order (a later
 * group wins a conflict). HostGroups match on names, addresses and cloud areas, never on labels, so what
 * an agent declares cannot pull a host into a group.
 */
export function groupLabels(host: HostFacts, groups: HostGroup[]): Record<string, string> {
  const labels: Record<string, string> = {};
  const sorted = [...groups].sort((a, b) =>
    a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0,
  );
  for (const g of sorted) {
    if (selectorMatches(g.spec.match, { ...host, labels: {} })) Object.assign(labels, g.spec.labels);
  }
  return labels;
}

/**
 * Labels a host ends up with (shown in status and usable in templates): its agent-declared labels, then
 * those of its HostGroups, which win on conflict (an agent cannot claim `role: db` against Git).
 */
export function effectiveLabels(host: HostFacts, groups: HostGroup[]): Record<string, string> {
  return { ...host.labels, ...groupLabels(host, groups) };
}

/**
 * The host as selectors see it: `labels` are only what Git gives (HostGroups); what the agent declared is
 * `agentLabels`, seen only by `matchAgentLabels`, so targeting on it is explicit in the spec.
 */
export function selectableHost(host: HostFacts, groups: HostGroup[]): SelectableHost {
  return {
    name: host.name,
    ips: host.ips,
    cloudId: host.cloudId,
    labels: groupLabels(host, groups),
    agentLabels: host.labels,
  };
}

function withHash<T extends Omit<ManifestItem, 'hash'>>(item: T): T & { hash: string } {
  return { ...item, hash: hashValue(item) };
}

type Planned<T> = { ok: true; item: T } | { ok: false; message: string };

function planConfigFile(cf: ConfigFile, host: HostFacts, revision: Revision): Planned<ManifestConfigFile> {
  const { spec } = cf;
  let bytes: Buffer;
  if (spec.content !== undefined) bytes = Buffer.from(spec.content, 'utf8');
  else {
    const file = spec.source === undefined ? undefined : revision.files.get(spec.source);
    if (!file) return { ok: false, message: `source ${spec.source} is not in revision ${revision.id}` };
    bytes = file;
  }
  const isText = isUtf8(bytes);
  if (spec.template) {
    if (!isText) return { ok: false, message: `template: true but ${spec.source} is not UTF-8 text` };
    const rendered = renderTemplate(bytes.toString('utf8'), { host, revision: revision.id });
    if (!rendered.ok) {
      const parts = [
        ...rendered.missing.map((m) => `{{ ${m} }} is not set on host ${host.name}`),
        ...rendered.unparsed.map((u) => `{{${u}}} is not a variable (use e.g. {{ host.labels.role }})`),
      ];
      return { ok: false, message: `template: ${parts.join('; ')}` };
    }
    bytes = Buffer.from(rendered.text, 'utf8');
  }
  const item: Omit<ManifestConfigFile, 'hash'> = {
    kind: 'ConfigFile',
    name: cf.metadata.name,
    path: spec.path,
    content: isText ? bytes.toString('utf8') : bytes.toString('base64'),
    encoding: isText ? 'utf8' : 'base64',
    contentHash: sha256(bytes),
    mode: spec.mode,
    owner: spec.owner,
    onChange: spec.onChange,
    selfHeal: spec.syncPolicy.selfHeal,
    prune: spec.syncPolicy.prune,
  };
  return { ok: true, item: withHash(item) };
}

function isUtf8(bytes: Buffer): boolean {
  if (bytes.includes(0)) return false;
  return Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}

/** The manifest for one host; errors name the resources that could not be rendered for it. */
export function planHost(
  revision: Revision,
  host: HostFacts,
  versions?: VersionsOf,
): { manifest: HostManifest; errors: PlanError[] } {
  const selectable = selectableHost(host, revision.byKind.HostGroup);
  const labels = { ...host.labels, ...selectable.labels };
  // Templates see the effective labels; selectors see Git's labels and, only when asked, the agent's.
  const target: HostFacts & SelectableHost = { ...host, ...selectable };
  const rendered: HostFacts = { ...host, labels };
  const items: ManifestItem[] = [];
  const errors: PlanError[] = [];

  for (const cf of revision.byKind.ConfigFile) {
    if (!selectorMatches(cf.spec.hosts, target)) continue;
    const planned = planConfigFile(cf, rendered, revision);
    if (planned.ok) items.push(planned.item);
    else
      errors.push({ hostId: host.id, resource: `ConfigFile/${cf.metadata.name}`, message: planned.message });
  }
  for (const pw of revision.byKind.ProcessWatch) {
    if (!selectorMatches(pw.spec.hosts, target)) continue;
    const { process, ensure, start, stop, restart, probeIntervalMs } = pw.spec;
    const item: Omit<ManifestProcessWatch, 'hash'> = {
      kind: 'ProcessWatch',
      name: pw.metadata.name,
      process,
      ensure,
      start,
      stop,
      restart,
      probeIntervalMs,
    };
    items.push(withHash(item));
  }
  for (const check of revision.byKind.HostCheck) {
    if (!selectorMatches(check.spec.hosts, target)) continue;
    const { hosts: _hosts, ...probe } = check.spec;
    const item: Omit<ManifestHostCheck, 'hash'> = { kind: 'HostCheck', name: check.metadata.name, ...probe };
    items.push(withHash(item));
  }
  for (const rem of revision.byKind.Remediation) {
    // agent.lost runs on a runner host, never on the lost host itself.
    if (rem.spec.on.event === 'agent.lost') continue;
    if (!selectorMatches(rem.spec.hosts, target)) continue;
    const { on, run, cooldownMs, maxConcurrent, maxPerHour, dryRun } = rem.spec;
    const item: Omit<ManifestRemediation, 'hash'> = {
      kind: 'Remediation',
      name: rem.metadata.name,
      on,
      run,
      cooldownMs,
      maxConcurrent,
      maxPerHour,
      dryRun,
    };
    items.push(withHash(item));
  }
  for (const av of revision.byKind.AgentVersion) {
    if (!selectorMatches(av.spec.hosts, target)) continue;
    items.push(agentVersionItem(av, versions?.(av.metadata.name, host)));
  }

  items.sort(compareManifestItems);
  const hash = manifestHash(labels, items);
  return { manifest: { hostId: host.id, revision: revision.id, labels, items, hash }, errors };
}

/** The hash of a manifest: over its labels and its items' keys and hashes, in order. */
export function manifestHash(labels: Record<string, string>, items: readonly ManifestItem[]): string {
  return hashValue({ labels, items: items.map((i) => `${i.kind}/${i.name}@${i.hash}`) });
}

/** One manifest per host of the inventory; a host selected by nothing gets an empty manifest. */
export function planManifests(revision: Revision, hosts: HostFacts[], versions?: VersionsOf): Plan {
  const manifests = new Map<string, HostManifest>();
  const errors: PlanError[] = [];
  for (const host of hosts) {
    const planned = planHost(revision, host, versions);
    manifests.set(host.id, planned.manifest);
    errors.push(...planned.errors);
  }
  return { manifests, errors };
}
