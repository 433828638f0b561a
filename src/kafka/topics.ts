import type { Admin, ITopicConfig } from 'kafkajs';
import { KafkaPermissionError, KafkaUnavailableError } from '../errors';
import type { Logger } from '../observability/logger';
import { OWNED_TOPIC_MAX_MESSAGE_BYTES } from './record-limits';

/**
 * Delay tiers of webhook retries and circuit waits (flowhook.retry.<tier>; flowhook.delays.<tier>
 * is still drained for records written by earlier versions: flow time delays are now durable
 * timers of the trigger). Every message on tier T waits exactly T from when it was written, so
 * each tier partition is FIFO by due time and the delay role only ever waits for its head; a
 * longer wait hops from tier to tier (largest tier not longer than what remains), so nothing
 * waits behind a longer wait.
 */
export const DELAY_TIERS = ['1s', '5s', '1m', '10m', '1h', '6h'] as const;
export type DelayTier = (typeof DELAY_TIERS)[number];

export interface TopicNames {
  flows: string;
  jobs: string;
  dlq: string;
  deliveries: string;
  eventsDlq: string;
  state: string;
  /** Changelog of the trigger's durable timers (flow time delays). */
  timers: string;
  /** Changelog of the profile store (key = profile key): src/profiles. */
  profileStore: string;
  /** Final outcomes of webhooks a walk waits for (key = profile key): the trigger resumes. */
  outcomes: string;
  /** Changelog of the catalog store (key = item id): the last record of each catalog item. */
  catalogStore: string;
  /**
   * Repartition topic (key = item id): who viewed / added to cart / started checkout for / bought
   * an item, from the profile's task to the item's.
   */
  itemAudience: string;
  /** Changelog of the per-item audience store (key = item id and profile key). */
  itemAudienceStore: string;
  /**
   * Entries of price-drop and low-inventory fan-outs (key = profile key): from the item's task
   * to the profile's.
   */
  itemEntries: string;
  /** Flow walks whose time delay has elapsed, forwarded here by the delay role. */
  resume: string;
  /** Activity facts only the trigger knows (entered, skipped, held, waiting) and review decisions. */
  activity: string;
  /** Held webhooks waiting for review (compacted, key = job id; a tombstone once decided). */
  review: string;
  /** Append-only record of control-plane changes (who changed what, when, from where). */
  audit: string;
  /** Klaviyo metric id → name (compacted, key = metric id, value = {"name": …}; null = delete). */
  metrics: string;
  retry(tier: DelayTier): string;
  delays(tier: DelayTier): string;
}

export function topicNames(prefix: string): TopicNames {
  return {
    flows: `${prefix}flows`,
    jobs: `${prefix}jobs`,
    dlq: `${prefix}dlq`,
    deliveries: `${prefix}deliveries`,
    eventsDlq: `${prefix}events.dlq`,
    state: `${prefix}state`,
    timers: `${prefix}timers`,
    profileStore: `${prefix}profile-store`,
    catalogStore: `${prefix}catalog-store`,
    itemAudience: `${prefix}item-audience`,
    itemAudienceStore: `${prefix}item-audience-store`,
    itemEntries: `${prefix}item-entries`,
    resume: `${prefix}resume`,
    outcomes: `${prefix}outcomes`,
    activity: `${prefix}activity`,
    review: `${prefix}review`,
    audit: `${prefix}audit`,
    metrics: `${prefix}metrics`,
    retry: (tier) => `${prefix}retry.${tier}`,
    delays: (tier) => `${prefix}delays.${tier}`,
  };
}

export interface TopicLayout {
  partitions: number;
  /** -1 = the broker's default.replication.factor. */
  replication: number;
}

const COMPACTED = [
  { name: 'cleanup.policy', value: 'compact' },
  { name: 'min.compaction.lag.ms', value: '0' },
];

/**
 * Every topic flowhook owns, with its settings. Event topics belong to the producers. Each
 * takes records up to OWNED_TOPIC_MAX_MESSAGE_BYTES, above the broker's 1 MiB default, so what
 * flowhook derives from a large event (a timer, a job, a DLQ copy) fits.
 */
export function ownedTopics(names: TopicNames, layout: TopicLayout): ITopicConfig[] {
  const t = (
    topic: string,
    configEntries: ITopicConfig['configEntries'] = [],
    partitions = layout.partitions,
  ) => ({
    topic,
    numPartitions: partitions,
    replicationFactor: layout.replication,
    configEntries: [
      ...(configEntries ?? []),
      { name: 'max.message.bytes', value: String(OWNED_TOPIC_MAX_MESSAGE_BYTES) },
    ],
  });
  return [
    // Flows are few and read whole by every trigger replica: one partition keeps their order.
    t(names.flows, COMPACTED, 1),
    t(names.state, COMPACTED),
    t(names.timers, COMPACTED),
    t(names.profileStore, COMPACTED),
    t(names.catalogStore, COMPACTED),
    t(names.itemAudienceStore, COMPACTED),
    // Repartition topics of price-drop / low-inventory triggers: read at once by the trigger.
    t(names.itemAudience, [{ name: 'retention.ms', value: String(7 * 86_400_000) }]),
    t(names.itemEntries, [{ name: 'retention.ms', value: String(7 * 86_400_000) }]),
    t(names.jobs),
    t(names.resume),
    t(names.outcomes, [{ name: 'retention.ms', value: String(7 * 86_400_000) }]),
    t(names.dlq, [{ name: 'retention.ms', value: String(30 * 86_400_000) }]),
    t(names.deliveries, [{ name: 'retention.ms', value: String(7 * 86_400_000) }]),
    t(names.eventsDlq, [{ name: 'retention.ms', value: String(30 * 86_400_000) }]),
    t(names.activity, [{ name: 'retention.ms', value: String(30 * 86_400_000) }]),
    t(names.review, COMPACTED),
    // Kept forever (an operator may set a retention); one partition: a small, totally ordered log.
    t(names.audit, [{ name: 'retention.ms', value: '-1' }], 1),
    // A small table every trigger replica reads whole, like the flows.
    t(names.metrics, COMPACTED, 1),
    ...DELAY_TIERS.map((tier) => t(names.retry(tier))),
    ...DELAY_TIERS.map((tier) => t(names.delays(tier))),
  ];
}

function isPermissionError(err: unknown): boolean {
  const type = (err as { type?: string } | null)?.type ?? '';
  return /AUTHORIZATION_FAILED|SASL_AUTHENTICATION_FAILED/.test(type);
}

/**
 * Creates the missing topics. An unreachable cluster is retried by kafkajs (connect retries)
 * and then reported as KafkaUnavailableError; a refused permission is KafkaPermissionError,
 * not retried, naming what the principal needs.
 */
export async function ensureTopics(
  admin: Admin,
  topics: ITopicConfig[],
  logger: Logger,
): Promise<string[]> {
  let existing: string[];
  try {
    existing = await admin.listTopics();
  } catch (err) {
    if (isPermissionError(err)) {
      throw new KafkaPermissionError('not allowed to list topics (needs DESCRIBE on the cluster)', {
        cause: err,
      });
    }
    throw new KafkaUnavailableError(`Kafka cluster unreachable: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const missing = topics.filter((t) => !existing.includes(t.topic));
  if (missing.length === 0) return [];
  try {
    await admin.createTopics({ topics: missing, waitForLeaders: true });
  } catch (err) {
    if (isPermissionError(err)) {
      throw new KafkaPermissionError(
        `not allowed to create topics ${missing.map((t) => t.topic).join(', ')}: grant CREATE, or ` +
          'create them beforehand and set FLOWHOOK_CREATE_TOPICS=false',
        { cause: err },
      );
    }
    // Another replica may have created them between our list and create: check again.
    const after = await admin.listTopics();
    const stillMissing = missing.filter((t) => !after.includes(t.topic));
    if (stillMissing.length > 0) {
      throw new KafkaUnavailableError(`could not create topics: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  logger.info({ topics: missing.map((t) => t.topic) }, 'created topics');
  return missing.map((t) => t.topic);
}
