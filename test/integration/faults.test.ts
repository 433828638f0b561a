// Faults are normal: while events flow through a real flowhook (all roles, as a child process)
// to a real receiver, this suite SIGKILLs and restarts the broker (on the data it keeps), SIGKILLs
// and restarts flowhook, takes the receiver down for a while, and runs a second replica of every
// role to force rebalances. Afterwards every event's webhook has arrived, flowhook.jobs holds
// exactly one job per (event, flow, action), repeat deliveries carry the first one's webhook-id,
// and both DLQs are empty.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { Kafka, logLevel } from '../../src/kafka/kafkajs';
import { DELAYED_FROM_HEADER } from '../../src/delay/message';
import type { WebhookJob } from '../../src/documents';
import { CompactedTopicReader } from '../../src/kafka/compacted-reader';
import { freePort, startKafka, type KafkaCluster } from '../../src/kafka/local-broker';
import { childEnv, spawnCli, type CliProcess } from '../support/cli';
import { SIGNING_SECRET } from '../support/flowhook-harness';
import { placedOrder, webhookFlow } from '../support/flows';
import { silentLogger } from '../support/kafka';
import { startReceiver, type Receiver } from '../support/receiver';
import { waitFor } from '../support/wait';

const PREFIX = 'faults.';
const EVENTS = `${PREFIX}events`;
const WAVE = 150;

let root: string;
let brokerOptions: { dataDir: string; port: number; controllerPort: number };
let broker: KafkaCluster | undefined;
let receiver: Receiver | undefined;
let receiverPort: number;
/** Requests of receivers already closed (the receiver restarts on the same port). */
const pastRequests: Receiver['requests'] = [];
const allRequests = () => [...pastRequests, ...(receiver?.requests ?? [])];
const replicas = new Map<string, CliProcess>();
/** Every replica's output, kept for a look after a failure. */
const LOG_DIR = join(tmpdir(), 'flowhook-faults-logs');
const outputs: string[] = [];
const kafka = () =>
  new Kafka({
    brokers: [`127.0.0.1:${brokerOptions.port}`],
    clientId: 'faults-test',
    logLevel: logLevel.NOTHING,
    retry: { retries: 20, initialRetryTime: 200, maxRetryTime: 2000 },
  });

async function startBroker(): Promise<void> {
  broker = await startKafka({
    env: { ...process.env, KAFKA_BROKERS: '', FLOWHOOK_NO_CONTAINERS: '1' },
    persistent: brokerOptions,
  });
}

async function killBroker(): Promise<void> {
  const pid = broker?.pid;
  if (pid === undefined) throw new Error('no local broker to kill');
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !pidAlive(pid), { what: 'broker gone' });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function startReplica(name: string): CliProcess {
  const child = spawnCli(
    ['run'],
    childEnv({
      KAFKA_BROKERS: `127.0.0.1:${brokerOptions.port}`,
      FLOWHOOK_TOPIC_PREFIX: PREFIX,
      FLOWHOOK_TOPIC_PARTITIONS: '4',
      FLOWHOOK_EVENT_TOPICS: EVENTS,
      FLOWHOOK_PROFILE_TOPICS: `${PREFIX}profiles`,
      FLOWHOOK_CATALOG_TOPICS: `${PREFIX}catalog`,
      FLOWHOOK_HTTP_PORT: '0',
      FLOWHOOK_HTTP_HOST: '127.0.0.1',
      FLOWHOOK_ADMIN_PORT: '0',
      FLOWHOOK_ADMIN_STATE_DIR: join(root, `admin-${name}`),
      FLOWHOOK_INSTANCE_ID: name,
      FLOWHOOK_STATE_DIR: join(root, 'state'),
      KAFKA_SESSION_TIMEOUT: '6s',
      FLOWHOOK_ALLOW_HTTP: 'true',
      FLOWHOOK_DESTINATION_ALLOWLIST: '127.0.0.1/32',
      FLOWHOOK_HTTP_TIMEOUT: '2s',
      FLOWHOOK_CIRCUIT_COOLDOWN: '2s',
      // About a minute of retries: longer than any outage below.
      FLOWHOOK_RETRY_SCHEDULE: Array.from({ length: 30 }, () => '2s').join(','),
      FLOWHOOK_SIGNING_SECRET: SIGNING_SECRET,
      LOG_LEVEL: 'info',
    }),
  );
  replicas.set(name, child);
  void child.exited.then(() => outputs.push(`==== ${name}\n${child.output()}`));
  return child;
}

/** pino lines at error level (50) or above that a process printed. */
function errorLines(child: CliProcess): string[] {
  return child
    .output()
    .split('\n')
    .filter((line) => /"level":("error"|"fatal"|5\d|60)/.test(line));
}

async function httpPort(child: CliProcess): Promise<string> {
  const m = await child.waitForOutput(/"httpPort":(\d+)/, 120_000);
  return m[1] as string;
}

async function ready(child: CliProcess): Promise<void> {
  const url = `http://127.0.0.1:${await httpPort(child)}/readyz`;
  await waitFor(
    async () =>
      (await fetch(url)
        .then((r) => r.status)
        .catch(() => 0)) === 200,
    { timeoutMs: 120_000, what: 'replica ready' },
  );
}

/** Event ids whose webhook arrived, from the request bodies. */
function deliveredEvents(): Map<string, Set<string>> {
  const byEvent = new Map<string, Set<string>>();
  for (const r of allRequests()) {
    const { event_id: eventId } = JSON.parse(r.body) as { event_id: string };
    const ids = byEvent.get(eventId) ?? new Set<string>();
    ids.add(String(r.headers['webhook-id']));
    byEvent.set(eventId, ids);
  }
  return byEvent;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'flowhook-faults-'));
  brokerOptions = {
    dataDir: join(root, 'kafka'),
    port: await freePort(),
    controllerPort: await freePort(),
  };
  await startBroker();
  receiverPort = await freePort();
  receiver = await startReceiver([{ status: 200 }], { port: receiverPort });
}, 180_000);

afterAll(async () => {
  for (const child of replicas.values()) {
    if (child.child.exitCode === null) child.child.kill('SIGKILL');
    await child.exited;
  }
  mkdirSync(LOG_DIR, { recursive: true });
  writeFileSync(join(LOG_DIR, 'replicas.log'), outputs.join('\n'));
  await receiver?.close();
  await broker?.stop();
  rmSync(root, { recursive: true, force: true });
});

it('loses nothing and sends nothing twice through broker, process, receiver and rebalance faults', async () => {
  let producer: Producer = kafka().producer({ idempotent: true });
  await producer.connect();
  const flow = webhookFlow({
    id: 'faults',
    webhooks: [
      {
        id: 'hook',
        url: `http://127.0.0.1:${receiverPort}/hook`,
        body: '{"event_id": "{{ event.OrderId }}"}',
      },
    ],
  });
  const expected: string[] = [];
  const sendWave = async () => {
    const events = Array.from({ length: WAVE }, () => placedOrder());
    for (const e of events) {
      e.properties.OrderId = e.id;
      expected.push(e.id);
    }
    await producer.send({
      topic: EVENTS,
      messages: events.map((e) => ({ key: e.profile.id!, value: JSON.stringify(e) })),
    });
  };
  const deliveredCount = () => deliveredEvents().size;

  // A clean start: no error-level line.
  let a = startReplica('replica-a');
  await ready(a);
  expect(errorLines(a)).toEqual([]);
  await producer.send({
    topic: `${PREFIX}flows`,
    messages: [{ key: 'faults', value: JSON.stringify(flow) }],
  });

  // 1. The broker is SIGKILLed mid-stream and restarted on the same data.
  await sendWave();
  await waitFor(() => deliveredCount() >= 10, { timeoutMs: 60_000, what: 'first webhooks' });
  await producer.disconnect();
  await killBroker();
  await startBroker();
  const upAt = Date.now();
  producer = kafka().producer({ idempotent: true });
  await producer.connect();
  await sendWave();
  await waitFor(() => allRequests().some((r) => r.at > upAt), {
    timeoutMs: 60_000,
    what: 'a webhook after the broker restart',
  });
  const recoveredInMs = allRequests().find((r) => r.at > upAt)!.at - upAt;
  process.stderr.write(
    `faults: first webhook ${recoveredInMs} ms after the broker answered again\n`,
  );
  await waitFor(() => deliveredCount() >= 2 * WAVE, { timeoutMs: 90_000, what: 'waves 1-2' });

  // 2. flowhook is SIGKILLed mid-stream and restarted.
  await sendWave();
  await waitFor(() => deliveredCount() >= 2 * WAVE + 10, { timeoutMs: 60_000, what: 'wave 3' });
  a.child.kill('SIGKILL');
  await a.exited;
  a = startReplica('replica-a');
  await ready(a);

  // 3. The receiver is down until flowhook has seen it fail several times (its circuit opens).
  pastRequests.push(...receiver!.requests);
  await receiver!.close();
  const metricsUrl = `http://127.0.0.1:${await httpPort(a)}/metrics`;
  const failedAttempts = async () => {
    const text = await fetch(metricsUrl).then((r) => r.text());
    const lines = text.matchAll(
      /^flowhook_webhook_attempts_total\{[^}]*outcome="retrying"[^}]*\} (\d+)/gm,
    );
    return [...lines].reduce((n, m) => n + Number(m[1]), 0);
  };
  await sendWave();
  await waitFor(async () => (await failedAttempts()) >= 5, {
    timeoutMs: 60_000,
    what: 'retries while the receiver is down',
  });
  receiver = await startReceiver([{ status: 200 }], { port: receiverPort });

  // 4. A second replica of every role joins (rebalance), takes part, and leaves (rebalance).
  const b = startReplica('replica-b');
  await ready(b);
  await sendWave();
  await waitFor(() => deliveredCount() >= 4 * WAVE + 10, { timeoutMs: 90_000, what: 'wave 5' });
  b.child.kill('SIGTERM');
  expect((await b.exited).code).toBe(0);
  await sendWave();

  // One pass over the requests per look: the receiver shares this event loop, and a look that
  // parsed every request once per expected event blocked it for seconds, long enough for the
  // attempts in flight to time out.
  await waitFor(
    () => {
      const delivered = deliveredEvents();
      return expected.every((id) => delivered.has(id));
    },
    {
      timeoutMs: 120_000,
      what: `all ${expected.length} webhooks delivered`,
    },
  );
  await producer.disconnect();

  // Every repeat delivery of an event carried the same webhook-id.
  const ids = deliveredEvents();
  expect([...ids].filter(([, set]) => set.size !== 1)).toEqual([]);

  // flowhook.jobs holds exactly one job per (event, flow, action); both DLQs are empty.
  // (Jobs the delay role forwards back after a retry wait carry flowhook-delayed-from.)
  const count = async (topic: string, f: (v: Buffer | null) => string) => {
    const counts = new Map<string, number>();
    const reader = new CompactedTopicReader(
      kafka(),
      { topic, groupPrefix: 'faults-final' },
      silentLogger,
    );
    await reader.start((r) => {
      if (r.message.headers?.[DELAYED_FROM_HEADER] !== undefined) return;
      counts.set(f(r.value), (counts.get(f(r.value)) ?? 0) + 1);
    });
    await reader.stop();
    return counts;
  };
  const jobs = await count(`${PREFIX}jobs`, (v) => {
    const job = JSON.parse(v!.toString()) as WebhookJob;
    return `${job.event_id}|${job.flow_id}|${job.action_id}`;
  });
  expect(jobs.size).toBe(expected.length);
  expect([...jobs].filter(([, n]) => n > 1)).toEqual([]);
  expect((await count(`${PREFIX}dlq`, () => 'x')).size).toBe(0);
  expect((await count(`${PREFIX}events.dlq`, () => 'x')).size).toBe(0);

  a.child.kill('SIGTERM');
  expect((await a.exited).code).toBe(0);
}, 600_000);
