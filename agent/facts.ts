/** What the agent tells the controller about its host in `hello`. */
import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces, platform, release } from 'node:os';
import type { AgentFacts } from '../src/protocol/messages.js';

/** The version of a checkout that was not packed by `gsectl artifact build`. */
const DEVELOPMENT_VERSION = '0.1.0';

/** The packed version (`dist/VERSION`, written by `gsectl artifact build --version`), else the checkout's. */
function packedVersion(): string {
  try {
    const text = readFileSync(new URL('../VERSION', import.meta.url), 'utf8').trim();
    return text || DEVELOPMENT_VERSION;
  } catch {
    return DEVELOPMENT_VERSION;
  }
}

export const AGENT_VERSION = packedVersion();

export interface FactOverrides {
  name?: string;
  ips?: string[];
  cloudId?: number;
  labels?: Record<string, string>;
}

/** The host's non-loopback addresses, IPv4 first; loopback only when there is nothing else. */
export function hostIps(): string[] {
  const all = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  const external = all.filter((a) => !a.internal);
  const chosen = (external.length > 0 ? external : all).sort((a, b) =>
    a.family === b.family ? 0 : a.family === 'IPv4' ? -1 : 1,
  );
  return [...new Set(chosen.map((a) => a.address))];
}

/** Facts from the OS, with flags taking precedence. */
export function collectFacts(overrides: FactOverrides): AgentFacts {
  return {
    name: overrides.name ?? hostname(),
    ips: overrides.ips ?? hostIps(),
    cloudId: overrides.cloudId ?? 0,
    os: `${platform()} ${release()}`,
    agentVersion: AGENT_VERSION,
    labels: overrides.labels ?? {},
  };
}

/** Parses `k=v,k2=v2` into labels; throws on an item without `=`. */
export function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!text) return labels;
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--labels: "${pair}" is not key=value`);
    labels[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return labels;
}
