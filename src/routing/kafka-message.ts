/** Pure building of Kafka messages from out-records: topic per record (route override), key, rid header. */
import type { DataRecord } from '../protocol/messages.js';
import { readField } from './filters.js';
import type { OutRecord } from './types.js';

/** The header that carries the record id, so consumers can dedupe at-least-once delivery. */
export const KAFKA_RID_HEADER = 'rid';

export interface KafkaMessage {
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

export interface KafkaTopicMessages {
  topic: string;
  messages: KafkaMessage[];
}

/** The message key of a record for `keyField` (a filter-style path); undefined when unset or not a scalar. */
export function kafkaKeyOf(rec: DataRecord, keyField: string | undefined): string | undefined {
  if (!keyField) return undefined;
  const v = readField(rec, keyField);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Groups a batch by topic (`dest` overrides `defaultTopic`), keeping the batch order within each topic. */
export function buildKafkaMessages(batch: readonly OutRecord[], defaultTopic: string): KafkaTopicMessages[] {
  const byTopic = new Map<string, KafkaMessage[]>();
  for (const r of batch) {
    const topic = r.dest ?? defaultTopic;
    let list = byTopic.get(topic);
    if (!list) {
      list = [];
      byTopic.set(topic, list);
    }
    list.push({ key: r.key ?? null, value: r.data, headers: { [KAFKA_RID_HEADER]: r.rid } });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}
