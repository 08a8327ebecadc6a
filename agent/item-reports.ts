/** Reports for the manifest items the converge loop does not apply itself: remediations and host checks (agent versions: the upgrader). */
import type { HostManifest } from '../src/protocol/manifest.js';
import type { ItemReport } from '../src/protocol/messages.js';

/** Remediations and host checks are ok once armed: they act on (or raise) events. AgentVersion items are the upgrader's (agent/upgrade/upgrader.ts). */
export function passiveItemReports(manifest: HostManifest): ItemReport[] {
  const reports: ItemReport[] = [];
  for (const item of manifest.items) {
    if (item.kind === 'Remediation') {
      reports.push({
        kind: item.kind,
        name: item.name,
        hash: item.hash,
        state: 'ok',
        message: item.dryRun ? 'armed (dry run)' : 'armed',
      });
    } else if (item.kind === 'HostCheck') {
      // Armed once held; the check monitor reports what it finds (raised, cannot probe) as it finds it.
      reports.push({ kind: item.kind, name: item.name, hash: item.hash, state: 'ok', message: 'armed' });
    }
  }
  return reports;
}
