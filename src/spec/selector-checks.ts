/** Checks on host selectors that a schema cannot express: glob syntax, CIDRs, matchExpression values. */
import { isIP } from 'node:net';
import type { FieldPath } from './field-path.js';
import type { Issue } from './issue.js';
import type { MatchExpression } from './types.js';

/** What is wrong with a host-name glob (`*`, `?`, `[abc]`, `[a-z]`, `[!abc]`), or undefined when it is fine. */
export function globProblem(glob: string): string | undefined {
  if (/\s/.test(glob)) return 'contains whitespace';
  if (/[{}]/.test(glob)) return 'braces are not supported; list each pattern separately';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === ']') return 'has a "]" without a "["';
    if (c !== '[') continue;
    const end = glob.indexOf(']', i + 1);
    if (end === -1) return 'has a "[" without a closing "]"';
    const body = glob.slice(i + 1, end).replace(/^[!^]/, '');
    if (body === '') return 'has an empty character class "[]"';
    for (const m of body.matchAll(/(.)-(.)/g)) {
      const [range = '', from = '', to = ''] = m;
      if (from > to) return `has a reversed range "${range}"`;
    }
    i = end;
  }
  return undefined;
}

const MAX_PREFIX = { 4: 32, 6: 128 } as const;

/** What is wrong with a CIDR (or single address), or undefined when it is fine. */
export function cidrProblem(cidr: string): string | undefined {
  const parts = cidr.split('/');
  if (parts.length > 2) return 'has more than one "/"';
  const [address = '', prefix] = parts;
  const family = isIP(address);
  if (family !== 4 && family !== 6) return `"${address}" is not an IPv4 or IPv6 address`;
  if (prefix === undefined) return undefined;
  const max = MAX_PREFIX[family];
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return `the prefix length must be 0 to ${max}`;
  return undefined;
}

function expressionIssues(exprs: MatchExpression[], path: FieldPath): Issue[] {
  const issues: Issue[] = [];
  exprs.forEach((e, i) => {
    const at = [...path, i];
    const hasValues = e.values !== undefined && e.values.length > 0;
    if ((e.operator === 'In' || e.operator === 'NotIn') && !hasValues) {
      issues.push({ path: [...at, 'values'], message: `operator ${e.operator} needs values` });
    } else if ((e.operator === 'Exists' || e.operator === 'DoesNotExist') && e.values !== undefined) {
      issues.push({
        path: [...at, 'values'],
        anchor: 'key',
        message: `operator ${e.operator} takes no values`,
      });
    }
  });
  return issues;
}

/** The parts of a selector (or a HostGroup match) these checks look at. */
export interface SelectorLike {
  names?: string[];
  cidrs?: string[];
  matchExpressions?: MatchExpression[];
}

/** Every problem in a selector at `path`. */
export function selectorIssues(selector: SelectorLike, path: FieldPath): Issue[] {
  const issues: Issue[] = [];
  selector.names?.forEach((glob, i) => {
    const problem = globProblem(glob);
    if (problem)
      issues.push({
        path: [...path, 'names', i],
        message: `invalid glob ${JSON.stringify(glob)}: ${problem}`,
      });
  });
  selector.cidrs?.forEach((cidr, i) => {
    const problem = cidrProblem(cidr);
    if (problem)
      issues.push({
        path: [...path, 'cidrs', i],
        message: `invalid CIDR ${JSON.stringify(cidr)}: ${problem}`,
      });
  });
  if (selector.matchExpressions)
    issues.push(...expressionIssues(selector.matchExpressions, [...path, 'matchExpressions']));
  return issues;
}
