/** Reports for the manifest items the converge loop does not apply itself: agent version and remediations. */
import type { HostManifest } from '../src/protocol/manifest.js';
import type { ItemReport } from '../src/protocol/messages.js';
import { decideAgentVersion } from './upgrade/decide.js';

/**
 * AgentVersion is ok when this agent runs the declared version; otherwise failed with the reason (an agent
 * not started by a launcher cannot upgrade itself: agent/upgrade/decide.ts says so and names the fix).
 * Remediations are ok once armed: they act on events.
 */
export function passiveItemReports(manifest: HostManifest, runningVersion: string): ItemReport[] {
  const reports: ItemReport[] = [];
  for (const item of manifest.items) {
    if (item.kind === 'AgentVersion') {
      const d = decideAgentVersion({
        item,
        running: runningVersion,
        installDir: undefined,
        record: { failed: [] },
      });
      reports.push({
        kind: item.kind,
        name: item.name,
        hash: item.hash,
        state: d.state === 'ok' ? 'ok' : 'failed',
        message: d.message,
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
