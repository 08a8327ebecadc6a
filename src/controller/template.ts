/**
 * Logic-less templates for ConfigFile content: `{{ host.name }}`, `{{ host.ip }}`, `{{ host.labels.role }}`,
 * `{{ host.facts.cpus }}`, `{{ revision }}`. No conditionals or loops, on purpose: what differs per host
 * belongs in labels and facts, where it is visible and selectable. `{{{{` writes a literal `{{`.
 */
import type { HostFacts } from '../protocol/manifest.js';

const TAG = /\{\{\{\{|\{\{([^{}]*)\}\}/g;
const VARIABLE = /^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*$/;

export interface TemplateContext {
  host: HostFacts & { labels: Record<string, string> };
  revision: string;
}

export type RenderResult = { ok: true; text: string } | { ok: false; missing: string[]; unparsed: string[] };

/** The value a template variable takes for a context (undefined when not set); what `{{ path }}` renders. */
export function templateValue(ctx: TemplateContext, path: string): string | undefined {
  return lookup(ctx, path);
}

/** The variable paths a template reads, in order, repeats kept (malformed tags left out). */
export function templatePaths(text: string): string[] {
  const paths: string[] = [];
  for (const m of text.matchAll(TAG)) {
    const path = m[1]?.trim();
    if (path !== undefined && VARIABLE.test(path)) paths.push(path);
  }
  return paths;
}

function lookup(ctx: TemplateContext, path: string): string | undefined {
  const { host } = ctx;
  switch (path) {
    case 'revision':
      return ctx.revision;
    case 'host.name':
      return host.name;
    case 'host.id':
      return host.id;
    case 'host.ip':
      return host.ips[0];
    case 'host.ips':
      return host.ips.join(',');
    case 'host.cloudId':
      return String(host.cloudId);
    case 'host.os':
      return host.os;
    case 'host.agentVersion':
      return host.agentVersion;
  }
  const [scope, key, ...rest] = path.split('.');
  if (scope !== 'host' || key === undefined || rest.length === 0) return undefined;
  const name = rest.join('.');
  // Own properties only: `host.labels.constructor` or `__proto__` must be "not set", never Object internals.
  if (key === 'labels') return ownValue(host.labels, name);
  if (key === 'facts') return ownValue(host.facts, name);
  return undefined;
}

/** A map's own string, number or boolean value for `name` as text; anything else is "not set". */
function ownValue(map: Readonly<Record<string, unknown>> | undefined, name: string): string | undefined {
  if (!map || !Object.hasOwn(map, name)) return undefined;
  const v = map[name];
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

/** Renders `{{ path }}` tags; an unknown variable or a malformed tag is an error, never rendered as empty. */
export function renderTemplate(text: string, ctx: TemplateContext): RenderResult {
  const missing: string[] = [];
  const unparsed: string[] = [];
  const out = text.replace(TAG, (tag, inner: string | undefined) => {
    if (inner === undefined) return '{{';
    const path = inner.trim();
    if (!VARIABLE.test(path)) {
      unparsed.push(path);
      return tag;
    }
    const v = lookup(ctx, path);
    if (v === undefined) {
      missing.push(path);
      return tag;
    }
    return v;
  });
  if (missing.length > 0 || unparsed.length > 0) return { ok: false, missing, unparsed };
  return { ok: true, text: out };
}
