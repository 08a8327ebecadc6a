/** The Notification kind's vocabulary: the outcomes a Notification may subscribe to (`spec.on`). */

/** Every outcome a Notification can name, in the order the spec reference lists them. */
export const NOTIFICATION_OUTCOMES = [
  'execution.finished',
  'drift.detected',
  'drift.healed',
  'revision.rejected',
  'rollout.paused',
  'remediation.ran',
  'remediation.skipped',
] as const;
export type NotificationOutcome = (typeof NOTIFICATION_OUTCOMES)[number];
