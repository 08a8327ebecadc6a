/** Picks and opens the writer a StreamTarget declares (redis, kafka or file). */
import type { StreamTarget } from '../spec/types.js';
import { TargetConfigError } from './errors.js';
import { FileWriter } from './file-writer.js';
import { KafkaWriter } from './kafka-writer.js';
import { RedisWriter } from './redis-writer.js';
import type { SecretResolver } from './secrets.js';
import type { Logger, TargetType, TargetWriter } from './types.js';

export interface WriterDeps {
  resolveSecret: SecretResolver;
  logger: Logger;
}

/** Opens a writer for a target; the router injects this (tests swap it for fakes). */
export type OpenWriter = (target: StreamTarget) => Promise<TargetWriter>;

/** The one kind a target declares; throws TargetConfigError for none or several. */
export function targetTypeOf(target: StreamTarget): TargetType {
  const kinds = (['redis', 'kafka', 'file'] as const).filter((k) => target.spec[k] !== undefined);
  if (kinds.length !== 1) {
    throw new TargetConfigError(
      target.metadata.name,
      `declare exactly one of redis, kafka, file (found ${kinds.length === 0 ? 'none' : kinds.join(', ')})`,
    );
  }
  return kinds[0] as TargetType;
}

/** The default OpenWriter: a real Redis, Kafka or file writer. */
export function defaultOpenWriter(deps: WriterDeps): OpenWriter {
  return async (target) => {
    const name = target.metadata.name;
    const { redis, kafka, file } = target.spec;
    switch (targetTypeOf(target)) {
      case 'redis':
        return RedisWriter.create(name, redis as NonNullable<typeof redis>, deps);
      case 'kafka':
        return KafkaWriter.create(name, kafka as NonNullable<typeof kafka>, deps);
      default:
        return FileWriter.create(name, file as NonNullable<typeof file>);
    }
  };
}
