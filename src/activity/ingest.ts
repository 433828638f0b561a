// Keeps an activity store up to date from Kafka: flowhook.jobs, .deliveries, .dlq and .activity
// become activity records, flowhook.review the review queue. At-least-once (offsets committed
// after the store's transaction) and idempotent (record ids are primary keys), so a replay or
// a rebalance never stores a fact twice. Unreadable records are counted and skipped. A timer
// deletes records older than the retention.

import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { ConsumerRun } from '../kafka/consumer-run';
import type { TopicNames } from '../kafka/topics';
import type { Logger } from '../observability/logger';
import type { FlowhookMetrics } from '../observability/metrics';
import { parseHeldWebhook } from './held';
import { activityFromMessage, type ActivitySource } from './records';
import type { ActivityStore, IngestWrite } from './store';

export interface ActivityIngestOptions {
  store: ActivityStore;
  kafka: Kafka;
  topics: TopicNames;
  /** FLOWHOOK_TOPIC_PREFIX: the consumer group is `<prefix>activity-<store id>`. */
  topicPrefix: string;
  retentionMs: number;
  pruneIntervalMs: number;
  logger: Logger;
  metrics: FlowhookMetrics;
  sessionTimeoutMs?: number;
  /** Overrides the group derived from the store id. */
  groupId?: string;
  now?: () => number;
}

/** Records deleted per prune statement, so a large backlog never holds a long lock. */
const PRUNE_CHUNK = 10_000;

type Source = ActivitySource | 'review';

export class ActivityIngest {
  readonly groupId: string;
  private readonly consumer: Consumer;
  private readonly consumerRun = new ConsumerRun();
  private readonly sources: Map<string, Source>;
  private readonly now: () => number;
  private pruneTimer: NodeJS.Timeout | undefined;
  private pruning: Promise<void> | undefined;
  private joined = false;
  private crashed: Error | undefined;
  private started = false;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: ActivityIngestOptions) {
    const { topics, store } = options;
    this.groupId = options.groupId ?? `${options.topicPrefix}activity-${store.storeId}`;
    this.now = options.now ?? Date.now;
    this.sources = new Map<string, Source>([
      [topics.jobs, 'jobs'],
      [topics.deliveries, 'deliveries'],
      [topics.dlq, 'dlq'],
      [topics.activity, 'activity'],
      [topics.review, 'review'],
    ]);
    this.consumer = options.kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      // A crash racing stop() must not restart the consumer after it was stopped.
      retry: { restartOnFailure: async () => this.stopping === undefined },
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => (this.joined = true));
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      if (!e.payload.restart) this.crashed = e.payload.error;
    });
  }

  async start(): Promise<void> {
    this.started = true;
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.sources.keys()], fromBeginning: true });
    if (this.stopping) return;
    await this.consumerRun.run(this.consumer, {
      // PostgreSQL takes batches of several partitions at once; SQLite writes one at a time.
      partitionsConsumedConcurrently: this.options.store.kind === 'postgres' ? 3 : 1,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.ingest(payload),
    });
    this.pruneTimer = setInterval(() => void this.prune(), this.options.pruneIntervalMs);
    this.pruneTimer.unref();
    void this.prune();
    this.options.logger.info(
      { group: this.groupId, store: this.options.store.kind },
      'activity ingest started',
    );
  }

  /** Joined its group (it may still be catching up: see flowhook_activity_ingest_lag_*). */
  isReady(): boolean {
    return this.joined && this.crashed === undefined;
  }

  failure(): Error | undefined {
    return this.crashed;
  }

  private async ingest(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const last = batch.messages[batch.messages.length - 1];
    if (last === undefined) return;
    const source = this.sources.get(batch.topic);
    const { metrics, store } = this.options;
    const cutoff = this.now() - this.options.retentionMs;
    const write: IngestWrite = { records: [], review: [] };
    let unreadable = 0;
    for (const message of batch.messages) {
      if (source === 'review') {
        const id = message.key?.toString('utf8');
        if (id === undefined || id === '') unreadable += 1;
        else if (message.value === null) write.review.push({ kind: 'decided', id });
        else {
          const item = parseHeldWebhook(message.value);
          if (item === undefined) unreadable += 1;
          else write.review.push({ kind: 'held', item });
        }
      } else if (source !== undefined) {
        const records = activityFromMessage(source, message.value, message.timestamp);
        if (records === undefined) unreadable += 1;
        // Replaying old topics must not bring back what retention already deleted.
        else for (const r of records) if (Date.parse(r.time) >= cutoff) write.records.push(r);
      }
    }
    if (unreadable > 0) {
      metrics.activityUnreadable.inc({ topic: batch.topic }, unreadable);
      this.options.logger.warn(
        { topic: batch.topic, partition: batch.partition, unreadable },
        'unreadable records skipped by the activity ingest',
      );
    }
    const end = metrics.activityWriteDuration.startTimer();
    const added = await store.write(write);
    end();
    metrics.activityIngested.inc(added);
    payload.resolveOffset(last.offset);
    await payload.commitOffsetsIfNecessary();
    const labels = { topic: batch.topic, partition: String(batch.partition) };
    const behind = Number(batch.offsetLag());
    metrics.activityLagRecords.set(labels, behind);
    metrics.activityLagSeconds.set(
      labels,
      behind > 0 ? Math.max(0, (this.now() - Number(last.timestamp)) / 1000) : 0,
    );
    await payload.heartbeat();
  }

  /** Deletes everything older than the retention, a chunk at a time. */
  prune(): Promise<void> {
    this.pruning ??= (async () => {
      const { store, metrics, logger } = this.options;
      const before = new Date(this.now() - this.options.retentionMs);
      try {
        for (;;) {
          const n = await store.prune(before, PRUNE_CHUNK);
          metrics.activityPruned.inc(n);
          if (n < PRUNE_CHUNK || this.stopping !== undefined) break;
        }
      } catch (err) {
        logger.warn({ err }, 'activity retention delete failed; retried at the next interval');
      }
    })().finally(() => (this.pruning = undefined));
    return this.pruning;
  }

  /** Stops consuming (committing what was written) and waits for a running prune. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.pruneTimer) clearInterval(this.pruneTimer);
      await this.consumerRun.joined();
      if (this.started) await this.consumer.disconnect();
      await this.pruning;
    })();
    return this.stopping;
  }
}
