/**
 * The router: matches each data record against the revision's Routes (channel, host selector, filters),
 * batches the matches per (route, target) and hands the batches to one TargetRunner per StreamTarget.
 * `route()` resolves once every record is written or spooled at every target it matched: the moment the
 * hub may ack the agent. `reconfigure()` applies a new revision without a restart.
 */
import type { DataRecord } from '../protocol/messages.js';
import type { Route, StreamTarget } from '../spec/types.js';
import { BatchLane, flushLanesByTarget, laneKey } from './batch-lane.js';
import { RouterClosedError, RunnerClosedError, TargetUnknownError } from './errors.js';
import { type GseFormatOptions, gseDataIdOf } from './gse-format.js';
import { diffTargets } from './revision-diff.js';
import {
  type CompiledRoute,
  compileRoutes,
  type HostMatcherFactory,
  outRecordFor,
  serializeRecord,
} from './route-table.js';
import type { SecretResolver } from './secrets.js';
import { Mutex, withTimeout } from './sync.js';
import { DEFAULT_DRAIN_TIMEOUT_MS, type DrainReport, spoolDirFor, TargetRunner } from './target-runner.js';
import { defaultOpenWriter, type OpenWriter, targetTypeOf } from './target-writers.js';
import { type Clock, type Logger, type Sleep, silentLogger, type TargetHealth } from './types.js';

export interface RouterConfig {
  routes: Route[];
  targets: StreamTarget[];
  /** The controller's state dir; spools live in `<stateDir>/spool/<target>/`. */
  stateDir: string;
}

export interface RouterDeps {
  /** Selector matching for `spec.hosts` (the planner's); routes without `hosts` match every host. */
  hostMatcher: HostMatcherFactory;
  resolveSecret: SecretResolver;
  /** Default: real Redis / Kafka / file writers. */
  openWriter?: OpenWriter;
  logger?: Logger;
  clock?: Clock;
  sleep?: Sleep;
  /** How long a removed or changed target may drain; default DEFAULT_DRAIN_TIMEOUT_MS. */
  drainTimeoutMs?: number;
  /** `timezone` of GSE events; default 0. */
  gseTimezoneHours?: number;
}

export interface RouteStats {
  /** Records on the route's channel. */
  in: number;
  /** Record deliveries accepted (written or spooled) at the route's targets. */
  out: number;
  /** Records on the channel dropped by the host selector or the filters. */
  filtered: number;
}

export interface TargetStats {
  out: number;
  spooled: number;
  retried: number;
  failed: number;
}

export interface RouterStats {
  routes: Record<string, RouteStats>;
  targets: Record<string, TargetStats>;
}

export interface ReconfigureReport {
  added: string[];
  changed: string[];
  removed: string[];
  /** Drain results of the removed and changed targets' old runners. */
  drains: DrainReport[];
}

interface Slot {
  target: StreamTarget;
  runner: Promise<TargetRunner>;
  /** Set when `runner` rejected (its spool could not be opened). */
  broken?: boolean;
}

interface Table {
  routes: CompiledRoute[];
  lanes: Map<string, BatchLane>;
}

export class Router {
  private readonly slots = new Map<string, Slot>();
  private readonly live = new Map<string, TargetRunner>();
  private table: Table = { routes: [], lanes: new Map() };
  private readonly routeStats = new Map<string, RouteStats>();
  private readonly reconfigureLock = new Mutex();
  private rawId = 0;
  private closed = false;
  private readonly openWriter: OpenWriter;
  private readonly logger: Logger;

  private constructor(
    private readonly stateDir: string,
    private readonly deps: RouterDeps,
  ) {
    this.logger = deps.logger ?? silentLogger;
    this.openWriter =
      deps.openWriter ?? defaultOpenWriter({ resolveSecret: deps.resolveSecret, logger: this.logger });
  }

  /** Opens a runner (spool + writer) per target and compiles the routes. */
  static async create(config: RouterConfig, deps: RouterDeps): Promise<Router> {
    const router = new Router(config.stateDir, deps);
    await router.reconfigure({ routes: config.routes, targets: config.targets });
    return router;
  }

  /**
   * Resolves once every matching record is written or spooled at each of its targets. Not an async
   * function: the records are batched before it returns, and no suspended frame keeps them alive after.
   */
  route(records: readonly DataRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new RouterClosedError());
    let waits: Set<Promise<void>>;
    try {
      waits = this.batch(records);
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.all(waits).then(() => undefined);
  }

  /** Adds every matching record to its lanes; the promises settle as their batches are taken. */
  private batch(records: readonly DataRecord[]): Set<Promise<void>> {
    const { routes, lanes } = this.table;
    const waits = new Set<Promise<void>>();
    for (const rec of records) {
      // An event also reaches the Routes on its GSE data id (1000, 1100008, 1100000), as bk-monitor names them.
      const dataId = gseDataIdOf(rec);
      const alias = dataId === undefined ? undefined : String(dataId);
      for (const r of routes) {
        if (r.channel !== rec.channel && r.channel !== alias) continue;
        const st = this.statsOf(r.name);
        st.in++;
        if (!r.hostMatches(rec) || !r.filter(rec)) {
          st.filtered++;
          continue;
        }
        const data = serializeRecord(rec, r.format, () => this.gseOptions());
        for (const ref of r.targets) {
          const lane = lanes.get(laneKey(r.name, ref.name)) as BatchLane;
          waits.add(lane.add(outRecordFor(rec, data, ref)));
        }
      }
    }
    return waits;
  }

  /**
   * Applies a revision: opens added targets, swaps the routes atomically, then drains and closes removed
   * targets and re-creates changed ones after draining the old runner (records for a changed target wait
   * meanwhile). A bad filter or a route naming a missing target throws before anything changes.
   */
  reconfigure(next: { routes: Route[]; targets: StreamTarget[] }): Promise<ReconfigureReport> {
    return this.reconfigureLock.run(async () => {
      const targets = new Map(next.targets.map((t) => [t.metadata.name, t]));
      for (const t of next.targets) targetTypeOf(t);
      const routes = compileRoutes(next.routes, targets, this.deps.hostMatcher);
      if (this.closed) throw new RouterClosedError();
      const current = new Map([...this.slots].map(([n, slot]) => [n, slot.target]));
      const { added, removed, changed } = diffTargets(current, targets);
      // A target whose runner could not be re-created is retried at every revision, changed or not.
      for (const [n, slot] of this.slots)
        if (slot.broken && targets.has(n) && !changed.includes(n)) changed.push(n);

      const opened = await Promise.allSettled(
        added.map((n) => this.startRunner(targets.get(n) as StreamTarget)),
      );
      const failure = opened.find((o) => o.status === 'rejected');
      if (failure) {
        await Promise.all(opened.map((o) => (o.status === 'fulfilled' ? o.value.close() : undefined)));
        for (const n of added) this.live.delete(n);
        throw failure.reason;
      }
      added.forEach((n, i) => {
        const o = opened[i] as PromiseFulfilledResult<TargetRunner>;
        this.slots.set(n, { target: targets.get(n) as StreamTarget, runner: Promise.resolve(o.value) });
      });

      const old = this.table;
      this.table = { routes, lanes: this.buildLanes(routes) };
      const names = new Set(routes.map((r) => r.name));
      for (const n of this.routeStats.keys()) if (!names.has(n)) this.routeStats.delete(n);
      // Batches routed under the old table go to the runners that were current when they were routed.
      // Not awaited here: a back-pressured target must not block the revision that may fix it.
      const flushed = flushLanesByTarget(old.lanes);

      const timeout = this.deps.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
      const drains: Promise<DrainReport>[] = [];
      for (const n of removed) {
        const slot = this.slots.get(n) as Slot;
        this.slots.delete(n);
        drains.push(this.retire(n, slot.runner, timeout, flushed.get(n)));
      }
      const replacements: Promise<unknown>[] = [];
      for (const n of changed) {
        const slot = this.slots.get(n) as Slot;
        const target = targets.get(n) as StreamTarget;
        const drained = this.retire(n, slot.runner, timeout, flushed.get(n));
        drains.push(drained);
        const runner = drained.then(() => this.startRunner(target));
        const next: Slot = { target, runner };
        runner.catch((err: unknown) => {
          next.broken = true;
          this.logger.error('cannot re-create target', { target: n, error: String(err) });
        });
        this.slots.set(n, next);
        replacements.push(runner.catch(() => {}));
      }
      const reports = await Promise.all(drains);
      await Promise.all(replacements);
      return { added, changed, removed, drains: reports };
    });
  }

  /** Per-route and per-target counters. */
  stats(): RouterStats {
    const routes: Record<string, RouteStats> = {};
    for (const [n, s] of this.routeStats) routes[n] = { ...s };
    const targets: Record<string, TargetStats> = {};
    for (const [n, r] of this.live) {
      const h = r.health();
      targets[n] = { out: h.written, spooled: h.spooled, retried: h.retried, failed: h.failed };
    }
    return { routes, targets };
  }

  /** Every running target's health. */
  health(): TargetHealth[] {
    return [...this.live.values()].map((r) => r.health());
  }

  /** True while any target's spool is full: the hub should stop reading data from agents. */
  pressure(): boolean {
    for (const r of this.live.values()) if (r.pressure()) return true;
    return false;
  }

  /** Stops routing, flushes open batches and drains every target for up to `timeoutMs` (default DEFAULT_DRAIN_TIMEOUT_MS). */
  async close(timeoutMs = this.deps.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS): Promise<DrainReport[]> {
    return this.reconfigureLock.run(async () => {
      this.closed = true;
      const old = this.table;
      this.table = { routes: [], lanes: new Map() };
      const flushed = flushLanesByTarget(old.lanes);
      const slots = [...this.slots];
      this.slots.clear();
      return Promise.all(slots.map(([n, s]) => this.retire(n, s.runner, timeoutMs, flushed.get(n))));
    });
  }

  /**
   * Drains and closes a runner that leaves. Batches still being flushed to it get up to `timeoutMs` to be
   * accepted first; past that, they fail with RunnerClosedError (so their agents are not acked and resend).
   */
  private async retire(
    name: string,
    runner: Promise<TargetRunner>,
    timeoutMs: number,
    pending?: Promise<unknown>,
  ): Promise<DrainReport> {
    let r: TargetRunner;
    try {
      r = await runner;
    } catch {
      // It never ran: nothing to drain, and its spool (if any) stays for the next runner of that name.
      return {
        name,
        drained: false,
        remainingRecords: 0,
        remainingBytes: 0,
        spoolDir: spoolDirFor(this.stateDir, name),
      };
    }
    if (pending) await withTimeout(pending, timeoutMs, () => new Error('flush timeout')).catch(() => {});
    const report = await r.drainAndClose(timeoutMs);
    if (this.live.get(name) === r) this.live.delete(name);
    return report;
  }

  private async startRunner(target: StreamTarget): Promise<TargetRunner> {
    const name = target.metadata.name;
    const runner = await TargetRunner.create(
      {
        name,
        type: targetTypeOf(target),
        openWriter: () => this.openWriter(target),
        spoolDir: spoolDirFor(this.stateDir, name),
        ...(target.spec.spool ? { spoolMaxBytes: target.spec.spool.maxBytes } : {}),
      },
      {
        logger: this.logger,
        ...(this.deps.clock ? { clock: this.deps.clock } : {}),
        ...(this.deps.sleep ? { sleep: this.deps.sleep } : {}),
      },
    );
    this.live.set(name, runner);
    return runner;
  }

  private buildLanes(routes: CompiledRoute[]): Map<string, BatchLane> {
    const lanes = new Map<string, BatchLane>();
    for (const r of routes) {
      const st = this.statsOf(r.name);
      for (const ref of r.targets) {
        const sink = async (batch: Parameters<TargetRunner['accept']>[0]) => {
          await this.deliver(ref.name, batch);
          st.out += batch.length;
        };
        lanes.set(laneKey(r.name, ref.name), new BatchLane(r.batch.maxRecords, r.batch.maxDelayMs, sink));
      }
    }
    return lanes;
  }

  /** Hands a batch to the target's current runner; follows a runner that a reconfigure replaced meanwhile. */
  private async deliver(target: string, batch: Parameters<TargetRunner['accept']>[0]): Promise<void> {
    for (;;) {
      const slot = this.slots.get(target);
      if (!slot) throw new TargetUnknownError(target);
      const runner = await slot.runner;
      try {
        await runner.accept(batch);
        return;
      } catch (err) {
        if (err instanceof RunnerClosedError && this.slots.get(target) !== slot) continue;
        throw err;
      }
    }
  }

  private statsOf(route: string): RouteStats {
    let s = this.routeStats.get(route);
    if (!s) {
      s = { in: 0, out: 0, filtered: 0 };
      this.routeStats.set(route, s);
    }
    return s;
  }

  private gseOptions(): GseFormatOptions {
    return { rawId: ++this.rawId, timezoneHours: this.deps.gseTimezoneHours ?? 0 };
  }
}
