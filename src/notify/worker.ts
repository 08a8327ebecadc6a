/**
 * Delivers the queued POSTs off the hot path: one lane per URL (one request in flight per URL, so a
 * receiver sees its deliveries in order), each retried with capped exponential backoff and jitter until the
 * receiver answers 2xx (at-least-once: a receiver dedupes on the body's `id` / X-GSE-Delivery). Secrets are
 * resolved when a delivery is sent, so a rotated secret signs what is still queued.
 */
import { type BackoffPolicy, backoffDelayMs, equalJitterMs } from '../kernel/backoff.js';
import { type Logger, silentLogger } from '../kernel/logger.js';
import type { DeliveryQueue, DeliverySecret, QueuedDelivery } from './queue.js';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signBody } from './sign.js';

/** Retries of a delivery: 1 s, 2 s, 4 s ... up to 5 min between attempts. */
export const DEFAULT_DELIVERY_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 5 * 60_000 };
/** How long one POST may take before it counts as failed. */
export const DEFAULT_POST_TIMEOUT_MS = 10_000;
/** Failed attempts of one delivery logged at warn: the first, then every Nth. */
const LOG_EVERY_N_FAILURES = 10;

/** The delay before retry `attempt` (1-based) of a delivery (pure): the capped doubling, with equal jitter. */
export function retryDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  return equalJitterMs(backoffDelayMs(attempt, policy), random);
}

/** Sends one POST; resolves with the HTTP status (rejects on a network error or timeout). */
export type PostFn = (
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
) => Promise<number>;

/** The default PostFn: Node's fetch, redirects not followed (a 3xx is not a delivery). */
export const fetchPost: PostFn = async (url, body, headers, timeoutMs) => {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers,
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
  await res.body?.cancel();
  return res.status;
};

export interface DeliveryWorkerDeps {
  queue: DeliveryQueue;
  resolveSecret(secret: DeliverySecret): Promise<string>;
  post?: PostFn;
  backoff?: BackoffPolicy;
  postTimeoutMs?: number;
  random?: () => number;
  logger?: Logger;
  /** Told after each 2xx (metrics). */
  onDelivered?(d: QueuedDelivery, attempts: number): void;
  /** Told after each failed attempt (metrics). */
  onAttemptFailed?(d: QueuedDelivery, attempt: number, error: string): void;
}

export interface DeliveryStats {
  delivered: number;
  failedAttempts: number;
}

export class DeliveryWorker {
  private readonly lanes = new Map<string, QueuedDelivery[]>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private readonly stats: DeliveryStats = { delivered: 0, failedAttempts: 0 };
  private started = false;

  constructor(private readonly deps: DeliveryWorkerDeps) {}

  /** Starts delivering what the queue holds (left from before a restart), oldest first. */
  start(): void {
    if (this.started) return;
    this.started = true;
    // The queue holds everything pushed before start too: lanes are rebuilt from it, oldest first.
    this.lanes.clear();
    for (const d of this.deps.queue.list()) this.laneOf(d.url).push(d);
    for (const url of this.lanes.keys()) this.kick(url);
  }

  /** Hands a delivery already durable in the queue to its URL's lane. */
  push(d: QueuedDelivery): void {
    this.laneOf(d.url).push(d);
    if (this.started) this.kick(d.url);
  }

  /** Counters since start. */
  counters(): DeliveryStats {
    return { ...this.stats };
  }

  /** Deliveries waiting (or in flight) per URL. */
  backlog(): Record<string, number> {
    return Object.fromEntries([...this.lanes].map(([url, lane]) => [url, lane.length]));
  }

  /** Stops: waits for requests in flight and cancels the waits; what is not delivered stays queued on disk. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.running.values());
  }

  private laneOf(url: string): QueuedDelivery[] {
    let lane = this.lanes.get(url);
    if (!lane) {
      lane = [];
      this.lanes.set(url, lane);
    }
    return lane;
  }

  private kick(url: string): void {
    if (this.running.has(url) || this.abort.signal.aborted) return;
    const run = this.drain(url)
      .catch((err: unknown) => {
        (this.deps.logger ?? silentLogger).error('notification lane failed', { url, error: String(err) });
      })
      .finally(() => {
        this.running.delete(url);
        // A push that raced the lane's end is picked up here.
        if ((this.lanes.get(url)?.length ?? 0) > 0) this.kick(url);
      });
    this.running.set(url, run);
  }

  private async drain(url: string): Promise<void> {
    const lane = this.laneOf(url);
    const logger = this.deps.logger ?? silentLogger;
    let attempt = 0;
    for (;;) {
      const d = lane[0];
      if (!d || this.abort.signal.aborted) return;
      attempt++;
      const error = await this.attempt(d);
      if (error === undefined) {
        await this.deps.queue.remove(d.seq);
        lane.shift();
        this.stats.delivered++;
        this.deps.onDelivered?.(d, attempt);
        if (attempt > 1)
          logger.info('notification delivered after retries', { id: d.id, url, attempts: attempt });
        attempt = 0;
        continue;
      }
      this.stats.failedAttempts++;
      this.deps.onAttemptFailed?.(d, attempt, error);
      const delayMs = retryDelayMs(attempt, this.deps.backoff ?? DEFAULT_DELIVERY_BACKOFF, this.deps.random);
      if (attempt === 1 || attempt % LOG_EVERY_N_FAILURES === 0)
        logger.warn('notification not delivered; retrying', {
          id: d.id,
          url,
          attempt,
          error,
          retryInMs: delayMs,
        });
      await this.sleep(delayMs);
    }
  }

  /** One POST of `d`; undefined on 2xx, else why it failed. */
  private async attempt(d: QueuedDelivery): Promise<string | undefined> {
    try {
      const secret = await this.deps.resolveSecret(d.secret);
      const status = await (this.deps.post ?? fetchPost)(
        d.url,
        d.body,
        {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signBody(d.body, secret),
          [DELIVERY_HEADER]: d.id,
          'user-agent': 'gse-gitops-notify/1',
        },
        this.deps.postTimeoutMs ?? DEFAULT_POST_TIMEOUT_MS,
      );
      return status >= 200 && status < 300 ? undefined : `HTTP ${status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      return e.cause?.code ? `${e.message} (${e.cause.code})` : e.message;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.abort.signal;
      if (signal.aborted) return resolve();
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(t);
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
