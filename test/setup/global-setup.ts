import { startKafka } from '../../src/kafka/local-broker';

// One real broker for the whole integration run: KAFKA_BROKERS when set, else testcontainers,
// else Apache Kafka from Maven Central. Workers inherit KAFKA_BROKERS through the environment.
export default async function globalSetup(): Promise<void> {
  const cluster = await startKafka({ log: (line) => process.stderr.write(`[kafka] ${line}\n`) });
  process.env.KAFKA_BROKERS = cluster.brokers.join(',');
  (globalThis as { __FLOWHOOK_KAFKA__?: typeof cluster }).__FLOWHOOK_KAFKA__ = cluster;
  process.stderr.write(`[kafka] ${cluster.kind} broker at ${process.env.KAFKA_BROKERS}\n`);
}
