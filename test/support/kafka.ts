import { randomUUID } from 'node:crypto';
import type { Admin, ITopicConfig } from 'kafkajs';
import { Kafka, logLevel } from '../../src/kafka/kafkajs';
import { createLogger } from '../../src/observability/logger';

export const silentLogger = createLogger('silent');

export function brokers(): string[] {
  const list = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
  if (list.length === 0)
    throw new Error('KAFKA_BROKERS is not set: the integration global setup did not run');
  return list;
}

export function testKafka(clientId = 'flowhook-test'): Kafka {
  return new Kafka({ brokers: brokers(), clientId, logLevel: logLevel.NOTHING });
}

/** A name no other test uses, so tests share one broker without seeing each other's data. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

export async function createTopic(
  kafka: Kafka,
  topic: string,
  partitions = 1,
  configEntries: ITopicConfig['configEntries'] = [],
): Promise<void> {
  await withAdmin(kafka, (admin) =>
    admin.createTopics({
      topics: [{ topic, numPartitions: partitions, configEntries }],
      waitForLeaders: true,
    }),
  );
}

/** Reads every committed message of a topic, from the beginning, until `until` holds. */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  until: (
    messages: {
      key: string | null;
      value: string | null;
      partition: number;
      offset: string;
      headers: Record<string, string>;
    }[],
  ) => boolean,
  timeoutMs = 30_000,
): Promise<
  {
    key: string | null;
    value: string | null;
    partition: number;
    offset: string;
    headers: Record<string, string>;
  }[]
> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), readUncommitted: false });
  const seen: {
    key: string | null;
    value: string | null;
    partition: number;
    offset: string;
    headers: Record<string, string>;
  }[] = [];
  const delivered = new Set<string>();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out reading ${topic}: ${seen.length} messages seen`)),
        timeoutMs,
      );
      if (until(seen)) {
        clearTimeout(timer);
        resolve();
        return;
      }
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          // A rebalance makes kafkajs fetch again from the last commit: count each record once.
          const id = `${partition}:${message.offset}`;
          if (delivered.has(id)) return;
          delivered.add(id);
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {}))
            if (v !== undefined) headers[k] = String(v);
          seen.push({
            key: message.key?.toString() ?? null,
            value: message.value?.toString() ?? null,
            partition,
            offset: message.offset,
            headers,
          });
          if (until(seen)) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return seen;
}
