/**
 * Host selection: does a selector pick a host? Pure; used by the planner (resources, HostGroups) and the
 * router (Route.spec.hosts).
 */
import { BlockList, isIP } from 'node:net';
import { globToRegExp } from '../kernel/glob.js';
import type { HostFacts } from '../protocol/manifest.js';
import type { MatchExpression, Selector } from '../spec/types.js';

export { globToRegExp };

/**
 * The part of a host a selector looks at. `labels` are what Git gives the host (HostGroups); `agentLabels`
 * are what its agent declared in hello, seen only by `matchAgentLabels`.
 */
export type SelectableHost = Pick<HostFacts, 'name' | 'ips' | 'cloudId' | 'labels'> & {
  agentLabels?: Record<string, string>;
};

const cidrCache = new Map<string, BlockList>();

/** A BlockList holding the CIDRs (IPv4 and IPv6); cached per list. */
function cidrList(cidrs: string[]): BlockList {
  const cacheKey = cidrs.join(',');
  let list = cidrCache.get(cacheKey);
  if (list) return list;
  list = new BlockList();
  for (const cidr of cidrs) {
    const [net = '', bits = ''] = cidr.split('/');
    const family = isIP(net) === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(net, Number(bits || (family === 'ipv6' ? 128 : 32)), family);
  }
  cidrCache.set(cacheKey, list);
  return list;
}

/** True when the IP lies in one of the CIDRs. */
export function ipInCidrs(ip: string, cidrs: string[]): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  return cidrList(cidrs).check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

/** Every wanted label is an own property of `labels` with that value. */
function labelsMatch(wanted: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(wanted).every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v);
}

function expressionHolds(expr: MatchExpression, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, expr.key);
  const value = labels[expr.key];
  switch (expr.operator) {
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'In':
      return has && (expr.values ?? []).includes(value as string);
    case 'NotIn':
      return !has || !(expr.values ?? []).includes(value as string);
  }
}

/**
 * True when every clause present in the selector holds for the host (AND across clauses; any-of within
 * `names`, `cidrs` and `cloudIds`). An empty selector selects nothing: a resource must say where it goes.
 */
export function selectorMatches(selector: Selector | undefined, host: SelectableHost): boolean {
  if (!selector) return false;
  let clauses = 0;
  if (selector.names?.length) {
    clauses++;
    if (!selector.names.some((g) => globToRegExp(g).test(host.name))) return false;
  }
  if (selector.matchLabels && Object.keys(selector.matchLabels).length > 0) {
    clauses++;
    if (!labelsMatch(selector.matchLabels, host.labels)) return false;
  }
  if (selector.matchAgentLabels && Object.keys(selector.matchAgentLabels).length > 0) {
    clauses++;
    if (!labelsMatch(selector.matchAgentLabels, host.agentLabels ?? {})) return false;
  }
  if (selector.matchExpressions?.length) {
    clauses++;
    if (!selector.matchExpressions.every((e) => expressionHolds(e, host.labels))) return false;
  }
  if (selector.cidrs?.length) {
    clauses++;
    const cidrs = selector.cidrs;
    if (!host.ips.some((ip) => ipInCidrs(ip, cidrs))) return false;
  }
  if (selector.cloudIds?.length) {
    clauses++;
    if (!selector.cloudIds.includes(host.cloudId)) return false;
  }
  return clauses > 0;
}
