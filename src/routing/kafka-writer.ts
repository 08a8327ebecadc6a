/**
 * Writes batches to Kafka (kafkajs) with an idempotent producer (acks = all). SASL (plain, scram-sha-256,
 * scram-sha-512) and SSL come from the spec; the SASL password is resolved through the secret resolver.
 * The producer connects lazily on the first write, so an unreachable cluster does not fail `create()`.
 */
import { Kafka, type KafkaConfig, type logCreator, logLevel, type Producer, type SASLOptions } from 'kafkajs';
import type { KafkaTargetSpec } from '../spec/types.js';
import { TargetWriteError } from './errors.js';
import { buildKafkaMessages } from './kafka-message.js';
import type { SecretResolver } from './secrets.js';
import { errorMessage, type Logger, type OutRecord, type TargetWriter, type WriterHealth } from './types.js';

/** Client id when the spec has none. */
export const DEFAULT_KAFKA_CLIENT_ID = 'gse-gitops-router';
/** kafkajs retries inside one send; past them the runner spools and retries with its own backoff. */
export const KAFKA_SEND_RETRIES = 3;
/** Upper bound of kafkajs's own retry time inside one send. */
export const KAFKA_MAX_RETRY_TIME_MS = 10_000;
/** Connection and request timeouts. */
export const KAFKA_CONNECTION_TIMEOUT_MS = 3_000;
export const KAFKA_REQUEST_TIMEOUT_MS = 15_000;
/** acks = -1: every in-sync replica, which the idempotent producer requires. */
const ACKS_ALL = -1;

export interface KafkaWriterDeps {
  resolveSecret: SecretResolver;
  logger: Logger;
}

/** The kafkajs client config for a spec, given the resolved SASL password. */
export function kafkaClientConfig(
  spec: KafkaTargetSpec,
  password: string | undefined,
  logger: Logger,
): KafkaConfig {
  const config: KafkaConfig = {
    clientId: spec.clientId ?? DEFAULT_KAFKA_CLIENT_ID,
    brokers: spec.brokers,
    connectionTimeout: KAFKA_CONNECTION_TIMEOUT_MS,
    requestTimeout: KAFKA_REQUEST_TIMEOUT_MS,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
  };
  if (spec.ssl) config.ssl = true;
  if (spec.sasl) {
    const sasl: SASLOptions = {
      mechanism: spec.sasl.mechanism,
      username: spec.sasl.username,
      password: password ?? '',
    };
    config.sasl = sasl;
  }
  return config;
}

function kafkaLogCreator(logger: Logger): logCreator {
  return () =>
    ({ level, log }) => {
      const { message, ...rest } = log;
      const ctx: Record<string, unknown> = { ...rest };
      if (level === logLevel.ERROR) logger.error(`kafka: ${message}`, ctx);
      else if (level === logLevel.WARN) logger.warn(`kafka: ${message}`, ctx);
      else logger.debug(`kafka: ${message}`, ctx);
    };
}

export class KafkaWriter implements TargetWriter {
  private connected = false;
  private connecting: Promise<void> | undefined;
  private lastError: string | undefined;

  private constructor(
    private readonly name: string,
    private readonly spec: KafkaTargetSpec,
    private readonly producer: Producer,
  ) {
    producer.on(producer.events.CONNECT, () => {
      this.connected = true;
    });
    producer.on(producer.events.DISCONNECT, () => {
      this.connected = false;
    });
  }

  /** Builds the producer (no connection yet); resolves the SASL password first. */
  static async create(name: string, spec: KafkaTargetSpec, deps: KafkaWriterDeps): Promise<KafkaWriter> {
    const password = spec.sasl ? await deps.resolveSecret(spec.sasl.passwordFrom) : undefined;
    const kafka = new Kafka(kafkaClientConfig(spec, password, deps.logger));
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      retry: { retries: KAFKA_SEND_RETRIES, maxRetryTime: KAFKA_MAX_RETRY_TIME_MS },
    });
    return new KafkaWriter(name, spec, producer);
  }

  private ensureConnected(): Promise<void> {
    if (this.connected) return Promise.resolve();
    this.connecting ??= this.producer.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** Sends the batch (grouped by topic) and waits for every replica's ack. */
  async write(batch: readonly OutRecord[]): Promise<void> {
    if (batch.length === 0) return;
    try {
      await this.ensureConnected();
      await this.producer.sendBatch({
        topicMessages: buildKafkaMessages(batch, this.spec.topic),
        acks: ACKS_ALL,
      });
      this.lastError = undefined;
    } catch (err) {
      this.lastError = errorMessage(err);
      throw new TargetWriteError(this.name, `send failed: ${this.lastError}`, { cause: err });
    }
  }

  /** Connected once the producer has connected and the last send did not fail. */
  health(): WriterHealth {
    const connected = this.connected && this.lastError === undefined;
    return this.lastError ? { connected, detail: this.lastError } : { connected };
  }

  /** Disconnects the producer; never throws. */
  async close(): Promise<void> {
    try {
      await this.producer.disconnect();
    } catch {
      // already gone
    }
  }
}
