/**
 * Where the agent connects next: the controller URLs it was given (`--controller URL1,URL2`), each
 * expanded to every address its host name resolves to, tried in turn. A URL keeps its host name, so TLS
 * verifies the certificate for that name whichever address answers; only the TCP connect is pinned.
 */
import { isIP } from 'node:net';

/** One place to connect to. */
export interface ControllerTarget {
  url: string;
  /** The address the connect is pinned to; undefined: let the system resolve the URL's host. */
  address?: string;
  family?: 4 | 6;
}

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a host name to all its addresses (dns.promises.lookup with all: true). */
export type ResolveAll = (host: string) => Promise<ResolvedAddress[]>;

/** The host name of a URL without IPv6 brackets. */
function hostOf(url: string): string {
  return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
}

/** A URL's targets: one per address of a name that resolves to several, else the URL alone. */
export async function expandTarget(url: string, resolveAll: ResolveAll): Promise<ControllerTarget[]> {
  const host = hostOf(url);
  if (isIP(host) !== 0) return [{ url }];
  let addresses: ResolvedAddress[];
  try {
    addresses = await resolveAll(host);
  } catch {
    // Unresolvable now: connecting to the URL reports the DNS error in the usual way.
    return [{ url }];
  }
  const unique = [...new Map(addresses.map((a) => [a.address, a])).values()];
  if (unique.length <= 1) return [{ url }];
  return unique.map((a) => ({ url, address: a.address, family: a.family === 6 ? 6 : 4 }));
}

/**
 * Round-robin over every URL's targets, starting at URL `startAt` (so a fleet given the same list spreads
 * over the controllers). Names are resolved again each time the list comes round, so DNS changes are seen.
 */
export class ControllerTargets {
  private queue: ControllerTarget[] = [];
  private nextUrl: number;

  constructor(
    private readonly urls: readonly string[],
    private readonly resolveAll: ResolveAll,
    startAt = 0,
  ) {
    if (urls.length === 0) throw new Error('at least one controller URL is required');
    this.nextUrl = ((startAt % urls.length) + urls.length) % urls.length;
  }

  /** How many URLs there are. */
  get size(): number {
    return this.urls.length;
  }

  /** The next place to connect to. */
  async next(): Promise<ControllerTarget> {
    for (;;) {
      const target = this.queue.shift();
      if (target) return target;
      const url = this.urls[this.nextUrl] as string;
      this.nextUrl = (this.nextUrl + 1) % this.urls.length;
      this.queue = await expandTarget(url, this.resolveAll);
    }
  }
}

/**
 * The URLs of `--controller URL1,URL2,...`, each ending in the agent path ('/agent' is appended when
 * missing). Throws naming the flag when the list is empty or has an empty entry.
 */
export function parseControllerList(text: string): string[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === ''))
    throw new Error(
      `--controller "${text}": expected one URL or a comma-separated list (wss://a:7070/agent,wss://b:7070/agent), with no empty entries`,
    );
  return parts.map((u) => (/\/agent\/?$/.test(u) ? u : `${u.replace(/\/+$/, '')}/agent`));
}
