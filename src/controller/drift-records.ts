/** The drift records a host's report yields (pure): what the store keeps and the drift metric counts. */
import type { ReportMessage } from '../protocol/messages.js';
import type { DriftRecord } from '../store/types.js';

/** Characters of a revision sha shown in an intentional drift record's detail. */
const SHORT_SHA_LENGTH = 12;

/**
 * One record per item the agent found diverged (corrective: the host moved away from the same revision),
 * and per item changed because a new revision arrived (intentional: `previousRevision` is the revision the
 * host reported before this one). Ids are stable per report and item, so a re-sent report adds nothing.
 */
export function driftRecords(
  hostId: string,
  report: Pick<ReportMessage, 'id' | 'revision' | 'items'>,
  previousRevision: string | undefined,
  nowIso: string,
): DriftRecord[] {
  const records: DriftRecord[] = [];
  for (const item of report.items) {
    const key = `${item.kind}/${item.name}`;
    const id = `${hostId}:${report.id}:${key}`;
    if (item.drift) {
      records.push({
        id,
        hostId,
        key,
        kind: 'corrective',
        revision: report.revision,
        detectedAt: item.drift.detectedAt,
        healed: item.drift.healed,
        healedAt: item.drift.healed ? nowIso : undefined,
        detail: item.drift.detail,
        expectedHash: item.hash,
        observedHash: item.observedHash,
      });
    } else if (
      item.state === 'changed' &&
      previousRevision !== undefined &&
      previousRevision !== report.revision
    ) {
      records.push({
        id,
        hostId,
        key,
        kind: 'intentional',
        revision: report.revision,
        detectedAt: nowIso,
        healed: true,
        healedAt: nowIso,
        detail: `applied revision ${report.revision.slice(0, SHORT_SHA_LENGTH)} (was ${previousRevision.slice(0, SHORT_SHA_LENGTH)})`,
        expectedHash: item.hash,
        observedHash: item.observedHash,
      });
    }
  }
  return records;
}
