// Activity store: query latency with a large table, and ingest rate through Kafka, on both
// backends (embedded SQLite, PostgreSQL). Measured in one run, per backend:
//   load       BENCH_ROWS rows (default 10,000,000) bulk-loaded in the database itself
//              (recursive CTE / generate_series), then the store's indexes built;
//   query      "a flow's newest 100 records": list({ flow_id, limit: 100 }) for random flows
//              out of 1,000 (≈ 10,000 rows each), sequential; p50/p99/max;
//   ingest     BENCH_INGEST (default 100,000) activity records, as delivery records on a Kafka
//              topic (each becomes attempted + delivered), read by ActivityIngest into the
//              store: records/s from start to the last one stored;
//   baseline   the same number of records as raw batched INSERTs straight into the loaded
//              table (one transaction / statement per batch, batches the size the ingest
//              wrote), without Kafka or the ingest layer; the ingest's ratio to it;
//   fixed load 5,000 records/s produced for BENCH_LOAD_SECONDS (default 20) while the ingest
//              runs: p50/p99 of produce-to-stored latency per record.
// PostgreSQL: FLOWHOOK_BENCH_DATABASE_URL, else a throw-away cluster from
// scripts/test-postgres.sh. Kafka: KAFKA_BROKERS, else a local broker. Run inside the shared
// lock: `flock /tmp/flowhook-tests.lock npm run bench:activity`. Results: bench/results/activity.json.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Message } from 'kafkajs';
import { Kafka, logLevel } from '../src/kafka/kafkajs';
import { Client } from 'pg';
import { ActivityIngest } from '../src/activity/ingest';
import { PostgresActivityStore } from '../src/activity/postgres-store';
import { ACTIVITY_COLUMNS, toRow } from '../src/activity/sql';
import { SqliteActivityStore } from '../src/activity/sqlite-store';
import type { ActivityStore, IngestWrite } from '../src/activity/store';
import type { ActivityRecord } from '../src/activity/types';
import type { DeliveryRecord } from '../src/documents';
import { startKafka, type KafkaCluster } from '../src/kafka/local-broker';
import { topicNames } from '../src/kafka/topics';
import { createLogger } from '../src/observability/logger';
import { FlowhookMetrics } from '../src/observability/metrics';

const ROWS = Number(process.env.BENCH_ROWS ?? 10_000_000);
const FLOWS = 1000;
const QUERIES = Number(process.env.BENCH_QUERIES ?? 2000);
const INGEST = Number(process.env.BENCH_INGEST ?? 100_000);
const LOAD_RATE = 5000;
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 20);
/** PostgreSQL allows 65,535 parameters per statement: 18 columns × 3,000 rows stays under. */
const MAX_BASELINE_BATCH = 3000;
const DAY = 86_400_000;
/** The loaded rows span the 30 days before the run. */
const T0 = Date.now() - 30 * DAY;
const STEP_MS = (30 * DAY) / ROWS;

const logger = createLogger('silent');

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}
function summary(values: number[]): { p50_ms: number; p99_ms: number; max_ms: number } {
  const s = [...values].sort((a, b) => a - b);
  const r = (n: number) => Number(n.toFixed(2));
  return {
    p50_ms: r(percentile(s, 50)),
    p99_ms: r(percentile(s, 99)),
    max_ms: r(s[s.length - 1] ?? 0),
  };
}

// ---- bulk load ---------------------------------------------------------------------------------

/** The same synthetic row in both dialects: row i of flow i % 1000, ~0.26 ms apart over 30 days. */
function generatedColumns(i: string, d: 'sqlite' | 'postgres'): string {
  const cat = (...parts: string[]) =>
    d === 'sqlite' ? parts.join(' || ') : `concat(${parts.join(', ')})`;
  const mod = (n: number) => `(${i} % ${n})`;
  const div = (n: number) => `(${i} / ${n})`;
  const status =
    d === 'sqlite'
      ? `CASE ${mod(5)} WHEN 0 THEN 'entered' WHEN 1 THEN 'attempted' WHEN 2 THEN 'delivered' WHEN 3 THEN 'attempted' ELSE 'scheduled_retry' END`
      : `(ARRAY['entered','attempted','delivered','attempted','scheduled_retry'])[${mod(5)} + 1]`;
  const pad = d === 'sqlite' ? `printf('%010d', ${i})` : `lpad(${i}::text, 10, '0')`;
  return [
    cat(`'bulk-'`, pad),
    `${T0} + CAST(${i} * ${STEP_MS} AS ${d === 'sqlite' ? 'INTEGER' : 'BIGINT'})`,
    status,
    cat(`'flow-'`, `${mod(FLOWS)}`),
    '1',
    cat(`'hook-'`, `${mod(3)}`),
    cat(`'p-'`, `${mod(200_000)}`),
    'NULL',
    cat(`'evt-'`, div(4)),
    cat(`'msg_'`, div(2)),
    '1',
    '200',
    `${mod(500)}`,
    'NULL',
    'NULL',
    'NULL',
    'NULL',
    'NULL',
  ].join(', ');
}

function loadSqlite(file: string): SqliteActivityStore {
  const store = new SqliteActivityStore({ file, withoutIndexes: true });
  store.db.pragma('synchronous = OFF');
  store.db.pragma('cache_size = -262144');
  const chunk = 1_000_000;
  for (let start = 0; start < ROWS; start += chunk) {
    const end = Math.min(ROWS, start + chunk) - 1;
    store.db.exec(
      `WITH RECURSIVE s(i) AS (SELECT ${start} UNION ALL SELECT i + 1 FROM s WHERE i < ${end})
       INSERT INTO activity (${ACTIVITY_COLUMNS.join(', ')}) SELECT ${generatedColumns('i', 'sqlite')} FROM s`,
    );
  }
  store.createIndexes();
  store.db.pragma('synchronous = NORMAL');
  return store;
}

async function loadPostgres(url: string): Promise<PostgresActivityStore> {
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query('DROP TABLE IF EXISTS activity, review, activity_meta');
  await client.end();
  const store = await PostgresActivityStore.open({ url, withoutIndexes: true, poolSize: 4 });
  await store.pool.query('SET maintenance_work_mem = "256MB"');
  const chunk = 2_000_000;
  for (let start = 0; start < ROWS; start += chunk) {
    const end = Math.min(ROWS, start + chunk) - 1;
    await store.pool.query(
      `INSERT INTO activity (${ACTIVITY_COLUMNS.join(', ')})
       SELECT ${generatedColumns('i', 'postgres')} FROM generate_series(${start}::bigint, ${end}::bigint) AS i`,
    );
  }
  await store.createIndexes();
  await store.pool.query('VACUUM (ANALYZE) activity');
  return store;
}

// ---- query -------------------------------------------------------------------------------------

async function queryBench(store: ActivityStore): Promise<Record<string, unknown>> {
  const flowQuery = async () => {
    const flow = `flow-${Math.floor(Math.random() * FLOWS)}`;
    const started = performance.now();
    const page = await store.list({ flow_id: flow, limit: 100 });
    const ms = performance.now() - started;
    if (page.items.length !== 100) throw new Error(`${flow}: ${page.items.length} records`);
    return { ms, cursor: page.next_cursor };
  };
  for (let i = 0; i < 50; i += 1) await flowQuery(); // warm the cache and the JIT
  const first: number[] = [];
  const next: number[] = [];
  for (let i = 0; i < QUERIES; i += 1) {
    const { ms, cursor } = await flowQuery();
    first.push(ms);
    if (i % 4 === 0 && cursor) {
      const started = performance.now();
      await store.list({ flow_id: `flow-${i % FLOWS}`, limit: 100, cursor });
      next.push(performance.now() - started);
    }
  }
  return { newest_100_of_a_flow: summary(first), next_page: summary(next), queries: QUERIES };
}

// ---- ingest ------------------------------------------------------------------------------------

function benchRecords(n: number, tag: string): ActivityRecord[] {
  const now = new Date().toISOString();
  return Array.from({ length: n }, (_, i) => ({
    id: `${tag}-${i}`,
    time: now,
    status: 'attempted',
    flow_id: `flow-${i % FLOWS}`,
    action_id: 'hook-0',
    profile_id: `p-${i}`,
    job_id: `msg_${tag}_${i}`,
    attempt: 1,
    http_status: 200,
    duration_ms: 10,
  }));
}

/** Raw batched INSERTs without Kafka or the ingest layer: the baseline. */
async function baseline(store: ActivityStore, n: number, batch: number): Promise<number> {
  const records = benchRecords(n, `base-${Date.now()}`);
  const started = performance.now();
  if (store instanceof SqliteActivityStore) {
    const insert = store.db.prepare(
      `INSERT INTO activity (${ACTIVITY_COLUMNS.join(', ')}) VALUES (${ACTIVITY_COLUMNS.map(() => '?').join(', ')})`,
    );
    const tx = store.db.transaction((rows: ActivityRecord[]) => {
      for (const r of rows) {
        const row = toRow(r);
        insert.run(...ACTIVITY_COLUMNS.map((c) => row[c]));
      }
    });
    for (let i = 0; i < n; i += batch) tx(records.slice(i, i + batch));
  } else if (store instanceof PostgresActivityStore) {
    for (let i = 0; i < n; i += batch) {
      const rows = records.slice(i, i + batch).map(toRow);
      const params: unknown[] = [];
      const values = rows.map((row) => {
        const cells = ACTIVITY_COLUMNS.map((c) => {
          params.push(row[c]);
          return `$${params.length}`;
        });
        return `(${cells.join(', ')})`;
      });
      await store.pool.query(
        `INSERT INTO activity (${ACTIVITY_COLUMNS.join(', ')}) VALUES ${values.join(', ')}`,
        params,
      );
    }
  }
  return n / ((performance.now() - started) / 1000);
}

function deliveryMessage(i: number, tag: string, time: string): Message {
  const record: DeliveryRecord = {
    job_id: `msg_${tag}_${i}`,
    flow_id: `flow-${i % FLOWS}`,
    action_id: 'hook-0',
    profile_id: `p-${i}`,
    event_id: `evt-${tag}-${i}`,
    attempt: 1,
    status_code: 200,
    duration_ms: 10,
    outcome: 'delivered',
    time,
  };
  return { key: record.job_id, value: JSON.stringify(record) };
}

/** Wraps a store to time each record from its `time` (set at produce) to its batch stored. */
function timed(store: ActivityStore, latencies: number[], batchSizes: number[]): ActivityStore {
  return Object.assign(Object.create(store) as ActivityStore, {
    write: async (batch: IngestWrite) => {
      const n = await store.write(batch);
      const now = Date.now();
      batchSizes.push(batch.records.length);
      for (const r of batch.records)
        if (r.status === 'delivered') latencies.push(now - Date.parse(r.time));
      return n;
    },
  });
}

async function ingestBench(
  store: ActivityStore,
  brokers: string[],
): Promise<Record<string, unknown>> {
  const kafka = new Kafka({ brokers, clientId: 'bench-activity', logLevel: logLevel.NOTHING });
  const prefix = `bench-activity-${store.kind}-${Date.now()}.`;
  const topics = topicNames(prefix);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [topics.jobs, topics.deliveries, topics.dlq, topics.activity, topics.review].map(
      (topic) => ({
        topic,
        numPartitions: 3,
      }),
    ),
    waitForLeaders: true,
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();

  // Backlog: INGEST activity records (INGEST / 2 delivery records) on the topic before start.
  const tag = `b${Date.now()}`;
  const deliveries = INGEST / 2;
  const now = new Date().toISOString();
  for (let i = 0; i < deliveries; i += 2000) {
    const messages = Array.from({ length: Math.min(2000, deliveries - i) }, (_, k) =>
      deliveryMessage(i + k, tag, now),
    );
    await producer.send({ topic: topics.deliveries, messages, acks: -1 });
  }
  const latencies: number[] = [];
  const batchSizes: number[] = [];
  const before = await store.count();
  const ingest = new ActivityIngest({
    store: timed(store, latencies, batchSizes),
    kafka,
    topics,
    topicPrefix: prefix,
    retentionMs: 3650 * DAY,
    pruneIntervalMs: 3_600_000,
    logger,
    metrics: new FlowhookMetrics({ defaultMetrics: false }),
  });
  const started = performance.now();
  await ingest.start();
  while ((await store.count()) < before + INGEST) await new Promise((r) => setTimeout(r, 20));
  const backlogRate = INGEST / ((performance.now() - started) / 1000);
  // The baseline inserts in batches of the size the ingest wrote, without Kafka or the ingest.
  const meanBatch = Math.round(batchSizes.reduce((a, b) => a + b, 0) / batchSizes.length);
  const baselineBatch = Math.min(MAX_BASELINE_BATCH, Math.max(1, meanBatch));
  const baselineRate = await baseline(store, INGEST, baselineBatch);

  // Fixed load: LOAD_RATE activity records/s (half as many delivery records) for LOAD_SECONDS.
  latencies.length = 0;
  const perTick = LOAD_RATE / 2 / 10;
  const loadTag = `l${Date.now()}`;
  const loadStart = performance.now();
  let sent = 0;
  for (let tick = 0; tick < LOAD_SECONDS * 10; tick += 1) {
    const due = loadStart + tick * 100;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const time = new Date().toISOString();
    const messages = Array.from({ length: perTick }, (_, k) =>
      deliveryMessage(sent + k, loadTag, time),
    );
    sent += perTick;
    await producer.send({ topic: topics.deliveries, messages, acks: -1 });
  }
  const expected = before + INGEST + sent * 2;
  while ((await store.count()) < expected) await new Promise((r) => setTimeout(r, 20));
  const produceSeconds = (performance.now() - loadStart) / 1000;

  await ingest.stop();
  await producer.disconnect();
  await admin
    .deleteTopics({
      topics: Object.values(topics).filter((t): t is string => typeof t === 'string'),
    })
    .catch(() => undefined);
  await admin.disconnect();
  return {
    backlog_records: INGEST,
    backlog_records_per_s: Math.round(backlogRate),
    ingest_mean_batch: meanBatch,
    baseline_batch: baselineBatch,
    baseline_records_per_s: Math.round(baselineRate),
    ratio_to_baseline: Number((backlogRate / baselineRate).toFixed(2)),
    fixed_load: {
      records_per_s: LOAD_RATE,
      seconds: LOAD_SECONDS,
      achieved_records_per_s: Math.round((sent * 2) / produceSeconds),
      produce_to_stored: summary(latencies),
    },
  };
}

// ---- run ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const results: Record<string, unknown> = {
    bench: 'activity',
    rows: ROWS,
    flows: FLOWS,
    date: new Date().toISOString(),
    node: process.version,
  };
  let cluster: KafkaCluster | undefined;
  let pgDir: string | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'flowhook-bench-activity-'));
  try {
    cluster = await startKafka({ log: (l) => console.log(`[kafka] ${l}`) });
    let pgUrl = process.env.FLOWHOOK_BENCH_DATABASE_URL;
    if (pgUrl === undefined) {
      const out = execFileSync(
        'bash',
        [resolve(__dirname, '../../scripts/test-postgres.sh'), 'start'],
        {
          encoding: 'utf8',
        },
      );
      pgUrl = /FLOWHOOK_TEST_DATABASE_URL=(\S+)/.exec(out)?.[1];
      pgDir = /FLOWHOOK_TEST_PG_DIR=(\S+)/.exec(out)?.[1];
    }
    const backends: [string, () => Promise<ActivityStore>][] = [
      ['sqlite', () => Promise.resolve(loadSqlite(join(dir, 'activity.sqlite')))],
      ['postgres', () => loadPostgres(pgUrl as string)],
    ];
    for (const [name, load] of backends) {
      console.log(`${name}: loading ${ROWS.toLocaleString()} rows …`);
      const loadStarted = performance.now();
      const store = await load();
      const loadSeconds = (performance.now() - loadStarted) / 1000;
      console.log(`${name}: loaded in ${loadSeconds.toFixed(0)} s; querying …`);
      const query = await queryBench(store);
      console.log(`${name}: query`, JSON.stringify(query));
      const ingest = await ingestBench(store, cluster.brokers);
      console.log(`${name}: ingest`, JSON.stringify(ingest));
      results[name] = { load_seconds: Number(loadSeconds.toFixed(1)), query, ingest };
      await store.close();
    }
  } finally {
    await cluster?.stop();
    if (pgDir !== undefined)
      execFileSync('bash', [resolve(__dirname, '../../scripts/test-postgres.sh'), 'stop', pgDir]);
    rmSync(dir, { recursive: true, force: true });
  }
  const out = resolve(__dirname, '../../bench/results/activity.json');
  mkdirSync(resolve(out, '..'), { recursive: true });
  writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
  console.log(JSON.stringify(results, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
