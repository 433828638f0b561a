import type { Consumer } from 'kafkajs';
import type { WebhookJob } from '../../src/documents';
import { childEnv, spawnCli, type CliProcess } from '../support/cli';
import { produce } from '../support/flowhook-harness';
import { placedOrder, webhookFlow } from '../support/flows';
import { CompactedTopicReader } from '../../src/kafka/compacted-reader';
import { brokers, createTopic, silentLogger, testKafka, uniqueName } from '../support/kafka';
import { waitFor } from '../support/wait';

// Exactly-once job emission: the trigger processor runs as a child process and is killed with
// SIGKILL in the middle of its stream, several times. After the last restart every
// (event, flow, action) has produced exactly one job on the read_committed jobs topic.

const EVENTS_PER_WAVE = 150;
const WAVES = 4;
const FLOWS = [
  webhookFlow({
    id: 'crm',
    // Both jobs of a walk at once: this counts jobs, with no delivery role to answer them.
    webhookOrder: 'parallel',
    webhooks: [
      { id: 'a', url: 'https://crm.example.com/a' },
      { id: 'b', url: 'https://crm.example.com/b' },
    ],
  }),
  webhookFlow({ id: 'loyalty', webhooks: [{ id: 'c', url: 'https://loyalty.example.com/c' }] }),
];
const JOBS_PER_EVENT = 3;

let child: CliProcess | undefined;
let reader: Consumer | undefined;
afterAll(async () => {
  if (child?.child.exitCode === null) child.child.kill('SIGKILL');
  await reader?.disconnect();
});

it('emits exactly one job per event, flow and action across repeated SIGKILLs', async () => {
  const kafka = testKafka();
  const prefix = `${uniqueName('eos')}.`;
  const eventTopic = `${prefix}events`;
  await createTopic(kafka, eventTopic, 3);
  await createTopic(kafka, `${prefix}flows`, 1, [{ name: 'cleanup.policy', value: 'compact' }]);
  await createTopic(kafka, `${prefix}jobs`, 3);
  await produce(
    kafka,
    `${prefix}flows`,
    FLOWS.map((f) => ({ key: String(f.id), value: JSON.stringify(f) })),
  );

  const seen = new Map<string, number>();
  const delivered = new Set<string>();
  let total = 0;
  reader = kafka.consumer({ groupId: uniqueName('eos-reader'), readUncommitted: false });
  await reader.connect();
  await reader.subscribe({ topic: `${prefix}jobs`, fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message, partition }) => {
      // Records the reader sees twice after a rebalance of its own group are not duplicates.
      const id = `${partition}:${message.offset}`;
      if (delivered.has(id)) return;
      delivered.add(id);
      const job = JSON.parse(message.value!.toString()) as WebhookJob;
      const key = `${job.event_id}|${job.flow_id}|${job.action_id}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      total += 1;
    },
  });

  const env = childEnv({
    KAFKA_BROKERS: brokers().join(','),
    FLOWHOOK_TOPIC_PREFIX: prefix,
    FLOWHOOK_TOPIC_PARTITIONS: '3',
    FLOWHOOK_EVENT_TOPICS: eventTopic,
    FLOWHOOK_PROFILE_TOPICS: `${prefix}profiles`,
    FLOWHOOK_CATALOG_TOPICS: `${prefix}catalog`,
    FLOWHOOK_HTTP_PORT: '0',
    // The same instance id after every restart: the new producer fences the killed one.
    FLOWHOOK_INSTANCE_ID: 'eos-test',
    // A killed member holds its partitions until its session times out: keep that short.
    KAFKA_SESSION_TIMEOUT: '6s',
  });
  let kills = 0;
  for (let wave = 0; wave < WAVES; wave += 1) {
    const events = Array.from({ length: EVENTS_PER_WAVE }, () => placedOrder());
    await produce(
      kafka,
      eventTopic,
      events.map((e) => ({ key: e.profile.id!, value: JSON.stringify(e) })),
    );
    const before = total;
    child = spawnCli(['run', '--roles', 'trigger'], env);
    // Kill as soon as this process has committed part of the new wave.
    await waitFor(() => total > before, {
      timeoutMs: 60_000,
      intervalMs: 5,
      what: `jobs of wave ${wave}`,
    });
    child.child.kill('SIGKILL');
    await child.exited;
    kills += 1;
  }
  const expected = WAVES * EVENTS_PER_WAVE * JOBS_PER_EVENT;
  expect(total).toBeLessThan(expected); // at least one kill landed mid-stream

  child = spawnCli(['run', '--roles', 'trigger'], env);
  // Running (signal handlers in place) before it is asked to stop.
  await child.waitForOutput(/running roles/);
  await waitFor(() => seen.size === expected, {
    timeoutMs: 90_000,
    what: `${expected} distinct jobs`,
  });
  child.child.kill('SIGTERM');
  expect(await child.exited).toEqual({ code: 0, signal: null });
  expect(kills).toBe(WAVES);

  // The whole committed topic, read to the end offsets it has now that every writer stopped.
  const final = new Map<string, number>();
  const all = new CompactedTopicReader(
    kafka,
    { topic: `${prefix}jobs`, groupPrefix: 'eos-final' },
    silentLogger,
  );
  await all.start((r) => {
    const job = JSON.parse(r.value!.toString()) as WebhookJob;
    const key = `${job.event_id}|${job.flow_id}|${job.action_id}`;
    final.set(key, (final.get(key) ?? 0) + 1);
  });
  await all.stop();
  expect(final.size).toBe(expected);
  expect([...final].filter(([, n]) => n > 1)).toEqual([]);
  expect([...seen].filter(([, n]) => n > 1)).toEqual([]);
}, 240_000);
