/**
 * Which hosts are lost (heartbeat overdue past a grace) and which came back, decided purely from the hosts'
 * states, the clock and what was raised before: `agent.lost` is raised once per loss, not per sweep, and
 * `agent.start` once when the host returns. Each agent.lost rule fires once per loss, when the host is
 * overdue past that rule's own grace.
 */

/** A host as the sweep sees it. */
export interface LostHostView {
  hostId: string;
  /** Disconnected, or connected but silent (heartbeat overdue). */
  overdue: boolean;
  /** When it was last heard from (epoch ms). */
  lastSeenMs: number;
}

/** An agent.lost rule: its item key, grace, and whether it selects a host. */
export interface LostRule {
  key: string;
  graceMs: number;
  selects(hostId: string): boolean;
}

/** Per lost host: when it was last seen (epoch ms) and the rules already fired for this loss. */
export type RaisedLost = Record<string, { lastSeenMs: number; fired: string[] }>;

export interface LostSweepInput {
  hosts: readonly LostHostView[];
  rules: readonly LostRule[];
  now: number;
  /** When the controller started: silence before it is not counted (hosts were not able to reach it). */
  startedAt: number;
  /** The grace of a host no agent.lost rule selects (the event is raised and recorded all the same). */
  defaultGraceMs: number;
  raised: RaisedLost;
}

export interface LostSweep {
  /** Hosts to raise agent.lost for now. */
  lost: string[];
  /** Lost hosts that came back: raise agent.start. */
  returned: string[];
  /** Rules to decide now, one per (lost host, rule) and loss. */
  fire: Array<{ hostId: string; ruleKey: string }>;
  /** The raised set to keep. */
  raised: RaisedLost;
}

/** The sweep's decisions (pure). A host forgotten by the controller simply leaves the raised set. */
export function sweepLostHosts(input: LostSweepInput): LostSweep {
  const raised: RaisedLost = {};
  const lost: string[] = [];
  const returned: string[] = [];
  const fire: LostSweep['fire'] = [];
  for (const host of input.hosts) {
    const before = input.raised[host.hostId];
    if (!host.overdue) {
      if (before) returned.push(host.hostId);
      continue;
    }
    const overdueMs = input.now - Math.max(host.lastSeenMs, input.startedAt);
    const rules = input.rules.filter((r) => r.selects(host.hostId));
    const grace = rules.length > 0 ? Math.min(...rules.map((r) => r.graceMs)) : input.defaultGraceMs;
    let entry = before;
    if (!entry) {
      if (overdueMs < grace) continue;
      entry = { lastSeenMs: host.lastSeenMs, fired: [] };
      lost.push(host.hostId);
    }
    const fired = [...entry.fired];
    for (const rule of rules) {
      if (fired.includes(rule.key) || overdueMs < rule.graceMs) continue;
      fired.push(rule.key);
      fire.push({ hostId: host.hostId, ruleKey: rule.key });
    }
    raised[host.hostId] = { lastSeenMs: entry.lastSeenMs, fired };
  }
  return { lost, returned, fire, raised };
}
