/** The outcomes a Notification can subscribe to, and the shape every hook hands to the notifier. */

import { NOTIFICATION_OUTCOMES, type NotificationOutcome } from '../spec/notification.js';

/** Every outcome type (the spec's vocabulary, `Notification.spec.on`). */
export const OUTCOME_TYPES = NOTIFICATION_OUTCOMES;
export type OutcomeType = NotificationOutcome;

/** A JSON value (what an outcome's fields may hold). */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue | undefined };

/**
 * One outcome: its type, the host it happened on (when it has one; Notifications select on it), and its
 * fields, which become the POST body next to `id`, `type` and `at`.
 */
export interface Outcome {
  type: OutcomeType;
  /** The host id the outcome concerns; absent for fleet-wide outcomes (revision.rejected, rollout.paused). */
  host?: string;
  /** When it happened (ISO); default: when the notifier is told. */
  at?: string;
  [field: string]: JsonValue | undefined;
}

/** A remediation decision as p11-decide reports it: `notifier.outcome({type: 'remediation.ran', ...})`. */
export interface RemediationOutcome extends Outcome {
  type: 'remediation.ran' | 'remediation.skipped';
  host: string;
  /** The Remediation's name. */
  remediation: string;
}

/** The sink every outcome source calls; resolves once the deliveries it yields are durable (or none match). */
export interface OutcomeSink {
  outcome(o: Outcome): Promise<void>;
}
