/**
 * The controller's data path: events and data records from agents go through the router to the targets
 * Git declares. A message is acked to its agent only once every record is written or spooled; before the
 * first revision there is no router, and messages stay in the agents' spools.
 */
import { isAbsolute, join, resolve } from 'node:path';
import type { DataMessage, DataRecord, EventMessage } from '../protocol/messages.js';
import { createSecretResolver, type Logger, Router } from '../routing/index.js';
import type { SecretPolicy } from '../spec/limits.js';
import type { Revision, StreamTarget } from '../spec/types.js';
import { selectorMatches } from './select.js';

/** The channel host events travel on. */
export const EVENTS_CHANNEL = 'events';

export interface DataPathDeps {
  stateDir: string;
  logger: Logger;
  /** Labels Git gives a host (HostGroups), for route host selectors (`matchLabels`, `matchExpressions`). */
  labelsOf(hostId: string): Record<string, string>;
  /** Labels a host's agent declared, seen only by `matchAgentLabels`; default none. */
  agentLabelsOf?(hostId: string): Record<string, string>;
  env?: NodeJS.ProcessEnv;
  /** The secrets `passwordFrom` may name (`--secret-env`, `--secret-dir`); default none. */
  secrets?: SecretPolicy;
}

export class DataPathNotReadyError extends Error {
  readonly code = 'data_path_not_ready';
  constructor() {
    super('no revision applied yet: records stay in the agent spool until routes are known');
    this.name = 'DataPathNotReadyError';
  }
}

/** A relative file target path lives under the controller's state dir, so a repo cannot aim at /etc. */
export function resolveTargetPaths(targets: StreamTarget[], stateDir: string): StreamTarget[] {
  return targets.map((t) => {
    const file = t.spec.file;
    if (!file || isAbsolute(file.path)) return t;
    return { ...t, spec: { ...t.spec, file: { ...file, path: resolve(stateDir, 'targets', file.path) } } };
  });
}

/**
 * The records an agent message carries, stamped with the host of the session they came over (an agent
 * cannot speak for another host); an event becomes one record on the `events` channel. A data message's
 * records are stamped in place (the message is the decoder's fresh object, read by nobody else): a copy of
 * every record is garbage the hot path need not make, and the key order is the copy's.
 */
export function recordsOf(msg: DataMessage | EventMessage, host: DataRecord['host']): DataRecord[] {
  if (msg.type === 'data') {
    for (const r of msg.records) r.host = host;
    return msg.records as DataRecord[];
  }
  return [{ rid: msg.id, channel: EVENTS_CHANNEL, time: msg.event.time, host, fields: { ...msg.event } }];
}

export class DataPath {
  private router: Router | undefined;
  private applying: Promise<void> = Promise.resolve();

  constructor(private readonly deps: DataPathDeps) {}

  /** Opens or reconfigures the router for a revision's routes and targets (no restart). */
  apply(revision: Revision): Promise<void> {
    const next = this.applying.then(async () => {
      const config = {
        routes: revision.byKind.Route,
        targets: resolveTargetPaths(revision.byKind.StreamTarget, this.deps.stateDir),
      };
      if (this.router) {
        const report = await this.router.reconfigure(config);
        this.deps.logger.info('routes reconfigured', {
          added: report.added,
          changed: report.changed,
          removed: report.removed,
        });
        return;
      }
      this.router = await Router.create(
        { ...config, stateDir: join(this.deps.stateDir, 'routing') },
        {
          hostMatcher: (route) => (rec) =>
            route.spec.hosts === undefined ||
            selectorMatches(route.spec.hosts, {
              name: rec.host.name,
              ips: [rec.host.ip],
              cloudId: rec.host.cloudId,
              labels: this.deps.labelsOf(rec.host.id),
              agentLabels: this.deps.agentLabelsOf?.(rec.host.id) ?? {},
            }),
          resolveSecret: createSecretResolver({
            env: this.deps.env ?? process.env,
            policy: this.deps.secrets ?? { env: [] },
          }),
          logger: this.deps.logger,
        },
      );
    });
    // A failed apply is the caller's to report; the next revision must still get its turn.
    this.applying = next.catch(() => {});
    return next;
  }

  /** Routes an agent's records; resolves once they are durable at every matched target (then ack). */
  async ingest(msg: DataMessage | EventMessage, host: DataRecord['host']): Promise<void> {
    await this.applying;
    if (!this.router) throw new DataPathNotReadyError();
    const routed = this.router.route(recordsOf(msg, host));
    // The router keeps what it sends (each record's JSON); the message, held by its session until it is
    // acked, need not keep hundreds of parsed records alive meanwhile (a slow target would pile them up).
    if (msg.type === 'data') msg.records = [];
    await routed;
  }

  /** The router, once a revision was applied. */
  get current(): Router | undefined {
    return this.router;
  }

  /** Closes the router, flushing what it can within its drain timeout (the rest stays spooled). */
  async close(): Promise<void> {
    await this.applying;
    await this.router?.close();
  }
}
