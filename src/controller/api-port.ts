/**
 * The controller behind the API's port: each method reads or calls one part (store, hub, reconciler,
 * source, data path, exec service). Only a type comes from src/api, so the controller still imports no
 * API code at run time.
 */

import { type FleetHostView, GSE_NAMESPACE_LABEL } from '../api/gse/status.js';
import type { ApiPort, StatusParts } from '../api/port.js';
import { hashCredential, secretsEqual } from '../fleet/auth.js';
import type { AgentRecord } from '../fleet/index.js';
import { gseTaskPort } from './api-port-gse-task.js';
import { rolloutApi } from './api-port-rollouts.js';
import { type Controller, factsOf } from './controller.js';
import type { DryRunAnswer } from './dry-runs.js';
import { previewTree } from './preview-service.js';

/** The API's view of a running controller. */
export function controllerApiPort(c: Controller): ApiPort {
  const { store } = c;
  return {
    config: {
      adminToken: c.options.adminToken,
      viewerToken: c.options.viewerToken,
      metricsToken: c.options.metricsToken,
      webhookSecret: c.options.webhookSecret,
      branch: c.options.branch,
      artifactDir: c.options.artifactDir,
    },
    logger: c.logger,
    lifecycle: () => c.lifecycle,
    currentRevisionId: () => c.reconciler.current?.id,
    statusParts: () => statusParts(c),
    metricsText: async () => ({
      contentType: c.metrics.registry.contentType,
      text: await c.metrics.render(),
    }),
    getHost: (id) => store.getHost(id),
    listHosts: (q) => store.listHosts(q),
    hostIds: () => c.reconciler.hostStates().map((h) => h.hostId),
    session: (id) => c.hub.session(id),
    manifestFor: (id) => c.reconciler.desiredFor(id),
    reportedItems: (id) => c.reconciler.reportedItems(id),
    planErrorsFor: (id) => c.reconciler.planErrorsFor(id),
    listResourceStatuses: (q) => store.listResourceStatuses(q),
    listDrift: (q) => store.listDrift(q),
    listExecutions: (q) => store.listExecutions(q),
    listRevisions: (q) => store.listRevisions(q),
    targetHealth: () => c.data.current?.health() ?? [],
    routerStats: () => c.data.current?.stats(),
    dataSpecs: () => c.reconciler.current?.byKind ?? { Route: [], StreamTarget: [] },
    fleetView: () => fleetView(c),
    fetchNow: () => c.fetchNow(),
    forceSync: (ids) => c.forceSync(ids),
    deleteHost: (id) => c.deleteHost(id),
    preview: (files) => previewTree(c, files),
    dryRun: (ids, timeoutMs) => dryRunHosts(c, ids, timeoutMs),
    exec: {
      start: (req) => c.exec.start(req),
      subscribe: (taskId, listener) => c.exec.subscribe(taskId, listener),
    },
    gseTasks: gseTaskPort(c),
    // A getter: the writer is opened after the API is built (Controller.create).
    get gseWriter() {
      return c.gseWriter;
    },
    agents: {
      list: () => c.hub.agents(),
      stateOf: (id) => c.hub.hostState(id),
      approve: (id) => c.hub.approve(id),
      revoke: (id) => c.revokeAgent(id),
      reset: (id) => c.resetAgent(id),
      verifyCredential: async (id, credential) => credentialAccepted(await store.getAgent(id), credential),
    },
    rollouts: rolloutApi(
      c.rollouts,
      c.reconciler,
      c.replica &&
        ((action, name, actor) => c.replica?.forwardRollout(action, name, actor) ?? Promise.resolve(false)),
    ),
    // The store satisfies the token half of the port as it is.
    tokens: store,
    audit: { append: (r) => store.appendAudit(r), list: (q) => store.listAudit(q) },
    live: c.live,
  };
}

/** Dry runs of each host's desired manifest, in parallel; a host without one answers `offline`. */
function dryRunHosts(c: Controller, hostIds: string[], timeoutMs: number): Promise<DryRunAnswer[]> {
  return Promise.all(
    hostIds.map((id): Promise<DryRunAnswer> => {
      const manifest = c.reconciler.desiredFor(id);
      if (!manifest)
        return Promise.resolve({
          hostId: id,
          ok: false,
          error: 'offline',
          message: 'no manifest planned yet',
        });
      return c.dryRuns.ask(id, manifest, timeoutMs);
    }),
  );
}

/** The handshake's credential check (fleet/auth.ts): an approved record whose stored hash matches. */
function credentialAccepted(rec: AgentRecord | undefined, credential: string): boolean {
  if (rec === undefined || rec.status !== 'approved' || rec.credentialHash === '') return false;
  return secretsEqual(hashCredential(credential), rec.credentialHash);
}

async function statusParts(c: Controller): Promise<StatusParts> {
  const [appliedSha, lastRejected, bySyncState] = await Promise.all([
    c.store.getAppliedRevision(),
    c.store.getLastRejectedRevision(),
    c.store.countHostsBySyncState(),
  ]);
  return {
    lifecycle: c.lifecycle,
    startedAt: c.startedAt,
    applied: appliedSha ? await c.store.getRevision(appliedSha) : undefined,
    lastRejected,
    bySyncState,
    connected: c.hub.connectedCount,
    source: c.source.stats(),
    hub: c.hub.stats(),
    targets: c.data.current?.health() ?? [],
  };
}

/**
 * Each tracked host with its address facts (the live session's, else those it last connected with, so an
 * offline host keeps its cloud id and version), liveness, and the ProcessWatch states it last reported.
 */
function fleetView(c: Controller): FleetHostView[] {
  const namespaces = new Map(
    (c.reconciler.current?.byKind.ProcessWatch ?? []).map((w) => [
      w.metadata.name,
      w.metadata.labels?.[GSE_NAMESPACE_LABEL],
    ]),
  );
  return c.reconciler.hostStates().map((h) => {
    const session = c.hub.session(h.hostId);
    const reported = c.reconciler.reportedItems(h.hostId);
    const processes: FleetHostView['processes'] = {};
    for (const item of c.reconciler.desiredFor(h.hostId)?.items ?? []) {
      if (item.kind !== 'ProcessWatch') continue;
      const r = reported.find((x) => x.kind === 'ProcessWatch' && x.name === item.name);
      const namespace = namespaces.get(item.name);
      if (r?.process)
        processes[item.name] = {
          running: r.process.running,
          ensure: item.ensure,
          ...(namespace === undefined ? {} : { namespace }),
        };
    }
    const facts = session ? factsOf(session) : c.reconciler.factsFor(h.hostId);
    const gseAgentId = facts?.labels.bk_agent_id;
    return {
      hostId: h.hostId,
      ...(gseAgentId ? { gseAgentId } : {}),
      ips: facts?.ips ?? [],
      cloudId: facts?.cloudId ?? 0,
      agentVersion: facts?.agentVersion,
      alive: session?.status === 'Connected',
      processes,
    };
  });
}
