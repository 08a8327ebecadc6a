/** The real Kafka broker of the e2e test: the bench's starter (bench/_lib/kafka-broker.ts), one copy. */
export {
  type KafkaAvailability,
  type KafkaBroker,
  kafkaAvailability,
  startKafka,
} from '../../bench/_lib/kafka-broker.js';
