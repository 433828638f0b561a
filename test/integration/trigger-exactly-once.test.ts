import type { WebhookJob } from '../../src/documents';
import { childEnv, spawnCli, type CliProcess } from '../support/cli';
import { produce } from '../support/flowhook-harness';
import { placedOrder, webhookFlow } from '../support/flows';
import { CompactedTopicReader } from '../../src/kafka/compacted-reader';
import { brokers, createTopic, silentLogger, testKafka, uniqueName } from '../support/kafka';
import { waitFor } from '../support/wait';

// Exactly-once job emission: the trigger processor runs as a child process while a shop keeps
// publishing orders, and is killed with SIGKILL inside an open transaction, several times. After
// the last restart every (event, flow, action) has produced exactly one job on the
// read_committed jobs topic.

const KILLS = 4;
/** Events per send of the shop. */
const CHUNK = 10;
/** At most this many events wait for their jobs, so that the stream never stops nor floods. */
const BACKLOG = 60;
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
/** Far longer than a committing transaction takes to get its markers on a loopback broker. */
const COMMITTING_MS = 200;

/** Where a kill landed: records from..to-1 of a jobs partition were in an open transaction. */
interface OpenTransaction {
  partition: number;
  from: bigint;
  to: bigint;
}

let child: CliProcess | undefined;
let shopOpen = true;
const clients: { disconnect(): Promise<void> }[] = [];
afterAll(async () => {
  shopOpen = false;
  if (child?.child.exitCode === null) child.child.kill('SIGKILL');
  await Promise.all(clients.map(async (c) => c.disconnect()));
});

it('emits exactly one job per event, flow and action across SIGKILLs inside open transactions', async () => {
  const kafka = testKafka();
  const prefix = `${uniqueName('eos')}.`;
  const eventTopic = `${prefix}events`;
  const jobsTopic = `${prefix}jobs`;
  await createTopic(kafka, eventTopic, 3);
  await createTopic(kafka, `${prefix}flows`, 1, [{ name: 'cleanup.policy', value: 'compact' }]);
  await createTopic(kafka, jobsTopic, 3);
  await produce(
    kafka,
    `${prefix}flows`,
    FLOWS.map((f) => ({ key: String(f.id), value: JSON.stringify(f) })),
  );

  const seen = new Map<string, number>();
  const delivered = new Set<string>();
  let total = 0;
  const reader = kafka.consumer({ groupId: uniqueName('eos-reader'), readUncommitted: false });
  clients.push(reader);
  await reader.connect();
  await reader.subscribe({ topic: jobsTopic, fromBeginning: true });
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
  // A read_uncommitted reader sees jobs as soon as they are written, before their commit.
  const written = new Map<number, bigint>();
  const peek = kafka.consumer({ groupId: uniqueName('eos-peek'), readUncommitted: true });
  clients.push(peek);
  await peek.connect();
  await peek.subscribe({ topic: jobsTopic, fromBeginning: true });
  await peek.run({
    eachMessage: async ({ message, partition }) => {
      const next = BigInt(message.offset) + 1n;
      if (next > (written.get(partition) ?? 0n)) written.set(partition, next);
    },
  });
  const admin = kafka.admin();
  clients.push(admin);
  await admin.connect();

  const shop = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  clients.push(shop);
  await shop.connect();
  let produced = 0;
  const shopping = (async () => {
    while (shopOpen) {
      await waitFor(
        () => !shopOpen || produced * JOBS_PER_EVENT - total < BACKLOG * JOBS_PER_EVENT,
        {
          timeoutMs: 120_000,
          intervalMs: 5,
          what: 'the trigger to catch up with the shop',
        },
      );
      if (!shopOpen) return;
      const events = Array.from({ length: CHUNK }, () => placedOrder());
      await shop.send({
        topic: eventTopic,
        acks: -1,
        messages: events.map((e) => ({ key: e.profile.id!, value: JSON.stringify(e) })),
      });
      produced += CHUNK;
    }
  })();

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
  const kills: OpenTransaction[] = [];
  for (let k = 0; k < KILLS; k += 1) {
    const before = total;
    const running = spawnCli(['run', '--roles', 'trigger'], env);
    child = running;
    await waitFor(() => total > before, {
      timeoutMs: 60_000,
      intervalMs: 5,
      what: `jobs committed by process ${k}`,
    });
    // Frozen, the process cannot end its transaction. The last stable offset (what
    // read_committed ListOffsets returns) below a written job means a transaction is open, or
    // is committing: then the coordinator writes its markers by itself and the offset moves on
    // within milliseconds. No condition can show that it does not, hence the pause.
    const lastStable = async (partition: number): Promise<bigint> => {
      const ends = await admin.fetchTopicOffsets(jobsTopic);
      return BigInt(ends.find((e) => e.partition === partition)!.offset);
    };
    const open = await waitFor(
      async (): Promise<OpenTransaction | undefined> => {
        running.child.kill('SIGSTOP');
        for (const { partition, offset } of await admin.fetchTopicOffsets(jobsTopic)) {
          const from = BigInt(offset);
          const to = written.get(partition) ?? 0n;
          if (from >= to) continue;
          await new Promise((resolve) => setTimeout(resolve, COMMITTING_MS));
          if ((await lastStable(partition)) === from) return { partition, from, to };
        }
        running.child.kill('SIGCONT');
        return undefined;
      },
      { timeoutMs: 60_000, intervalMs: 5, what: `an open transaction of process ${k}` },
    );
    running.child.kill('SIGKILL');
    await running.exited;
    kills.push(open);
  }
  shopOpen = false;
  await shopping;
  const expected = produced * JOBS_PER_EVENT;

  child = spawnCli(['run', '--roles', 'trigger'], env);
  // Running (signal handlers in place) before it is asked to stop.
  await child.waitForOutput(/running roles/);
  await waitFor(() => seen.size === expected, {
    timeoutMs: 90_000,
    what: `${expected} distinct jobs`,
  });
  child.child.kill('SIGTERM');
  expect(await child.exited).toEqual({ code: 0, signal: null });

  // The whole committed topic, read to the end offsets it has now that every writer stopped.
  const final = new Map<string, number>();
  const committed = new Set<string>();
  const all = new CompactedTopicReader(
    kafka,
    { topic: `${prefix}jobs`, groupPrefix: 'eos-final' },
    silentLogger,
  );
  await all.start((r) => {
    const job = JSON.parse(r.value!.toString()) as WebhookJob;
    const key = `${job.event_id}|${job.flow_id}|${job.action_id}`;
    final.set(key, (final.get(key) ?? 0) + 1);
    committed.add(`${r.partition}:${r.offset}`);
  });
  await all.stop();
  expect(final.size).toBe(expected);
  expect([...final].filter(([, n]) => n > 1)).toEqual([]);
  expect([...seen].filter(([, n]) => n > 1)).toEqual([]);
  // The jobs a killed process had written in its open transaction were aborted, not committed.
  // (A kill misses only when a committing transaction took longer than COMMITTING_MS to end.)
  const aborted = kills.filter((t) => !committed.has(`${t.partition}:${t.from}`));
  expect(aborted.length).toBeGreaterThan(0);
}, 240_000);
