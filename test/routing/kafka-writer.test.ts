import { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { buildKafkaMessages, kafkaKeyOf } from '../../src/routing/kafka-message.js';
import { KafkaWriter, kafkaClientConfig } from '../../src/routing/kafka-writer.js';
import { createSecretResolver } from '../../src/routing/secrets.js';
import { silentLogger } from '../../src/routing/types.js';
import { outs, record } from './fixtures.js';

describe('buildKafkaMessages', () => {
  it('groups by topic, keeps order and carries key and rid header when records override the topic', () => {
    const batch = [
      { rid: 'a', data: '1', key: 'k1' },
      { rid: 'b', data: '2', dest: 'other' },
      { rid: 'c', data: '3' },
    ];
    expect(buildKafkaMessages(batch, 'main')).toEqual([
      {
        topic: 'main',
        messages: [
          { key: 'k1', value: '1', headers: { rid: 'a' } },
          { key: null, value: '3', headers: { rid: 'c' } },
        ],
      },
      { topic: 'other', messages: [{ key: null, value: '2', headers: { rid: 'b' } }] },
    ]);
  });
});

describe('kafkaKeyOf', () => {
  it('reads the key from a record field when keyField is set', () => {
    const rec = record(1, { fields: { user: { id: 42 }, name: 'x', obj: {} } });
    expect(kafkaKeyOf(rec, 'user.id')).toBe('42');
    expect(kafkaKeyOf(rec, 'name')).toBe('x');
    expect(kafkaKeyOf(rec, 'host.name')).toBe('web-1');
    expect(kafkaKeyOf(rec, 'obj')).toBeUndefined();
    expect(kafkaKeyOf(rec, 'missing')).toBeUndefined();
    expect(kafkaKeyOf(rec, undefined)).toBeUndefined();
  });
});

describe('kafkaClientConfig', () => {
  it('maps SASL and SSL from the spec when they are declared', () => {
    const cfg = kafkaClientConfig(
      {
        brokers: ['k1:9092'],
        topic: 't',
        clientId: 'c',
        ssl: true,
        sasl: { mechanism: 'scram-sha-512', username: 'u', passwordFrom: { env: 'P' } },
      },
      'pw',
      silentLogger,
    );
    expect(cfg).toMatchObject({
      clientId: 'c',
      brokers: ['k1:9092'],
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'pw' },
    });
  });
});

const brokers = process.env.KAFKA_BROKERS?.split(',').filter(Boolean) ?? [];

describe('KafkaWriter', () => {
  it.skipIf(brokers.length === 0)(
    'writes keyed messages that a consumer reads back when a broker is set',
    async () => {
      const topic = `gse-routing-${Date.now()}`;
      const kafka = new Kafka({ brokers, clientId: 'gse-routing-test' });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      const w = await KafkaWriter.create(
        'k',
        { brokers, topic },
        { resolveSecret: createSecretResolver({ env: {} }), logger: silentLogger },
      );
      const batch = outs(0, 20).map((r, i) => ({ ...r, key: `k${i % 3}` }));
      await w.write(batch);
      const consumer = kafka.consumer({ groupId: `${topic}-g` });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const got: Array<{ key: string; value: string; rid: string }> = [];
      await new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            got.push({
              key: message.key?.toString() ?? '',
              value: message.value?.toString() ?? '',
              rid: message.headers?.rid?.toString() ?? '',
            });
            if (got.length >= batch.length) resolve();
          },
        });
      });
      expect(got).toEqual(batch.map((r) => ({ key: r.key, value: r.data, rid: r.rid })));
      await consumer.disconnect();
      await w.close();
      await admin.deleteTopics({ topics: [topic] });
      await admin.disconnect();
    },
  );
});
