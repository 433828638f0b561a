// Runs flowhook roles in-process against the integration broker, each harness with its own
// topic prefix (so its topics and consumer groups are its own), plus job and topic helpers.

import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka, Message } from 'kafkajs';
import { buildConfig, type FlowhookConfig } from '../../src/config/load';
import type { RoleName } from '../../src/config/settings';
import type { WebhookJob } from '../../src/documents';
import { topicNames, type TopicNames } from '../../src/kafka/topics';
import { FlowhookMetrics } from '../../src/observability/metrics';
import { ROLE_FACTORIES } from '../../src/roles';
import type { RoleFactory } from '../../src/service/role';
import { FlowhookService } from '../../src/service/service';
import { brokers, readTopic, silentLogger, testKafka, uniqueName } from './kafka';
import { waitFor } from './wait';

export const SIGNING_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

export interface Harness {
  prefix: string;
  topics: TopicNames;
  config: FlowhookConfig & { kafka: { brokers: string[] } };
  service: FlowhookService;
  metrics: FlowhookMetrics;
  /** A plain client for producing and reading in the test. */
  kafka: Kafka;
  stop(): Promise<void>;
}

/** Settings of a test service (loopback allowed, short retries); `overrides` win. */
export function testSettings(
  prefix: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    KAFKA_BROKERS: brokers().join(','),
    FLOWHOOK_TOPIC_PREFIX: prefix,
    FLOWHOOK_TOPIC_PARTITIONS: '3',
    FLOWHOOK_PROFILE_TOPICS: `${prefix}profiles`,
    FLOWHOOK_CATALOG_TOPICS: `${prefix}catalog`,
    FLOWHOOK_HTTP_PORT: '0',
    FLOWHOOK_HTTP_HOST: '127.0.0.1',
    FLOWHOOK_INSTANCE_ID: uniqueName('instance'),
    FLOWHOOK_STATE_DIR: join(tmpdir(), 'flowhook-test-state'),
    FLOWHOOK_ROLES: 'delivery,delay',
    FLOWHOOK_ALLOW_HTTP: 'true',
    FLOWHOOK_DESTINATION_ALLOWLIST: '127.0.0.1/32,127.0.0.2/32',
    FLOWHOOK_RETRY_SCHEDULE: '200ms,200ms,200ms,200ms',
    FLOWHOOK_HTTP_TIMEOUT: '2s',
    FLOWHOOK_SIGNING_SECRET: SIGNING_SECRET,
    FLOWHOOK_SHUTDOWN_GRACE: '10s',
    LOG_LEVEL: 'silent',
    ...overrides,
  };
}

export async function startFlowhook(
  options: {
    name?: string;
    settings?: Record<string, string>;
    roles?: Partial<Record<RoleName, RoleFactory>>;
  } = {},
): Promise<Harness> {
  const prefix = options.settings?.FLOWHOOK_TOPIC_PREFIX ?? `${uniqueName(options.name ?? 'fh')}.`;
  const config = buildConfig(testSettings(prefix, options.settings)) as FlowhookConfig & {
    kafka: { brokers: string[] };
  };
  const metrics = new FlowhookMetrics({ defaultMetrics: false });
  const service = new FlowhookService({
    config,
    logger: silentLogger,
    roles: { ...ROLE_FACTORIES, ...options.roles },
    metrics,
  });
  await service.start();
  await waitFor(() => service.isReady(), { what: 'roles joined their groups', timeoutMs: 30_000 });
  return {
    prefix,
    topics: topicNames(prefix),
    config,
    service,
    metrics,
    kafka: testKafka(),
    stop: () => service.stop(),
  };
}

export function makeJob(url: string, overrides: Partial<WebhookJob> = {}): WebhookJob {
  const id = overrides.id ?? `job-${randomUUID()}`;
  return {
    id,
    flow_id: 'flow-1',
    flow_version: 1,
    action_id: 'action-1',
    event_id: `event-${id}`,
    profile_id: 'profile-1',
    url,
    headers: { 'x-test': 'yes' },
    body: JSON.stringify({ job: id, hello: 'world' }),
    attempt: 0,
    event_time: new Date().toISOString(),
    ...overrides,
  };
}

export async function produce(kafka: Kafka, topic: string, messages: Message[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({ topic, messages, acks: -1 });
  } finally {
    await producer.disconnect();
  }
}

export function produceJobs(kafka: Kafka, topic: string, jobs: WebhookJob[]): Promise<void> {
  return produce(
    kafka,
    topic,
    jobs.map((job) => ({ key: job.profile_id, value: JSON.stringify(job) })),
  );
}

export interface ReadRecord<T> {
  key: string | null;
  value: T;
  headers: Record<string, string>;
  partition: number;
  offset: string;
}

/** Reads a JSON topic from the beginning until `until` holds. */
export async function readJson<T>(
  kafka: Kafka,
  topic: string,
  until: (records: ReadRecord<T>[]) => boolean,
  timeoutMs = 30_000,
): Promise<ReadRecord<T>[]> {
  const parse = (raw: Awaited<ReturnType<typeof readTopic>>): ReadRecord<T>[] =>
    raw.map((m) => ({
      key: m.key,
      value: JSON.parse(m.value ?? 'null') as T,
      headers: m.headers,
      partition: m.partition,
      offset: m.offset,
    }));
  const raw = await readTopic(kafka, topic, (messages) => until(parse(messages)), timeoutMs);
  return parse(raw);
}
