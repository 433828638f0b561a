import type { KafkaMessage } from 'kafkajs';
import { DLQ_HEADERS } from '../../src/dead-letter/headers';
import { childEnv, spawnCli } from '../support/cli';
import { startFlowhook, type Harness } from '../support/flowhook-harness';
import { brokers, createTopic, testKafka, uniqueName } from '../support/kafka';
import { waitFor } from '../support/wait';

// `flowhook events dlq list|replay` as a user runs it (built CLI, child process) against the
// real broker, on records the trigger role itself dead-lettered.

const kafka = testKafka();

async function cli(
  prefix: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; output: string }> {
  const p = spawnCli(
    args,
    childEnv({ KAFKA_BROKERS: brokers().join(','), FLOWHOOK_TOPIC_PREFIX: prefix }),
  );
  const { code } = await p.exited;
  return { code, stdout: p.stdout(), output: p.output() };
}

/** Every record of a topic with partition and offset, once at least `count` are there. */
async function readAll(
  topic: string,
  count: number,
): Promise<{ partition: number; message: KafkaMessage }[]> {
  const seen = new Map<string, { partition: number; message: KafkaMessage }>();
  const consumer = kafka.consumer({ groupId: uniqueName('events-dlq-test') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.set(`${partition}:${message.offset}`, { partition, message });
      },
    });
    await waitFor(() => seen.size >= count, {
      what: `${count} records on ${topic}`,
      timeoutMs: 30_000,
    });
  } finally {
    await consumer.disconnect();
  }
  return [...seen.values()];
}

const text = (v: Buffer | string | (Buffer | string)[] | undefined): string | undefined =>
  v === undefined ? undefined : String(Array.isArray(v) ? v[0] : v);

describe('flowhook events dlq', () => {
  let h: Harness;
  const prefix = `${uniqueName('edlq')}.`;

  beforeAll(async () => {
    await createTopic(kafka, `${prefix}events`, 3);
    h = await startFlowhook({
      settings: {
        FLOWHOOK_TOPIC_PREFIX: prefix,
        FLOWHOOK_ROLES: 'trigger',
        FLOWHOOK_EVENT_TOPICS: `${prefix}events`,
        FLOWHOOK_PROFILE_TOPICS: `${prefix}profiles`,
        FLOWHOOK_CATALOG_TOPICS: `${prefix}catalog`,
      },
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('lists dead-lettered events by reason and replays them as they were (key, bytes, headers, timestamp)', async () => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: `${prefix}events`,
      messages: [
        { key: 'p-1', value: '{"not json', headers: { origin: 'shop' } },
        {
          key: 'p-2',
          value: '{"metric": "Placed Order", "profile": {"first_name": "x"}, "properties": {}}',
          headers: { origin: 'crm' },
          timestamp: '1700000000000',
        },
      ],
    });
    await producer.disconnect();
    const dead = await readAll(h.topics.eventsDlq, 2);

    const listed = await cli(prefix, ['events', 'dlq', 'list', '--json']);
    expect(listed.code).toBe(0);
    const rows = JSON.parse(listed.stdout) as { reason: string; source_topic: string }[];
    expect(rows.map((r) => r.reason).sort()).toEqual(['malformed_json', 'schema_invalid']);
    expect(rows.every((r) => r.source_topic === `${prefix}events`)).toBe(true);

    const onlySchema = await cli(prefix, [
      'events',
      'dlq',
      'list',
      '--reason',
      'schema_invalid',
      '--json',
    ]);
    expect((JSON.parse(onlySchema.stdout) as unknown[]).length).toBe(1);
    const sinceFuture = await cli(prefix, [
      'events',
      'dlq',
      'list',
      '--since',
      '2999-01-01T00:00:00Z',
      '--json',
    ]);
    expect(JSON.parse(sinceFuture.stdout)).toEqual([]);

    const replay = await cli(prefix, [
      'events',
      'dlq',
      'replay',
      '--reason',
      'schema_invalid',
      '--since',
      '1h',
    ]);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain(`replayed 1 event (1 to ${prefix}events)`);

    const events = await readAll(`${prefix}events`, 3);
    const originals = events.filter((e) => text(e.message.headers?.origin) === 'crm');
    expect(originals).toHaveLength(2);
    const [first, again] = originals.map((e) => e.message);
    expect(again?.key?.toString()).toBe('p-2');
    expect(again?.value?.equals(first?.value as Buffer)).toBe(true);
    expect(again?.timestamp).toBe('1700000000000'); // a derived event id uses it: same id
    expect(Object.keys(again?.headers ?? {})).toEqual(['origin']);
    const schemaDead = dead.find(
      (d) => text(d.message.headers?.[DLQ_HEADERS.reason]) === 'schema_invalid',
    );
    expect(schemaDead?.message.key?.toString()).toBe('p-2');

    // Still invalid: the trigger dead-letters the replayed copy again, and carries on.
    await readAll(h.topics.eventsDlq, 3);
  });
});
