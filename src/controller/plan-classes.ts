/**
 * Planning once per host class: hosts for which the planner reads the same things (their labels, which
 * resources select them, the template variables those resources use, their rollout assignments) get the
 * same manifest, so it is planned (rendered and hashed) once and shared. Pure: no I/O, no clock; the
 * cache lives as long as the planner, i.e. one revision.
 */
import type { HostFacts, HostManifest } from '../protocol/manifest.js';
import type { ConfigFile, Revision, Selector } from '../spec/types.js';
import { type PlanError, planHost, selectableHost, type VersionsOf } from './plan.js';
import { type SelectableHost, selectorMatches } from './select.js';
import { templatePaths, templateValue } from './template.js';

/** The plan shared by the hosts of one class (a manifest without its host id). */
export interface ClassPlan {
  readonly key: string;
  readonly revision: string;
  readonly labels: Record<string, string>;
  readonly items: HostManifest['items'];
  readonly hash: string;
  /** True when a resource could not be rendered: such hosts are planned one by one (errors name the host). */
  readonly failed: boolean;
}

/** One host's plan: its manifest (sharing its class's labels and items), errors, and how selectors see it. */
export interface HostPlan {
  manifest: HostManifest;
  errors: PlanError[];
  selectable: SelectableHost;
  /** The class it belongs to. */
  plan: ClassPlan;
}

/** A selectable resource in the planner's visiting order. */
interface Selecting {
  selector: Selector;
  /** Template variables of a templated ConfigFile. */
  paths?: string[];
  /** An AgentVersion's name: the host's rollout assignment is part of its class. */
  agentVersion?: string;
}

/** Plans hosts of one revision, once per class. */
export class ClassPlanner {
  private readonly classes = new Map<string, ClassPlan>();
  private readonly selecting: Selecting[];

  constructor(readonly revision: Revision) {
    const k = revision.byKind;
    this.selecting = [
      ...k.ConfigFile.map((cf) => ({ selector: cf.spec.hosts, paths: templateVariables(cf, revision) })),
      ...k.ProcessWatch.map((pw) => ({ selector: pw.spec.hosts })),
      ...k.HostCheck.map((c) => ({ selector: c.spec.hosts })),
      ...k.Remediation.filter((r) => r.spec.on.event !== 'agent.lost').map((r) => ({
        selector: r.spec.hosts,
      })),
      ...k.AgentVersion.map((av) => ({ selector: av.spec.hosts, agentVersion: av.metadata.name })),
    ];
  }

  /** Distinct classes planned so far. */
  get size(): number {
    return this.classes.size;
  }

  /** The host's manifest: its class's plan when one was made, else planned now and kept for the class. */
  plan(host: HostFacts, versions?: VersionsOf): HostPlan {
    const selectable = selectableHost(host, this.revision.byKind.HostGroup);
    const key = this.classKey(host, selectable, versions);
    let plan = this.classes.get(key);
    if (!plan) {
      const planned = planHost(this.revision, host, versions);
      const { labels, items, hash, revision } = planned.manifest;
      plan = { key, revision, labels, items, hash, failed: planned.errors.length > 0 };
      this.classes.set(key, plan);
      if (plan.failed) return { ...planned, selectable, plan };
    } else if (plan.failed) {
      return { ...planHost(this.revision, host, versions), selectable, plan };
    }
    const { revision, labels, items, hash } = plan;
    return { manifest: { hostId: host.id, revision, labels, items, hash }, errors: [], selectable, plan };
  }

  /**
   * What the planner reads of the host, as text: its own and its HostGroups' labels, which resources
   * select it, the values of the template variables of the selected templated ConfigFiles, and its
   * rollout assignment per selected AgentVersion. Equal keys give equal manifests (host id aside).
   */
  classKey(host: HostFacts, selectable: SelectableHost, versions?: VersionsOf): string {
    const target: HostFacts & SelectableHost = { ...host, ...selectable };
    const labels = { ...host.labels, ...selectable.labels };
    const context = { host: { ...host, labels }, revision: this.revision.id };
    let selected = '';
    const reads: unknown[] = [];
    for (const s of this.selecting) {
      const hit = selectorMatches(s.selector, target);
      selected += hit ? '1' : '0';
      if (!hit) continue;
      if (s.paths) for (const path of s.paths) reads.push(templateValue(context, path) ?? null);
      if (s.agentVersion !== undefined) reads.push(versions?.(s.agentVersion, host) ?? null);
    }
    return JSON.stringify([sortedEntries(host.labels), sortedEntries(selectable.labels), selected, reads]);
  }
}

/** The variables a templated ConfigFile reads (none for a plain one, or one whose source is absent). */
function templateVariables(cf: ConfigFile, revision: Revision): string[] | undefined {
  if (!cf.spec.template) return undefined;
  const text =
    cf.spec.content ??
    (cf.spec.source === undefined ? undefined : revision.files.get(cf.spec.source)?.toString('utf8'));
  return text === undefined ? undefined : [...new Set(templatePaths(text))];
}

function sortedEntries(labels: Record<string, string>): Array<[string, string]> {
  return Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
