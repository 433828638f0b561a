import type { KafkaCluster } from '../../src/kafka/local-broker';

export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as { __FLOWHOOK_KAFKA__?: KafkaCluster };
  await holder.__FLOWHOOK_KAFKA__?.stop();
  holder.__FLOWHOOK_KAFKA__ = undefined;
}
