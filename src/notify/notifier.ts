/**
 * The notifier: turns outcomes into signed deliveries. An outcome goes to every Notification of the applied
 * revision that names its type (and whose `hosts` selector picks its host, when it has one); each delivery
 * is written durably to the queue before `outcome()` resolves, then handed to the worker. `taskResult()`
 * queues an exec task's one callback (`gsectl exec --callback`), signed with the controller's callback secret.
 *
 * When the queue is full a new delivery is not queued: counted (`dropped`), logged at error with its type
 * and URL; the outcome itself stays on the record (executions, drift, revisions, rollouts in the store).
 */
import type { BackoffPolicy } from '../kernel/backoff.js';
import { type Logger, silentLogger } from '../kernel/logger.js';
import type { Notification, Selector } from '../spec/types.js';
import type { JsonValue, Outcome, OutcomeSink } from './outcome.js';
import { DeliveryQueue, type DeliverySecret, QueueFullError } from './queue.js';
import { DeliveryWorker, type PostFn } from './worker.js';

/** The type of the body `gsectl exec --callback` receives. */
export const TASK_RESULT_TYPE = 'task.finished';

export interface NotifierOptions {
  /** The queue directory (the controller's `<state-dir>/notify`). */
  dir: string;
  /** Resolves a Notification's `secretFrom` (the controller's policy-bound resolver). */
  resolveSecret(ref: Extract<DeliverySecret, { ref: unknown }>['ref']): Promise<string>;
  /** The controller's callback secret (`--callback-secret-env`); without it `taskResult` is refused. */
  callbackSecret?: string;
  /** True when `selector` picks host `hostId` (its effective labels); false for an unknown host. */
  hostMatches(selector: Selector, hostId: string): boolean;
  now(): number;
  newId(): string;
  logger?: Logger;
  maxQueued?: number;
  backoff?: BackoffPolicy;
  post?: PostFn;
}

export class CallbackSecretMissingError extends Error {
  readonly code = 'callback_secret_missing';
  constructor() {
    super(
      'this controller has no callback secret, so it cannot sign callbacks; start it with gsectl serve --callback-secret-env NAME (NAME an environment variable holding the secret)',
    );
    this.name = 'CallbackSecretMissingError';
  }
}

export interface NotifierStats {
  /** Deliveries on disk, not yet answered 2xx. */
  queued: number;
  /** Deliveries the worker's lanes still hold (in flight or waiting); 0 once every lane is drained. */
  pending: number;
  delivered: number;
  failedAttempts: number;
  dropped: number;
}

export class Notifier implements OutcomeSink {
  private notifications: Notification[] = [];
  private dropped = 0;
  private readonly logger: Logger;

  private constructor(
    private readonly opts: NotifierOptions,
    private readonly queue: DeliveryQueue,
    private readonly worker: DeliveryWorker,
  ) {
    this.logger = opts.logger ?? silentLogger;
  }

  /** Opens the queue (reading back what a previous run left); call `start` to deliver. */
  static async open(opts: NotifierOptions): Promise<Notifier> {
    const logger = opts.logger ?? silentLogger;
    const queue = await DeliveryQueue.open({
      dir: opts.dir,
      maxEntries: opts.maxQueued,
      onCorrupt: (file, error) => logger.error('unreadable notification set aside', { file, error }),
    });
    const worker = new DeliveryWorker({
      queue,
      resolveSecret: async (s) => {
        if ('ref' in s) return opts.resolveSecret(s.ref);
        if (opts.callbackSecret === undefined) throw new CallbackSecretMissingError();
        return opts.callbackSecret;
      },
      post: opts.post,
      backoff: opts.backoff,
      logger,
    });
    return new Notifier(opts, queue, worker);
  }

  /** Starts the delivery worker (deliveries left from a previous run first). */
  start(): void {
    this.worker.start();
  }

  /** Stops delivering; what is not delivered stays on disk for the next start. */
  stop(): Promise<void> {
    return this.worker.stop();
  }

  /** The Notifications of the applied revision. */
  setNotifications(notifications: readonly Notification[]): void {
    this.notifications = [...notifications];
  }

  /** True when `gsectl exec --callback` can be honoured (a callback secret is configured). */
  get callbacksEnabled(): boolean {
    return this.opts.callbackSecret !== undefined;
  }

  /** Throws CallbackSecretMissingError when no callback secret is configured. */
  checkCallbacksEnabled(): void {
    if (!this.callbacksEnabled) throw new CallbackSecretMissingError();
  }

  /** Queues the outcome for every Notification that wants it; resolves once those deliveries are durable. */
  async outcome(o: Outcome): Promise<void> {
    const { type, host, at, ...fields } = o;
    for (const n of this.notifications) {
      if (!n.spec.on.includes(type)) continue;
      if (host !== undefined && n.spec.hosts && !this.opts.hostMatches(n.spec.hosts, host)) continue;
      await this.enqueue(
        n.spec.url,
        { type, ...(host === undefined ? {} : { host }), notification: n.metadata.name, ...fields },
        {
          ref: n.spec.secretFrom,
        },
        at,
      );
    }
  }

  /** Queues an exec task's result callback; throws CallbackSecretMissingError when no secret is configured. */
  async taskResult(url: string, fields: Record<string, JsonValue>): Promise<void> {
    if (!this.callbacksEnabled) throw new CallbackSecretMissingError();
    await this.enqueue(url, { type: TASK_RESULT_TYPE, ...fields }, { callback: true });
  }

  /**
   * Queues a signed POST of `body` (its own `type` kept) to a webhook Git declared (an agent.lost
   * Remediation's `runner.webhook`), signed with the callback secret; resolves to the delivery id.
   */
  async webhook(url: string, body: Record<string, JsonValue> & { type: string }): Promise<string> {
    if (!this.callbacksEnabled) throw new CallbackSecretMissingError();
    const id = await this.enqueue(url, body, { callback: true });
    if (id === undefined)
      throw new Error('the notification queue is full (see the error "notification queue full")');
    return id;
  }

  /** Counters and the queue's depth (metrics, status). */
  stats(): NotifierStats {
    const pending = Object.values(this.worker.backlog()).reduce((a, b) => a + b, 0);
    return { queued: this.queue.size, pending, ...this.worker.counters(), dropped: this.dropped };
  }

  private async enqueue(
    url: string,
    fields: Record<string, JsonValue | undefined> & { type: string },
    secret: DeliverySecret,
    at?: string,
  ): Promise<string | undefined> {
    const id = this.opts.newId();
    const { type, ...rest } = fields;
    const body = JSON.stringify({ id, type, at: at ?? new Date(this.opts.now()).toISOString(), ...rest });
    try {
      const d = await this.queue.enqueue({
        id,
        url,
        body,
        secret,
        queuedAt: new Date(this.opts.now()).toISOString(),
      });
      this.worker.push(d);
      return id;
    } catch (err) {
      if (!(err instanceof QueueFullError)) throw err;
      this.dropped++;
      this.logger.error('notification queue full: delivery not queued', {
        type,
        url,
        maxQueued: err.maxEntries,
        dropped: this.dropped,
        fix: 'the receivers are failing; see the warnings "notification not delivered" and fix the receiver',
      });
      return undefined;
    }
  }
}

export class InvalidCallbackUrlError extends Error {
  readonly code = 'invalid_callback';
  constructor(readonly url: string) {
    super(
      `callback: "${url}" is not an http:// or https:// URL without credentials, e.g. https://ci.example.com/gse-result`,
    );
    this.name = 'InvalidCallbackUrlError';
  }
}

/** Throws unless `url` is an http(s) URL without userinfo (pure). */
export function checkCallbackUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidCallbackUrlError(url);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username !== '' || u.password !== '')
    throw new InvalidCallbackUrlError(url);
}
