import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Producer } from 'kafkajs';
import { Kafka, logLevel } from '../src/kafka/kafkajs';
import { freePort, startKafka } from '../src/kafka/local-broker';

// npm run bench:e2e — end-to-end latency: event produced → webhook received, through a real
// flowhook (all roles in one child process, as `flowhook run` runs them) on a local broker, at
// fixed event rates. The load generator and the receiver share this process (and its clock);
// latency is the receiver's arrival time minus the time the event was handed to the producer.
//   1. 1,000 events/s for BENCH_E2E_SECONDS (default 60): p50 / p90 / p99 / max, nothing lost.
//   2. Rising rates, BENCH_E2E_STEP_SECONDS each (default 20), until p99 passes 250 ms or
//      anything is lost: the highest steady rate at which p99 stays under 250 ms. If 1,000/s
//      is already over, falling rates (BENCH_E2E_STEPS_DOWN) until one is under.

const PARTITIONS = 6;
const SECONDS = Number(process.env.BENCH_E2E_SECONDS ?? 60);
const STEP_SECONDS = Number(process.env.BENCH_E2E_STEP_SECONDS ?? 20);
const STEPS = (process.env.BENCH_E2E_STEPS ?? '1500,2000,2500,3000,4000').split(',').map(Number);
const STEPS_DOWN = (process.env.BENCH_E2E_STEPS_DOWN ?? '750,500,250').split(',').map(Number);
const P99_LIMIT_MS = 250;

interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

interface RateResult {
  rate: number;
  seconds: number;
  sent: number;
  received: number;
  lost: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Event produced → its job readable (read_committed) on flowhook.jobs. */
  triggerHop: Percentiles;
  /**
   * Event produced → the trigger handed its job to its producer (the job record's timestamp):
   * the trigger hop without the commit and the read_committed fetch after it.
   */
  triggerProduced: Percentiles;
}

function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

/** Seen time of each job on flowhook.jobs, by bench id (the trigger hop). */
const jobLatencies = new Map<string, number>();
/** The job record's timestamp (set when the trigger sent it) − the event's send time. */
const jobProduced = new Map<string, number>();

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * The webhook receiver, on a thread of its own: the load generator's event loop (producing,
 * reading flowhook.jobs) must not delay its answers or its arrival times. It reports
 * (id, latency) pairs in batches.
 */
const RECEIVER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createServer } = require('node:http');
let seen = [];
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    const { id, sent } = JSON.parse(Buffer.concat(chunks).toString());
    seen.push([id, at - sent]);
    res.writeHead(200).end();
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
const flush = setInterval(() => {
  if (seen.length > 0) parentPort.postMessage({ seen });
  seen = [];
}, 20);
parentPort.on('message', () => {
  clearInterval(flush);
  server.closeAllConnections();
  server.close(() => parentPort.close());
});
`;

class Receiver {
  readonly latencies = new Map<string, number>();
  private worker: Worker | undefined;
  port = 0;

  async start(): Promise<void> {
    const worker = new Worker(RECEIVER_SOURCE, { eval: true });
    this.worker = worker;
    this.port = await new Promise<number>((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', (m: { port?: number; seen?: [string, number][] }) => {
        if (m.port !== undefined) resolve(m.port);
        for (const [id, latency] of m.seen ?? []) {
          if (!this.latencies.has(id)) this.latencies.set(id, latency);
        }
      });
    });
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise((r) => worker.once('exit', r));
    worker.postMessage('stop');
    await exited;
  }
}

function flow(url: string): Record<string, unknown> {
  return {
    id: 'e2e',
    name: 'e2e bench',
    status: 'live',
    version: 1,
    updated_at: '2026-12-01T00:00:00Z',
    definition: {
      triggers: [{ type: 'metric', id: 'Placed Order' }],
      profile_filter: null,
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
              url,
              headers: {},
              body: '{"id": "{{ event.bench_id }}", "sent": {{ event.sent_at }}, "email": "{{ email }}"}',
            },
          },
        },
      ],
    },
  };
}

async function runRate(
  producer: Producer,
  topic: string,
  receiver: Receiver,
  rate: number,
  seconds: number,
): Promise<RateResult> {
  const ids: string[] = [];
  const tickMs = 10;
  const perTick = rate / (1000 / tickMs);
  const started = Date.now();
  let due = 0;
  let n = 0;
  const sends: Promise<unknown>[] = [];
  while (Date.now() - started < seconds * 1000) {
    due += perTick;
    const batch = [];
    while (n < Math.floor(due)) {
      const id = `evt-${randomUUID()}`;
      const profile = `profile-${n % 50_000}`;
      ids.push(id);
      batch.push({
        key: profile,
        value: JSON.stringify({
          id,
          metric: 'Placed Order',
          time: new Date().toISOString(),
          profile: { id: profile, email: `${profile}@example.com` },
          properties: { bench_id: id, sent_at: Date.now(), $value: 10 },
        }),
      });
      n += 1;
    }
    if (batch.length > 0) sends.push(producer.send({ topic, messages: batch, acks: -1 }));
    const next = started + ((n + perTick) / rate) * 1000;
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(tickMs, next - Date.now()))));
  }
  await Promise.all(sends);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && ids.some((id) => !receiver.latencies.has(id))) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const latencies = ids
    .map((id) => receiver.latencies.get(id))
    .filter((v): v is number => v !== undefined)
    .sort((a, b) => a - b);
  return {
    rate,
    seconds,
    sent: ids.length,
    received: latencies.length,
    lost: ids.length - latencies.length,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? NaN,
    triggerProduced: percentiles(
      ids.map((id) => jobProduced.get(id)).filter((v): v is number => v !== undefined),
    ),
    triggerHop: percentiles(
      ids.map((id) => jobLatencies.get(id)).filter((v): v is number => v !== undefined),
    ),
  };
}

/**
 * Mean commit time per role group and mean webhook attempt time, from the service's own
 * histograms (where the time goes).
 */
async function commitStats(
  port: number,
): Promise<Record<string, { commits: number; meanMs: number }>> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  // BENCH_E2E_METRICS=<file>: the service's whole /metrics page at the end, to look further.
  if (process.env.BENCH_E2E_METRICS) writeFileSync(process.env.BENCH_E2E_METRICS, text);
  const out: Record<string, { commits: number; meanMs: number }> = {};
  for (const m of text.matchAll(
    /^flowhook_commit_duration_seconds_(sum|count)\{group="([^"]+)"\} ([\d.e+-]+)/gm,
  )) {
    const entry = (out[m[2] as string] ??= { commits: 0, meanMs: 0 });
    if (m[1] === 'count') entry.commits = Number(m[3]);
    else entry.meanMs = Number(m[3]) * 1000;
  }
  for (const e of Object.values(out)) e.meanMs = e.commits > 0 ? e.meanMs / e.commits : 0;
  const attempts = [
    ...text.matchAll(/^flowhook_webhook_attempt_duration_seconds_(sum|count) ([\d.e+-]+)/gm),
  ];
  const sum = Number(attempts.find((m) => m[1] === 'sum')?.[2] ?? 0);
  const count = Number(attempts.find((m) => m[1] === 'count')?.[2] ?? 0);
  out['webhook attempts'] = { commits: count, meanMs: count > 0 ? (sum / count) * 1000 : 0 };
  return out;
}

async function main(): Promise<void> {
  const cluster = await startKafka({ log: (l) => console.error(l) });
  const receiver = new Receiver();
  await receiver.start();
  const prefix = `e2e-${randomUUID().slice(0, 8)}.`;
  const topic = `${prefix}events`;
  const kafka = new Kafka({
    brokers: cluster.brokers,
    clientId: 'bench-e2e',
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: PARTITIONS }],
    waitForLeaders: true,
  });
  await admin.disconnect();
  const stateDir = mkdtempSync(join(tmpdir(), 'flowhook-e2e-state-'));
  let child: ChildProcess | undefined;
  const httpPort = await freePort();
  try {
    // BENCH_E2E_CPU_PROF=<dir>: the service writes a V8 CPU profile there when it exits.
    const profile = process.env.BENCH_E2E_CPU_PROF
      ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_E2E_CPU_PROF]
      : [];
    child = spawn(process.execPath, [...profile, join(__dirname, '..', 'src', 'cli.js'), 'run'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        KAFKA_BROKERS: cluster.brokers.join(','),
        FLOWHOOK_TOPIC_PREFIX: prefix,
        FLOWHOOK_TOPIC_PARTITIONS: String(PARTITIONS),
        FLOWHOOK_EVENT_TOPICS: topic,
        FLOWHOOK_PROFILE_TOPICS: `${prefix}profiles`,
        FLOWHOOK_CATALOG_TOPICS: `${prefix}catalog`,
        FLOWHOOK_HTTP_PORT: String(httpPort),
        FLOWHOOK_ADMIN_PORT: '0',
        FLOWHOOK_ADMIN_STATE_DIR: join(stateDir, 'admin'),
        FLOWHOOK_ALLOW_HTTP: 'true',
        FLOWHOOK_DESTINATION_ALLOWLIST: '127.0.0.1/32',
        FLOWHOOK_SIGNING_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
        FLOWHOOK_STATE_DIR: stateDir,
        // The one receiver takes all 1,000 webhooks/s. At the default 16 requests per host, a
        // request slot must turn over in 16 ms, which this shared 2-core box (broker, load and
        // receiver beside flowhook) does not manage: the bench would measure the per-host
        // limit's queue, not the pipeline. A receiver that takes this rate takes 64 at once.
        FLOWHOOK_HOST_CONCURRENCY: '64',
        LOG_LEVEL: 'warn',
        // Other FLOWHOOK_* settings are passed through for experiments (default: the service's own).
        ...Object.fromEntries(
          Object.entries(process.env).filter(([name]) => name.startsWith('FLOWHOOK_')),
        ),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5 });
    await producer.connect();
    // The service creates its topics at start: publish the flow once they exist.
    const flowsTopic = `${prefix}flows`;
    const watcher = kafka.admin();
    await watcher.connect();
    while (!(await watcher.listTopics()).includes(flowsTopic)) {
      await new Promise((r) => setTimeout(r, 200));
    }
    await watcher.disconnect();
    const url = `http://127.0.0.1:${receiver.port}/hook`;
    await producer.send({
      topic: flowsTopic,
      messages: [{ key: 'e2e', value: JSON.stringify(flow(url)) }],
    });
    const jobs = kafka.consumer({ groupId: `bench-jobs-${randomUUID()}`, maxWaitTimeInMs: 50 });
    await jobs.connect();
    await jobs.subscribe({ topic: `${prefix}jobs`, fromBeginning: true });
    await jobs.run({
      eachMessage: async ({ message }) => {
        const at = Date.now();
        const job = JSON.parse(message.value!.toString()) as { body: string };
        const { id, sent } = JSON.parse(job.body) as { id: string; sent: number };
        if (!jobLatencies.has(id)) jobLatencies.set(id, at - sent);
        if (!jobProduced.has(id)) jobProduced.set(id, Number(message.timestamp) - sent);
      },
    });
    // Warm-up until webhooks flow (the service joined its groups and loaded the flow).
    for (;;) {
      const warm = await runRate(producer, topic, receiver, 200, 2);
      if (warm.lost === 0) break;
    }
    console.log(`steady load: 1000 events/s for ${SECONDS} s`);
    const steady = await runRate(producer, topic, receiver, 1000, SECONDS);
    console.log(JSON.stringify(steady));
    const commits = await commitStats(httpPort);
    console.log(JSON.stringify({ commits }));
    const steps: RateResult[] = [];
    let highest: number | null = steady.p99 < P99_LIMIT_MS && steady.lost === 0 ? 1000 : null;
    // p99 over the limit at 1,000 events/s already: the highest rate below that keeps it.
    for (const rate of highest === null ? STEPS_DOWN : []) {
      const r = await runRate(producer, topic, receiver, rate, STEP_SECONDS);
      console.log(JSON.stringify(r));
      steps.push(r);
      if (r.p99 < P99_LIMIT_MS && r.lost === 0) {
        highest = rate;
        break;
      }
    }
    for (const rate of highest === 1000 ? STEPS : []) {
      const r = await runRate(producer, topic, receiver, rate, STEP_SECONDS);
      console.log(JSON.stringify(r));
      steps.push(r);
      if (r.p99 >= P99_LIMIT_MS || r.lost > 0) break;
      highest = rate;
    }
    await producer.disconnect();
    await jobs.disconnect();
    const results = {
      date: new Date().toISOString(),
      node: process.version,
      partitions: PARTITIONS,
      steady,
      commits,
      steps,
      highestRateP99Under250ms: highest,
    };
    mkdirSync(join(__dirname, '..', '..', 'bench', 'results'), { recursive: true });
    writeFileSync(
      join(__dirname, '..', '..', 'bench', 'results', 'e2e.json'),
      `${JSON.stringify(results, null, 2)}\n`,
    );
    console.log(
      `e2e at 1000 ev/s: p50 ${steady.p50} ms, p90 ${steady.p90} ms, p99 ${steady.p99} ms, max ${steady.max} ms, lost ${steady.lost}; highest rate with p99 < 250 ms: ${highest ?? 'none'} ev/s`,
    );
  } finally {
    child?.kill('SIGTERM');
    await new Promise((r) => child?.once('exit', r) ?? r(undefined));
    await receiver.stop();
    await cluster.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
