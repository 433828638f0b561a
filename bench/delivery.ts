// Delivery throughput: deliveries/s through flowhook's delivery path at concurrency 64, beside a
// bare got POST loop with the same agent settings and concurrency, against one local keep-alive
// HTTP receiver (its own thread, 200 OK). Measured in one run:
//   baseline    got.post in a 64-wide loop (what the HTTP client alone can do here);
//   in-process  deliverAttempt() 64-wide on this thread: guard, secrets, signing,
//               classification, records — flowhook's per-attempt cost without Kafka;
//   kafka       N jobs on <prefix>jobs, the delivery (and delay) roles consuming them, timed
//               from the roles joining their groups to N delivery records readable on
//               <prefix>deliveries. Twice: as configured by default (requests made on one
//               sender thread, FLOWHOOK_DELIVERY_THREADS=1) and with FLOWHOOK_DELIVERY_THREADS=0
//               (everything on the main thread, as the baseline is);
//   kafka, no HTTP  the same with a sender that answers 200 at once: the cost of Kafka,
//               decoding, validation, records and bookkeeping alone.
// The ratio of each to the baseline is reported (target ≥ 0.7), with p50/p99 attempt latency
// and the main thread's CPU time per delivery (Linux), which moves far less between runs than
// throughput does on a shared machine.
// Run: `npm run bench:delivery` (KAFKA_BROKERS, or a local broker is started). Results also go
// to bench/results/delivery.json. BENCH_JOBS sets N (default 20000).

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import got from 'got';
import { Kafka, logLevel } from '../src/kafka/kafkajs';
import { buildConfig, type FlowhookConfig } from '../src/config/load';
import {
  CircuitBreaker,
  deliverAttempt,
  DestinationPolicy,
  HostLimiter,
  RetrySchedule,
  SecretStore,
  WebhookSender,
  type DeliveryDeps,
  type Sender,
} from '../src/delivery';
import type { WebhookJob } from '../src/documents';
import { startKafka, type KafkaCluster } from '../src/kafka/local-broker';
import { createLogger } from '../src/observability/logger';
import { FlowhookMetrics } from '../src/observability/metrics';
import { DeliveryRole } from '../src/delivery/role';
import { ROLE_FACTORIES } from '../src/roles';
import { FlowhookService } from '../src/service/service';

const N = Number(process.env.BENCH_JOBS ?? 20_000);
const CONCURRENCY = 64;
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const BODY = JSON.stringify({
  event: 'Placed Order',
  order_id: 'ORD-1234',
  value: 129.95,
  items: [{ sku: 'SKU-1', quantity: 2 }],
  email: 'someone@example.com',
});

interface Result {
  deliveries: number;
  seconds: number;
  per_second: number;
  p50_ms: number;
  p99_ms: number;
  /** CPU time of the main JS thread per delivery (Linux; the receiver and reader threads not counted). */
  main_thread_cpu_us?: number;
}

/**
 * CPU milliseconds used so far by this process's main thread, from /proc (Linux only). The
 * throughput ratio moves with whatever else the machine runs; CPU per delivery barely does.
 */
function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Main-thread CPU milliseconds since `before` (a mainThreadCpuMs() reading). */
function cpuSince(before: number | undefined): number | undefined {
  const now = mainThreadCpuMs();
  return before === undefined || now === undefined ? undefined : now - before;
}

/** `cpuMs`: main-thread CPU used by the timed part (cpuSince). */
function result(
  count: number,
  seconds: number,
  latencies: number[],
  cpuMs: number | undefined,
): Result {
  const sorted = [...latencies].sort((a, b) => a - b);
  const cpu = cpuMs === undefined ? {} : { main_thread_cpu_us: Math.round((cpuMs * 1000) / count) };
  return {
    deliveries: count,
    seconds: Number(seconds.toFixed(3)),
    per_second: Math.round(count / seconds),
    p50_ms: Number(percentile(sorted, 50).toFixed(2)),
    p99_ms: Number(percentile(sorted, 99).toFixed(2)),
    ...cpu,
  };
}

// ---- the receiver, in its own thread --------------------------------------------------------

const RECEIVER = `
const http = require('node:http');
const { parentPort } = require('node:worker_threads');
let count = 0;
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    count += 1;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '11' });
    res.end('{"ok":true}');
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (m) => {
  if (m === 'count') parentPort.postMessage({ count });
  if (m === 'close') { server.closeAllConnections(); server.close(() => parentPort.close()); }
});
`;

const READER = `
const { parentPort, workerData } = require('node:worker_threads');
const { Kafka, logLevel } = require(workerData.kafkajs);
const kafka = new Kafka({ brokers: workerData.brokers, clientId: 'bench-reader', logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId: workerData.topic + '-reader', maxWaitTimeInMs: 50 });
const latencies = [];
(async () => {
  await consumer.connect();
  await consumer.subscribe({ topic: workerData.topic, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const record = JSON.parse(m.value.toString());
        if (record.outcome !== 'delivered') throw new Error('attempt ' + record.outcome);
        latencies.push(record.duration_ms);
      }
      if (latencies.length >= workerData.n) parentPort.postMessage({ kind: 'done', latencies });
    },
  });
  parentPort.postMessage({ kind: 'ready' });
})().catch((err) => parentPort.postMessage({ kind: 'error', error: String(err) }));
`;

async function startReceiverThread(): Promise<{ port: number; close(): Promise<void> }> {
  const worker = new Worker(RECEIVER, { eval: true });
  const port = await new Promise<number>((res) =>
    worker.once('message', (m: { port: number }) => res(m.port)),
  );
  return {
    port,
    close: async () => {
      worker.postMessage('close');
      await worker.terminate();
    },
  };
}

/** Runs `count` tasks, `width` at a time. */
async function pool(count: number, width: number, task: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

// ---- baseline: bare got -----------------------------------------------------------------------

async function baseline(url: string, n: number): Promise<Result> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const client = got.extend({
    agent: { http: agent },
    retry: { limit: 0 },
    followRedirect: false,
    decompress: false,
    throwHttpErrors: false,
    http2: false,
    timeout: { request: 10_000 },
  });
  const post = () =>
    client.post(url, {
      body: BODY,
      headers: { 'content-type': 'application/json', 'webhook-id': 'msg_bench' },
    });
  await pool(500, CONCURRENCY, async () => void (await post())); // warm-up
  const latencies: number[] = [];
  const cpuBefore = mainThreadCpuMs();
  const started = performance.now();
  await pool(n, CONCURRENCY, async () => {
    const t = performance.now();
    const res = await post();
    if (res.statusCode !== 200) throw new Error(`baseline got ${res.statusCode}`);
    latencies.push(performance.now() - t);
  });
  const seconds = (performance.now() - started) / 1000;
  const cpuMs = cpuSince(cpuBefore);
  agent.destroy();
  return result(n, seconds, latencies, cpuMs);
}

// ---- in-process deliverAttempt --------------------------------------------------------------

function job(url: string, i: number, prefix = 'bench'): WebhookJob {
  return {
    id: `${prefix}-${i}`,
    flow_id: 'flow-bench',
    flow_version: 1,
    action_id: 'action-1',
    event_id: `event-${i}`,
    profile_id: `profile-${i % 1000}`,
    url,
    headers: { 'x-shop': 'bench' },
    body: BODY,
    attempt: 0,
    event_time: new Date().toISOString(),
  };
}

async function inProcess(url: string, n: number): Promise<Result> {
  const sender = new WebhookSender({
    policy: new DestinationPolicy({ allowlist: ['127.0.0.1/32'], allowHttp: true }),
    maxSockets: CONCURRENCY,
  });
  const deps: DeliveryDeps = {
    sender,
    secrets: new SecretStore(),
    signingSecrets: [SECRET],
    schedule: new RetrySchedule(),
    breaker: new CircuitBreaker(),
    limiter: new HostLimiter({ maxPerHost: CONCURRENCY }),
  };
  await pool(500, CONCURRENCY, async (i) => void (await deliverAttempt(job(url, i, 'w'), deps)));
  const latencies: number[] = [];
  const cpuBefore = mainThreadCpuMs();
  const started = performance.now();
  await pool(n, CONCURRENCY, async (i) => {
    const report = await deliverAttempt(job(url, i), deps);
    if (report.decision.kind !== 'delivered')
      throw new Error(`not delivered: ${report.decision.kind}`);
    latencies.push(report.result?.durationMs ?? 0);
  });
  const seconds = (performance.now() - started) / 1000;
  const cpuMs = cpuSince(cpuBefore);
  sender.close();
  return result(n, seconds, latencies, cpuMs);
}

// ---- the whole path through Kafka ------------------------------------------------------------

async function throughKafka(
  url: string,
  n: number,
  brokers: string[],
  options: { threads?: number; sender?: Sender } = {},
): Promise<Result> {
  const { sender } = options;
  const prefix = `bench-${Date.now()}.`;
  const config = buildConfig({
    KAFKA_BROKERS: brokers.join(','),
    FLOWHOOK_TOPIC_PREFIX: prefix,
    FLOWHOOK_TOPIC_PARTITIONS: '6',
    FLOWHOOK_HTTP_PORT: '0',
    FLOWHOOK_HTTP_HOST: '127.0.0.1',
    FLOWHOOK_ROLES: 'delivery,delay',
    FLOWHOOK_ALLOW_HTTP: 'true',
    FLOWHOOK_DESTINATION_ALLOWLIST: '127.0.0.1/32',
    FLOWHOOK_SIGNING_SECRET: SECRET,
    FLOWHOOK_DELIVERY_CONCURRENCY: String(CONCURRENCY),
    FLOWHOOK_HOST_CONCURRENCY: String(CONCURRENCY),
    ...(options.threads === undefined
      ? {}
      : { FLOWHOOK_DELIVERY_THREADS: String(options.threads) }),
    LOG_LEVEL: 'silent',
  }) as FlowhookConfig & { kafka: { brokers: string[] } };
  const kafka = new Kafka({ brokers, clientId: 'bench', logLevel: logLevel.NOTHING });
  const logger = createLogger(process.env.BENCH_LOG_LEVEL ?? 'silent');
  const metrics = new FlowhookMetrics({ defaultMetrics: false });
  // Topics first (the service creates them), jobs next, then the role: the timing covers
  // consuming, delivering and producing records, not the producer of the jobs.
  const admin = new FlowhookService({
    config: { ...config, roles: [] },
    logger,
    roles: {},
    metrics,
  });
  await admin.start();
  await admin.stop();

  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  for (let i = 0; i < n; i += 2000) {
    const messages = [];
    for (let j = i; j < Math.min(n, i + 2000); j++) {
      const jb = job(url, j);
      messages.push({ key: jb.profile_id, value: JSON.stringify(jb) });
    }
    await producer.send({ topic: `${prefix}jobs`, messages, acks: -1 });
  }
  await producer.disconnect();

  // The records are counted in a thread of their own, so that reading them does not take CPU
  // from the delivery role being measured.
  const reader = new Worker(READER, {
    eval: true,
    workerData: { brokers, topic: `${prefix}deliveries`, n, kafkajs: require.resolve('kafkajs') },
  });
  const messages = new Map<string, (value: unknown) => void>();
  reader.on('message', (m: { kind: string; latencies?: number[]; error?: string }) => {
    if (m.error) throw new Error(`deliveries reader: ${m.error}`);
    messages.get(m.kind)?.(m);
  });
  const next = (kind: string) =>
    new Promise<{ latencies?: number[] }>((res) => messages.set(kind, res as (v: unknown) => void));
  const readerReady = next('ready');
  const allDelivered = next('done');
  await readerReady;

  const service = new FlowhookService({
    config,
    logger,
    roles: {
      ...ROLE_FACTORIES,
      delivery: (ctx) => new DeliveryRole(ctx, sender ? { deps: { sender } } : {}),
    },
    metrics,
  });
  await service.start();
  while (!service.isReady()) await new Promise((r) => setTimeout(r, 1));
  const cpuBefore = mainThreadCpuMs();
  const started = performance.now();
  const { latencies = [] } = await allDelivered;
  const seconds = (performance.now() - started) / 1000;
  const cpuMs = cpuSince(cpuBefore);
  await service.stop();
  await reader.terminate();
  return result(n, seconds, latencies, cpuMs);
}

function repoRoot(): string {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  return process.cwd();
}

async function main(): Promise<void> {
  const receiver = await startReceiverThread();
  const url = `http://127.0.0.1:${receiver.port}/hook`;
  let cluster: KafkaCluster | undefined;
  try {
    console.log(
      `delivery bench: ${N} deliveries, concurrency ${CONCURRENCY}, ${cpus().length} CPUs`,
    );
    const base = await baseline(url, N);
    console.log('baseline (bare got)   ', base);
    const direct = process.env.BENCH_SKIP_IN_PROCESS ? base : await inProcess(url, N);
    console.log('in-process deliver    ', direct);
    cluster = await startKafka({ log: (l) => console.log(`[kafka] ${l}`) });
    const viaKafka = await throughKafka(url, N, cluster.brokers);
    console.log('through Kafka         ', viaKafka);
    const sameThread = await throughKafka(url, N, cluster.brokers, { threads: 0 });
    console.log('through Kafka, 0 sender threads', sameThread);
    // The same path with a sender that answers 200 at once: what Kafka, decoding, records and
    // bookkeeping cost per job on this machine, without HTTP.
    const instant: Sender = {
      send: async () => ({
        statusCode: 200,
        durationMs: 0,
        responseBody: '',
        responseTruncated: false,
      }),
    };
    const kafkaOnly = await throughKafka(url, N, cluster.brokers, { sender: instant });
    console.log('through Kafka, no HTTP', kafkaOnly);

    const ratio = (r: Result) => Number((r.per_second / base.per_second).toFixed(3));
    const results = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      deliveries: N,
      concurrency: CONCURRENCY,
      kafka: cluster.kind,
      target_ratio: 0.7,
      baseline_got: base,
      in_process_deliver_attempt: { ...direct, ratio: ratio(direct) },
      through_kafka_delivery_role: { ...viaKafka, ratio: ratio(viaKafka) },
      through_kafka_no_sender_thread: { ...sameThread, ratio: ratio(sameThread) },
      through_kafka_without_http: kafkaOnly,
      notes:
        'in_process = deliverAttempt() (guard, secrets, signing, classification) without Kafka, on the main thread; through_kafka_delivery_role = jobs topic → delivery role → deliveries topic (records readable), timed from the roles joining their groups, with the default FLOWHOOK_DELIVERY_THREADS=1 (HTTP on one sender thread); through_kafka_no_sender_thread = the same with FLOWHOOK_DELIVERY_THREADS=0 (HTTP on the main thread, like the baseline); through_kafka_without_http = a sender answering 200 at once (Kafka, decoding, validation, records). Latency = per-attempt HTTP duration. main_thread_cpu_us = CPU of the main JS thread per delivery (receiver, reader and sender threads not counted).',
    };
    console.log(
      `ratio in-process ${results.in_process_deliver_attempt.ratio}, through Kafka ${results.through_kafka_delivery_role.ratio} (0 sender threads: ${results.through_kafka_no_sender_thread.ratio}) (target ≥ 0.7)`,
    );
    const out = resolve(repoRoot(), 'bench', 'results', 'delivery.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
    console.log(`results written to ${out}`);
  } finally {
    await receiver.close();
    await cluster?.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
