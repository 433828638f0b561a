import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from 'kafkajs';
import { Kafka, logLevel } from '../src/kafka/kafkajs';
import { buildConfig, type FlowhookConfig } from '../src/config/load';
import { startKafka } from '../src/kafka/local-broker';
import { createMemoryCgroup, type MemoryCgroupUsage } from './memory-cgroup';
import { createLogger } from '../src/observability/logger';
import { FlowhookMetrics } from '../src/observability/metrics';
import { roleGroupId } from '../src/service/role';
import { ROLE_FACTORIES } from '../src/roles';
import { FlowhookService } from '../src/service/service';

// npm run bench:trigger — events/s through the trigger role on the local broker, beside a bare
// kafkajs consume→produce pipe (transactional, same fan-out) over the same topic layout.
//   A: 100 live flows, 10 of them matching each event (10 jobs per event)
//   B: 10,000 live flows, 1 matching each event; peak RSS, start-to-ready time (the first
//      start creates the topics) and restart-to-ready (same topics and flows) — the flows
//      cloned from one (one body, compiled once and shared), then each with a body of its own
// Each scenario runs in a fresh process so heaps and JITs do not leak between them.
// npm run bench:profiles — the profile store:
//   C: scenario A with the profile store off, then on (events/s ratio, same run)
//   D: BENCH_PROFILES profiles (default 100,000) with a year of history (3 events each), one
//      flow whose filter reads the history: events/s over the first and the last third of the
//      load (per-event cost flat?), peak RSS, and restart-to-ready on the same state directory;
//      then D again inside a BENCH_MEMORY_LIMIT_MB (default 300) memory cgroup where this
//      process may create one (root): completed or OOM-killed, peak charge, rate vs unlimited

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const PARTITIONS = 3;
/** The memory limit of D's second run (bench:profiles), in MiB. */
const MEMORY_LIMIT_MB = Number(process.env.BENCH_MEMORY_LIMIT_MB ?? 300);

interface ScenarioResult {
  scenario: string;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  jobsPerEvent: number;
  readyMs?: number;
  peakRssMb?: number;
  flows?: number;
  /** D: events/s over the first and the last third of the load, restart-to-ready. */
  firstThirdPerSecond?: number;
  lastThirdPerSecond?: number;
  restartReadyMs?: number;
  profiles?: number;
  peakHeapMb?: number;
  /** D: peak of the anonymous part of RSS (without LMDB's file-backed pages). */
  peakAnonRssMb?: number;
  /** D: peaks of V8's heap (used and reserved) and of memory held outside it (Buffers). */
  peakHeapTotalMb?: number;
  peakExternalMb?: number;
}

function flowDoc(
  id: string,
  metric: string,
  profileFilter: unknown = null,
  distinctBody = false,
): Record<string, unknown> {
  return {
    id,
    name: `bench ${id}`,
    status: 'live',
    version: 1,
    updated_at: '2026-11-24T00:00:00Z',
    definition: {
      triggers: [{ type: 'metric', id: metric }],
      profile_filter: profileFilter,
      entry_action_id: 'hook',
      reentry_criteria: null,
      actions: [
        {
          id: 'hook',
          type: 'send-webhook',
          links: { next: null },
          data: {
            status: 'live',
            message: {
              url: 'https://crm.example.com/orders',
              headers: { 'X-Flow': '{{ flow.id }}' },
              // Cloned flows share one body; a distinct one (its own template) names its flow.
              body:
                (distinctBody ? `{"flow": "${id}", ` : '{') +
                '"email": "{{ email }}", "name": "{{ first_name }} {{ last_name }}", "order": "{{ event.OrderId }}", ' +
                '"total": {{ event|lookup:\'$value\'|tojson }}, "items": [{% for i in event.Items %}{"sku": "{{ i.SKU }}", ' +
                '"qty": {{ i.Quantity }}}{% if not forloop.last %}, {% endif %}{% endfor %}]}',
            },
          },
        },
      ],
    },
  };
}

function event(i: number): Message {
  const profileId = `profile-${i % 5000}`;
  return {
    key: profileId,
    value: JSON.stringify({
      id: `evt-${randomUUID()}`,
      metric: 'Placed Order',
      time: new Date().toISOString(),
      profile: {
        id: profileId,
        email: `${profileId}@example.com`,
        first_name: 'Sam',
        last_name: 'Doe',
      },
      properties: {
        OrderId: `order-${i}`,
        $value: 42.5,
        Items: [
          { SKU: 'A-1', Quantity: 1 },
          { SKU: 'B-2', Quantity: 3 },
        ],
      },
    }),
  };
}

async function produceAll(kafka: Kafka, topic: string, messages: Message[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  // Slices of 500 keep each partition's batch under the broker's 1 MiB limit (flows are ~2 KiB).
  for (let i = 0; i < messages.length; i += 500) {
    await producer.send({ topic, messages: messages.slice(i, i + 500), acks: -1 });
  }
  await producer.disconnect();
}

async function committed(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return t.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

async function until(probe: () => Promise<boolean> | boolean, intervalMs = 20): Promise<void> {
  while (!(await probe())) await new Promise((r) => setTimeout(r, intervalMs));
}

/** The bare pipe: kafkajs eachBatch, one transaction per batch, `fanOut` records per event. */
async function barePipe(
  kafka: Kafka,
  input: string,
  output: string,
  fanOut: number,
): Promise<ScenarioResult> {
  const groupId = `bench-bare-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 1000 });
  const producer = kafka.producer({
    transactionalId: groupId,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: input, fromBeginning: true });
  let firstAt = 0;
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset }) => {
      if (firstAt === 0) firstAt = Date.now();
      const messages: Message[] = [];
      for (const m of batch.messages) {
        const parsed = JSON.parse(m.value!.toString()) as { id: string };
        for (let i = 0; i < fanOut; i++)
          messages.push({ key: m.key, value: JSON.stringify({ ...parsed, n: i }) });
      }
      const tx = await producer.transaction();
      // Requests of ≤ 1000 small records stay under the broker's 1 MiB batch limit.
      for (let i = 0; i < messages.length; i += 1000)
        await tx.send({ topic: output, messages: messages.slice(i, i + 1000) });
      await tx.sendOffsets({
        consumerGroupId: groupId,
        topics: [
          {
            topic: batch.topic,
            partitions: [
              { partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) },
            ],
          },
        ],
      });
      await tx.commit();
      resolveOffset(batch.lastOffset());
    },
  });
  await until(async () => (await committed(kafka, groupId, input)) >= EVENTS, 50);
  const seconds = (Date.now() - firstAt) / 1000;
  await consumer.disconnect();
  await producer.disconnect();
  return {
    scenario: `bare pipe (fan-out ${fanOut})`,
    events: EVENTS,
    seconds,
    eventsPerSecond: EVENTS / seconds,
    jobsPerEvent: fanOut,
  };
}

/** A fresh topic prefix with its event topic and compacted flows topic. */
async function benchTopics(kafka: Kafka): Promise<{ prefix: string; input: string }> {
  const prefix = `bench-${randomUUID().slice(0, 8)}.`;
  const input = `${prefix}events`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: input, numPartitions: PARTITIONS },
      {
        topic: `${prefix}flows`,
        numPartitions: 1,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
    ],
  });
  await admin.disconnect();
  return { prefix, input };
}

function triggerConfig(
  brokers: string[],
  prefix: string,
  input: string,
  settings: Record<string, string> = {},
): FlowhookConfig & { kafka: { brokers: string[] } } {
  return buildConfig({
    KAFKA_BROKERS: brokers.join(','),
    FLOWHOOK_TOPIC_PREFIX: prefix,
    FLOWHOOK_TOPIC_PARTITIONS: String(PARTITIONS),
    FLOWHOOK_EVENT_TOPICS: input,
    FLOWHOOK_PROFILE_TOPICS: `${prefix}profiles`,
    FLOWHOOK_CATALOG_TOPICS: `${prefix}catalog`,
    FLOWHOOK_ROLES: 'trigger',
    FLOWHOOK_HTTP_PORT: '0',
    LOG_LEVEL: 'silent',
    ...settings,
  }) as FlowhookConfig & { kafka: { brokers: string[] } };
}

/** Starts the trigger: the running service, and how long it took to be ready. */
async function startUntilReady(
  config: FlowhookConfig & { kafka: { brokers: string[] } },
): Promise<{ service: FlowhookService; readyMs: number }> {
  const service = new FlowhookService({
    config,
    logger: createLogger('silent'),
    roles: ROLE_FACTORIES,
    metrics: new FlowhookMetrics({ defaultMetrics: false }),
  });
  const startedAt = Date.now();
  await service.start();
  await until(() => service.isReady(), 5);
  return { service, readyMs: Date.now() - startedAt };
}

async function triggerRun(
  kafka: Kafka,
  brokers: string[],
  flows: number,
  matching: number,
  settings: Record<string, string> = {},
  label = '',
  distinctBodies = false,
): Promise<ScenarioResult> {
  const { prefix, input } = await benchTopics(kafka);
  const docs: Message[] = [];
  for (let i = 0; i < flows; i++) {
    const metric = i < matching ? 'Placed Order' : `Other Metric ${i}`;
    const doc = flowDoc(`flow-${i}`, metric, null, distinctBodies);
    docs.push({ key: `flow-${i}`, value: JSON.stringify(doc) });
  }
  await produceAll(kafka, `${prefix}flows`, docs);
  await produceAll(
    kafka,
    input,
    Array.from({ length: EVENTS }, (_, i) => event(i)),
  );

  const config = triggerConfig(brokers, prefix, input, settings);
  const metrics = new FlowhookMetrics({ defaultMetrics: false });
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  const service = new FlowhookService({
    config,
    logger: createLogger('silent'),
    roles: ROLE_FACTORIES,
    metrics,
  });
  const startedAt = Date.now();
  await service.start();
  await until(() => service.isReady(), 5);
  const readyMs = Date.now() - startedAt;
  // Timed from the first event processed, as the bare pipe is timed from its first batch.
  const consumed = async () => (await metrics.eventsConsumed.get()).values[0]?.value ?? 0;
  await until(async () => (await consumed()) > 0, 1);
  const joinedAt = Date.now();
  await until(
    async () => (await committed(kafka, roleGroupId(prefix, 'trigger'), input)) >= EVENTS,
    50,
  );
  const seconds = (Date.now() - joinedAt) / 1000;
  clearInterval(sampler);
  await service.stop();
  // The same flows and topics again, in a new process, as a restarted replica finds them (the
  // first start also created the topics; this process has the templates compiled).
  let restartReadyMs: number | undefined;
  if (flows >= 10_000) {
    const r = spawnSync(process.execPath, [__filename, 'ready-again'], {
      env: {
        ...process.env,
        KAFKA_BROKERS: brokers.join(','),
        BENCH_PREFIX: prefix,
        BENCH_INPUT: input,
      },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (r.status !== 0) throw new Error('the restart failed');
    restartReadyMs = (JSON.parse(r.stdout.trim().split('\n').pop()!) as { readyMs: number })
      .readyMs;
  }
  return {
    scenario: `trigger, ${flows} flows, ${matching} matching${label}`,
    events: EVENTS,
    seconds,
    eventsPerSecond: EVENTS / seconds,
    jobsPerEvent: matching,
    readyMs,
    peakRssMb: Math.round(peakRss / 1024 / 1024),
    flows,
    ...(restartReadyMs !== undefined && { restartReadyMs }),
  };
}

/** D: a store of `BENCH_PROFILES` profiles with a year of history, then a restart. */
async function profilesAtScale(kafka: Kafka, brokers: string[]): Promise<ScenarioResult> {
  const profiles = Number(process.env.BENCH_PROFILES ?? 100_000);
  const perProfile = 3;
  const total = profiles * perProfile;
  const { prefix, input } = await benchTopics(kafka);
  // One flow reads the history: an order in the last 30 days.
  const recentBuyer = {
    condition_groups: [
      {
        conditions: [
          {
            type: 'profile-metric',
            metric_id: 'Placed Order',
            measurement: 'count',
            measurement_filter: { type: 'numeric', operator: 'greater-than-or-equal', value: 2 },
            timeframe_filter: { type: 'date', operator: 'in-the-last', quantity: 30, unit: 'day' },
          },
        ],
      },
    ],
  };
  await produceAll(kafka, `${prefix}flows`, [
    { key: 'repeat', value: JSON.stringify(flowDoc('repeat', 'Placed Order', recentBuyer)) },
  ]);
  // Event j of profile i happens (perProfile - j) × 4 months ago, oldest first.
  const producer = kafka.producer();
  await producer.connect();
  const now = Date.now();
  for (let j = 0; j < perProfile; j++) {
    for (let i = 0; i < profiles; i += 2000) {
      const batch: Message[] = [];
      for (let k = i; k < Math.min(profiles, i + 2000); k++) {
        const profileId = `profile-${k}`;
        batch.push({
          key: profileId,
          value: JSON.stringify({
            id: `evt-${k}-${j}`,
            metric: j % 2 === 0 ? 'Placed Order' : 'Viewed Product',
            time: new Date(now - (perProfile - j) * 120 * 86_400_000 + k).toISOString(),
            profile: { id: profileId, email: `${profileId}@example.com`, first_name: 'Sam' },
            properties: { OrderId: `order-${k}-${j}`, $value: 42.5 },
          }),
        });
      }
      await producer.send({ topic: input, messages: batch, acks: -1 });
    }
  }
  await producer.disconnect();
  const stateDir = join(tmpdir(), `flowhook-bench-profiles-${randomUUID().slice(0, 8)}`);
  const config = triggerConfig(brokers, prefix, input, {
    FLOWHOOK_INSTANCE_ID: 'bench-profiles',
    FLOWHOOK_STATE_DIR: stateDir,
  });
  const start = () => startUntilReady(config);
  // RSS counts the store's memory-mapped LMDB pages (file-backed, reclaimable by the kernel);
  // its anonymous part (RssAnon: heap, native buffers) and the JS heap are what the process
  // itself holds on to.
  let peakRss = process.memoryUsage().rss;
  let peakHeap = process.memoryUsage().heapUsed;
  let peakAnon = anonymousRss();
  let peakHeapTotal = 0;
  let peakExternal = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakHeapTotal = Math.max(peakHeapTotal, m.heapTotal);
    peakExternal = Math.max(peakExternal, m.external);
    peakAnon = Math.max(peakAnon, anonymousRss());
  }, 20);
  const first = await start();
  const group = roleGroupId(prefix, 'trigger');
  const marks: { at: number; done: number }[] = [];
  for (;;) {
    const done = await committed(kafka, group, input);
    marks.push({ at: Date.now(), done });
    if (done >= total) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  clearInterval(sampler);
  await first.service.stop();
  // Rate over a third of the load: from the mark that reached `from` to the one that reached `to`.
  const rate = (from: number, to: number) => {
    const a = marks.find((m) => m.done >= from) as { at: number; done: number };
    const b = marks.find((m) => m.done >= to) as { at: number; done: number };
    return (b.done - a.done) / Math.max(0.001, (b.at - a.at) / 1000);
  };
  const begun = marks.find((m) => m.done > 0) as { at: number };
  const seconds = ((marks[marks.length - 1] as { at: number }).at - begun.at) / 1000;
  const second = await start();
  await second.service.stop();
  rmSync(stateDir, { recursive: true, force: true });
  return {
    scenario: `trigger, ${profiles} profiles with a year of history`,
    events: total,
    seconds,
    eventsPerSecond: total / seconds,
    jobsPerEvent: 0,
    readyMs: first.readyMs,
    peakRssMb: Math.round(peakRss / 1024 / 1024),
    firstThirdPerSecond: rate(1, total / 3),
    lastThirdPerSecond: rate((2 * total) / 3, total),
    restartReadyMs: second.readyMs,
    profiles,
    peakHeapMb: Math.round(peakHeap / 1024 / 1024),
    peakAnonRssMb: Math.round(peakAnon / 1024 / 1024),
    peakHeapTotalMb: Math.round(peakHeapTotal / 1024 / 1024),
    peakExternalMb: Math.round(peakExternal / 1024 / 1024),
  };
}

/** The anonymous part of this process's RSS in bytes (Linux /proc; NaN elsewhere). */
function anonymousRss(): number {
  try {
    const kb = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb === undefined ? NaN : Number(kb) * 1024;
  } catch {
    return NaN;
  }
}

async function scenario(name: string): Promise<ScenarioResult> {
  const cluster = await startKafka({ log: () => undefined });
  const kafka = new Kafka({
    brokers: cluster.brokers,
    logLevel: logLevel.NOTHING,
    clientId: 'bench',
  });
  try {
    if (name === 'bare10' || name === 'bare1') {
      const input = `bench-bare-${randomUUID().slice(0, 8)}`;
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({
        topics: [
          { topic: input, numPartitions: PARTITIONS },
          { topic: `${input}.out`, numPartitions: PARTITIONS },
        ],
      });
      await admin.disconnect();
      await produceAll(
        kafka,
        input,
        Array.from({ length: EVENTS }, (_, i) => event(i)),
      );
      return await barePipe(kafka, input, `${input}.out`, name === 'bare10' ? 10 : 1);
    }
    if (name === 'flows100') return await triggerRun(kafka, cluster.brokers, 100, 10);
    if (name === 'store-off' || name === 'store-on') {
      const on = name === 'store-on';
      return await triggerRun(
        kafka,
        cluster.brokers,
        100,
        10,
        { FLOWHOOK_PROFILE_STORE: String(on) },
        on ? ', profile store on' : ', profile store off',
      );
    }
    if (name === 'profiles-scale') return await profilesAtScale(kafka, cluster.brokers);
    if (name === 'flows10kDistinct')
      return await triggerRun(kafka, cluster.brokers, 10_000, 1, {}, ', each its own body', true);
    return await triggerRun(kafka, cluster.brokers, 10_000, 1);
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  const profilesOnly = arg === '--profiles';
  if (arg === 'ready-again') {
    const env = process.env as Record<string, string>;
    const config = triggerConfig(
      env.KAFKA_BROKERS!.split(','),
      env.BENCH_PREFIX!,
      env.BENCH_INPUT!,
    );
    const { service, readyMs } = await startUntilReady(config);
    await service.stop();
    const result = JSON.stringify({ readyMs }) + '\n';
    process.stdout.write(result, () => process.exit(0));
    return;
  }
  if (arg && !profilesOnly) {
    const result = JSON.stringify(await scenario(arg)) + '\n';
    // Exit as `flowhook run` does after stop(): a kafkajs client left connected (seen once: the
    // flows reader's, after a store-off run) must not hang the parent's spawnSync.
    process.stdout.write(result, () => process.exit(0));
    return;
  }
  // Parent: one broker for every scenario (unless KAFKA_BROKERS is set already).
  const cluster = await startKafka({ log: (l) => console.error(l) });
  const env = { ...process.env, KAFKA_BROKERS: cluster.brokers.join(',') };
  const results: Record<string, ScenarioResult> = {};
  let limited: (MemoryCgroupUsage & { limitMb: number; completed: boolean }) | undefined;
  try {
    const names = profilesOnly
      ? ['store-off', 'store-on', 'profiles-scale']
      : ['bare10', 'flows100', 'bare1', 'flows10k', 'flows10kDistinct'];
    // D once more inside a memory-limited cgroup (a container's memory limit), where allowed.
    const cgroup = profilesOnly
      ? createMemoryCgroup(`flowhook-bench-${process.pid}`, MEMORY_LIMIT_MB)
      : undefined;
    if (profilesOnly && !cgroup)
      console.error('no writable memory cgroup here (needs root): the limited run is skipped');
    if (cgroup) names.push('profiles-limited');
    for (const name of names) {
      const args = [__filename, name === 'profiles-limited' ? 'profiles-scale' : name];
      const [command, argv] =
        cgroup && name === 'profiles-limited'
          ? cgroup.wrap(process.execPath, args)
          : [process.execPath, args];
      const r = spawnSync(command, argv, {
        env,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      if (cgroup && name === 'profiles-limited') {
        limited = { ...cgroup.usage(), limitMb: cgroup.limitMb, completed: r.status === 0 };
        cgroup.remove();
        console.log(
          `in a ${cgroup.limitMb} MiB memory cgroup: ${limited.completed ? 'completed' : `failed (exit ${r.status}, signal ${r.signal})`}, ` +
            `peak charge ${limited.peakMb} MiB (anonymous memory and LMDB's page cache), OOM kills ${limited.oomKills}`,
        );
        if (!limited.completed) continue;
      }
      if (r.status !== 0) throw new Error(`scenario ${name} failed`);
      results[name] = JSON.parse(r.stdout.trim().split('\n').pop()!) as ScenarioResult;
      const x = results[name];
      console.log(
        `${x.scenario}: ${Math.round(x.eventsPerSecond)} events/s (${x.events} events in ${x.seconds.toFixed(2)} s)` +
          (x.readyMs !== undefined
            ? `, ready in ${x.readyMs} ms, peak RSS ${x.peakRssMb} MiB`
            : '') +
          (x.profiles === undefined && x.restartReadyMs !== undefined
            ? `, restart to ready ${x.restartReadyMs} ms`
            : '') +
          (x.profiles !== undefined
            ? `; peak heap ${x.peakHeapMb} MiB, peak anonymous RSS ${x.peakAnonRssMb} MiB; first third ${Math.round(x.firstThirdPerSecond ?? 0)}/s, last third ${Math.round(x.lastThirdPerSecond ?? 0)}/s; restart to ready ${x.restartReadyMs} ms`
            : ''),
      );
    }
  } finally {
    await cluster.stop();
  }
  if (profilesOnly) {
    const off = results['store-off'] as ScenarioResult;
    const on = results['store-on'] as ScenarioResult;
    const scale = results['profiles-scale'] as ScenarioResult;
    const summary = {
      date: new Date().toISOString(),
      node: process.version,
      events: EVENTS,
      partitions: PARTITIONS,
      results,
      ratioStoreOnVsOff: on.eventsPerSecond / off.eventsPerSecond,
      ratioLastVsFirstThird: (scale.lastThirdPerSecond ?? 0) / (scale.firstThirdPerSecond ?? 1),
      memoryLimited: limited && {
        ...limited,
        ratioVsUnlimited: results['profiles-limited']
          ? results['profiles-limited'].eventsPerSecond / scale.eventsPerSecond
          : 0,
      },
    };
    console.log(
      `ratio, profile store on vs off: ${summary.ratioStoreOnVsOff.toFixed(2)} (target >= 0.8)`,
    );
    console.log(
      `${scale.profiles} profiles: last third vs first third of the load ${summary.ratioLastVsFirstThird.toFixed(2)}, peak RSS ${scale.peakRssMb} MiB, restart to ready ${scale.restartReadyMs} ms (target <= 5000)`,
    );
    if (summary.memoryLimited?.completed)
      console.log(
        `${scale.profiles} profiles in ${summary.memoryLimited.limitMb} MiB: ${summary.memoryLimited.ratioVsUnlimited.toFixed(2)} of the unlimited run's events/s`,
      );
    mkdirSync(join(__dirname, '..', '..', 'bench', 'results'), { recursive: true });
    writeFileSync(
      join(__dirname, '..', '..', 'bench', 'results', 'profiles.json'),
      JSON.stringify(summary, null, 2) + '\n',
    );
    return;
  }
  const summary = {
    date: new Date().toISOString(),
    node: process.version,
    events: EVENTS,
    partitions: PARTITIONS,
    results,
    ratio100FlowsVsBare: results.flows100.eventsPerSecond / results.bare10.eventsPerSecond,
    ratio10kFlowsVsBare: results.flows10k.eventsPerSecond / results.bare1.eventsPerSecond,
    peakRssMb10kFlows: results.flows10k.peakRssMb,
    readyMs10kFlows: results.flows10k.readyMs,
    readyMs10kDistinctFlows: results.flows10kDistinct.readyMs,
    restartReadyMs10kFlows: results.flows10k.restartReadyMs,
    restartReadyMs10kDistinctFlows: results.flows10kDistinct.restartReadyMs,
  };
  console.log(
    `ratio, 100 flows (fan-out 10) vs bare pipe at fan-out 10: ${summary.ratio100FlowsVsBare.toFixed(2)} (target >= 0.8)`,
  );
  console.log(
    `ratio, 10,000 flows (fan-out 1) vs bare pipe at fan-out 1: ${summary.ratio10kFlowsVsBare.toFixed(2)} (target >= 0.8)`,
  );
  console.log(
    `10,000 flows: ready in ${summary.readyMs10kFlows} ms (target <= 5000), peak RSS ${summary.peakRssMb10kFlows} MiB; ` +
      `each with its own body: ready in ${summary.readyMs10kDistinctFlows} ms; ` +
      `restarted: ${summary.restartReadyMs10kFlows} ms and ${summary.restartReadyMs10kDistinctFlows} ms`,
  );
  mkdirSync(join(__dirname, '..', '..', 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(__dirname, '..', '..', 'bench', 'results', 'trigger.json'),
    JSON.stringify(summary, null, 2) + '\n',
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
