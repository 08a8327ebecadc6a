/**
 * The selector syntax of the command line (`gsectl exec --hosts ...`, `get hosts -l ...`):
 * comma-separated terms, all of which must hold.
 *   role=web         label role is web            name=web-*     host name glob
 *   !canary          label canary is absent       cidr=10.0.0.0/8  an IP in the CIDR
 *   canary           label canary is present      cloud=0        cloud area id
 *   web-*            (a term with a glob char and no =) a host name glob
 */
import type { MatchExpression, Selector } from '../spec/types.js';

export type SelectorParse = { ok: true; selector: Selector } | { ok: false; error: string };

/** Parses the command-line selector syntax into a Selector; `*` alone selects every host. */
export function parseSelectorText(text: string): SelectorParse {
  const names: string[] = [];
  const cidrs: string[] = [];
  const cloudIds: number[] = [];
  const labels: Record<string, string> = {};
  const exprs: MatchExpression[] = [];
  const terms = text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (terms.length === 0)
    return { ok: false, error: 'empty selector: give e.g. role=web, name=web-*, or * for every host' };
  for (const term of terms) {
    const eq = term.indexOf('=');
    if (eq === -1) {
      if (term.startsWith('!')) exprs.push({ key: term.slice(1), operator: 'DoesNotExist' });
      else if (/[*?[]/.test(term)) names.push(term);
      else exprs.push({ key: term, operator: 'Exists' });
      continue;
    }
    const key = term.slice(0, eq).trim();
    const value = term.slice(eq + 1).trim();
    if (!key || !value) return { ok: false, error: `selector term "${term}": expected key=value` };
    if (key === 'name') names.push(value);
    else if (key === 'cidr') cidrs.push(value);
    else if (key === 'cloud') {
      if (!/^\d+$/.test(value)) return { ok: false, error: `selector term "${term}": cloud takes a number` };
      cloudIds.push(Number(value));
    } else labels[key] = value;
  }
  const selector: Selector = {};
  if (names.length > 0) selector.names = names;
  if (cidrs.length > 0) selector.cidrs = cidrs;
  if (cloudIds.length > 0) selector.cloudIds = cloudIds;
  if (Object.keys(labels).length > 0) selector.matchLabels = labels;
  if (exprs.length > 0) selector.matchExpressions = exprs;
  return { ok: true, selector };
}
