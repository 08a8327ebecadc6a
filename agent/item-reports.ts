/** Reports for the manifest items the converge loop does not apply itself: agent version and remediations. */
import type { HostManifest } from '../src/protocol/manifest.js';
import type { ItemReport } from '../src/protocol/messages.js';

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
