/** Reports for the manifest items the converge loop does not apply itself: agent version and remediations. */
import type { HostManifest, ManifestProcessWatch } from '../src/protocol/manifest.js';
import type { ItemReport } from '../src/protocol/messages.js';
import type { ProbeResult } from './engine/index.js';

/**
 * AgentVersion is ok when this agent runs the declared version; otherwise it is reported failed with the
 * reason, since self-upgrade is not built yet (the rollout machinery is a later piece of work).
 * Remediations are ok once armed: they act on events.
 */
export function passiveItemReports(manifest: HostManifest, runningVersion: string): ItemReport[] {
  const reports: ItemReport[] = [];
  for (const item of manifest.items) {
    if (item.kind === 'AgentVersion') {
      const ok = item.version === runningVersion;
      reports.push({
        kind: item.kind,
        name: item.name,
        hash: item.hash,
        state: ok ? 'ok' : 'failed',
        message: ok
          ? `running ${runningVersion}`
          : `running ${runningVersion}, want ${item.version}: agent self-upgrade is not implemented yet`,
      });
    } else if (item.kind === 'Remediation') {
      reports.push({
        kind: item.kind,
        name: item.name,
        hash: item.hash,
        state: 'ok',
        message: item.dryRun ? 'armed (dry run)' : 'armed',
      });
    }
  }
  return reports;
}

/** A ProcessWatch's report from a probe: running is ok; down is ok when only observed, failed when it must run. */
export function processItemReport(watch: ManifestProcessWatch, probe: ProbeResult): ItemReport {
  const failed = probe.error !== undefined || (!probe.running && watch.ensure === 'running');
  const message = probe.error ?? (probe.running ? undefined : 'not running');
  return {
    kind: 'ProcessWatch',
    name: watch.name,
    hash: watch.hash,
    state: failed ? 'failed' : 'ok',
    process: { running: probe.running, pids: probe.pids },
    ...(message !== undefined ? { message } : {}),
  };
}
