// The delay role: consumes every tier topic (`<prefix>retry.<tier>`, `<prefix>delays.<tier>`) and
// forwards each message to its `flowhook-target` topic once `flowhook-not-before` has passed.
//
// Per partition it forwards the due messages at the head of the batch and, at the first message
// not yet due, pauses that partition only (the others keep flowing) and resumes it with a timer
// at the head's due time. Forwarding and the consumed offsets commit in one Kafka transaction,
// so a message is forwarded exactly once even across crashes and rebalances.
//
// A message without a target cannot be forwarded: it goes to the DLQ with the raw value (never
// dropped, never a crash). A target that is not one of flowhook's own existing topics would fail
// every transaction (stalling the partition), so it is refused the same way. A missing or
// unreadable not-before means "due now" (deliverAttempt itself never sends before a job's
// not_before).

import type { Admin, KafkaMessage } from 'kafkajs';
import { TopicSchemaError } from '../errors';
import {
  BatchConsumer,
  type BatchInput,
  type BatchResult,
  type Outbox,
} from '../kafka/batch-consumer';
import { DELAY_TIERS, type DelayTier } from '../kafka/topics';
import { roleGroupId, type Role, type RoleContext } from '../service/role';
import { rejectedMessage } from '../dead-letter/jobs';
import { readDelayHeaders, withoutDelayHeaders } from './message';

export interface DelayRoleOptions {
  /** Default roleGroupId(prefix, 'delay') = `flowhook-delay`. */
  groupId?: string;
  /** Longest a fetch waits for data; bounds how late a resumed partition is read. Default 500. */
  maxWaitTimeMs?: number;
  /** Longest single resume timer; longer waits re-check. Default 1 h. */
  maxTimerMs?: number;
}

type Queue = 'retry' | 'delays';

interface PausedPartition {
  timer: NodeJS.Timeout;
  dueMs: number;
}

export class DelayRole implements Role {
  readonly name = 'delay' as const;
  readonly groupId: string;
  private readonly consumer: BatchConsumer;
  private readonly tiers = new Map<string, { queue: Queue; tier: DelayTier }>();
  private readonly paused = new Map<string, PausedPartition>();
  private readonly maxTimerMs: number;
  private admin: Admin | undefined;
  private knownTopics = new Set<string>();
  private topicsListedAt = 0;
  private stopping = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly ctx: RoleContext,
    options: DelayRoleOptions = {},
  ) {
    const { config, topics } = ctx;
    this.groupId = options.groupId ?? roleGroupId(config.topicPrefix, 'delay');
    this.maxTimerMs = options.maxTimerMs ?? 3_600_000;
    for (const tier of DELAY_TIERS) {
      this.tiers.set(topics.retry(tier), { queue: 'retry', tier });
      this.tiers.set(topics.delays(tier), { queue: 'delays', tier });
    }
    this.consumer = new BatchConsumer(
      {
        groupId: this.groupId,
        topics: [...this.tiers.keys()],
        mode: 'exactly-once',
        transactionalId: `${this.groupId}-${config.instanceId}`,
        maxWaitTimeMs: options.maxWaitTimeMs ?? 500,
        sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      },
      { kafka: ctx.kafka, logger: ctx.logger, metrics: ctx.metrics },
    );
  }

  async start(): Promise<void> {
    this.admin = this.ctx.kafka.admin();
    await this.admin.connect();
    await this.refreshTopics();
    await this.consumer.start((batch, outbox) => this.handle(batch, outbox));
  }

  isReady(): boolean {
    return this.consumer.isReady();
  }

  failure(): Error | undefined {
    return this.consumer.crashError;
  }

  /** Partitions currently paused, as `topic:partition` → due time (ms). For tests and logs. */
  pausedPartitions(): ReadonlyMap<string, number> {
    return new Map([...this.paused].map(([k, v]) => [k, v.dueMs]));
  }

  private async handle(batch: BatchInput, outbox: Outbox): Promise<BatchResult> {
    const source = this.tiers.get(batch.topic);
    let processed = 0;
    for (const message of batch.messages) {
      if (!batch.isRunning()) break;
      const headers = readDelayHeaders(message.headers);
      if (!headers.ok) {
        this.reject(outbox, batch, message, 'target_missing', 'no flowhook-target header');
        processed += 1;
        continue;
      }
      const now = Date.now();
      if (headers.notBefore !== undefined && headers.notBefore > now) {
        this.pauseUntil(batch, headers.notBefore);
        break;
      }
      if (!(await this.isForwardable(headers.target))) {
        this.reject(
          outbox,
          batch,
          message,
          'target_invalid',
          `flowhook-target ${JSON.stringify(headers.target)} is not an existing topic with prefix ${JSON.stringify(this.ctx.config.topicPrefix)}`,
        );
        processed += 1;
        continue;
      }
      if (headers.notBefore === undefined) {
        this.ctx.logger.warn(
          { topic: batch.topic, partition: batch.partition, offset: message.offset },
          'delayed message without a readable flowhook-not-before: forwarding it as due',
        );
      }
      outbox.send(headers.target, {
        key: message.key,
        value: message.value,
        headers: withoutDelayHeaders(message.headers),
      });
      if (source) {
        this.ctx.metrics.delayForwarded.inc({ queue: source.queue, tier: source.tier });
        if (headers.notBefore !== undefined) {
          this.ctx.metrics.delayLateness.observe(
            { queue: source.queue },
            Math.max(0, now - headers.notBefore) / 1000,
          );
        }
      }
      processed += 1;
    }
    return { processed };
  }

  private reject(
    outbox: Outbox,
    batch: BatchInput,
    message: KafkaMessage,
    reason: string,
    error: string,
  ): void {
    const code = new TopicSchemaError(error).code;
    this.ctx.logger.error(
      { topic: batch.topic, partition: batch.partition, offset: message.offset, reason },
      `delayed message cannot be forwarded: ${error}; sent to the DLQ`,
    );
    this.ctx.metrics.delayInvalid.inc({ reason });
    this.ctx.metrics.webhookDlq.inc({ reason: `delay_${reason}` });
    outbox.send(
      this.ctx.topics.dlq,
      rejectedMessage({
        reason: `delay_${reason}`,
        errorCode: code,
        error,
        topic: batch.topic,
        partition: batch.partition,
        message,
      }),
    );
  }

  private pauseUntil(batch: BatchInput, dueMs: number): void {
    batch.pause();
    const id = `${batch.topic}:${batch.partition}`;
    const previous = this.paused.get(id);
    if (previous) clearTimeout(previous.timer);
    const wait = Math.min(Math.max(0, dueMs - Date.now()), this.maxTimerMs);
    const timer = setTimeout(() => {
      this.paused.delete(id);
      this.ctx.metrics.delayPausedPartitions.set(this.paused.size);
      if (!this.stopping) this.consumer.resume(batch.topic, [batch.partition]);
    }, wait);
    this.paused.set(id, { timer, dueMs });
    this.ctx.metrics.delayPausedPartitions.set(this.paused.size);
  }

  private async refreshTopics(): Promise<void> {
    if (!this.admin) return;
    this.knownTopics = new Set(await this.admin.listTopics());
    this.topicsListedAt = Date.now();
  }

  /**
   * One of flowhook's own topics (the prefix) that exists. An unknown name re-lists the topics
   * (at most once a second); a failure to list throws, so the batch is retried, not rejected.
   */
  private async isForwardable(target: string): Promise<boolean> {
    if (!target.startsWith(this.ctx.config.topicPrefix)) return false;
    if (this.knownTopics.has(target)) return true;
    if (Date.now() - this.topicsListedAt > 1000) await this.refreshTopics();
    return this.knownTopics.has(target);
  }

  stop(): Promise<void> {
    this.closing ??= (async () => {
      this.stopping = true;
      for (const p of this.paused.values()) clearTimeout(p.timer);
      this.paused.clear();
      this.ctx.metrics.delayPausedPartitions.set(0);
      await this.consumer.stop();
      await this.admin?.disconnect().catch(() => undefined);
    })();
    return this.closing;
  }
}
