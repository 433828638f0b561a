// The delay role: consumes every tier topic (`<prefix>retry.<tier>`, `<prefix>delays.<tier>`) and
// forwards each message to its `flowhook-target` topic once `flowhook-not-before` has passed.
//
// Every message on tier T waits exactly T from when it was written (its record timestamp), so
// a tier partition is FIFO by that tier-due time and only its head is ever waited for: at the
// first message whose tier-due time is ahead, that partition alone pauses until then. Once a
// message's tier time is up, what is left of its wait decides: nothing left → forward to the
// target; less than the smallest tier → wait at the head for that remainder (under 1 s);
// otherwise → hop to the largest tier not longer than the remainder. So no message ever waits
// behind a longer wait (a 1-minute retry written after a 6-hour one is on another tier).
//
// Forwarding, hops and consumed offsets commit in one transaction per task and commit
// interval (src/kafka/processor.ts), so a message is forwarded exactly once even across
// crashes and rebalances.
//
// A message without a target cannot be forwarded: it goes to the DLQ with the raw value (never
// dropped, never a crash). A target that is not one of flowhook's own existing topics would fail
// every transaction (stalling the partition), so it is refused the same way. A missing or
// unreadable not-before means "due now" (deliverAttempt itself never sends before a job's
// not_before).

import type { Admin } from 'kafkajs';
import { TopicSchemaError } from '../errors';
import { StreamProcessor, type ProcessorContext, type ProcessorRecord } from '../kafka/processor';
import { DELAY_TIERS, type DelayTier } from '../kafka/topics';
import { roleGroupId, type Role, type RoleContext } from '../service/role';
import { rejectedMessage } from '../dead-letter/jobs';
import {
  DELAYED_FROM_HEADER,
  DELAY_TIER_MS,
  delayedMessage,
  readDelayHeaders,
  withoutDelayHeaders,
} from './message';

export interface DelayRoleOptions {
  /** Default roleGroupId(prefix, 'delay') = `flowhook-delay`. */
  groupId?: string;
  /** Longest a fetch waits for data when idle. Default 100 ms. */
  maxWaitTimeMs?: number;
}

type Queue = 'retry' | 'delays';

const SMALLEST_TIER_MS = Math.min(...DELAY_TIER_MS.values());

export class DelayRole implements Role {
  readonly name = 'delay' as const;
  readonly groupId: string;
  readonly processor: StreamProcessor;
  private readonly tiers = new Map<string, { queue: Queue; tier: DelayTier; ms: number }>();
  private admin: Admin | undefined;
  private knownTopics = new Set<string>();
  private topicsListedAt = 0;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly ctx: RoleContext,
    options: DelayRoleOptions = {},
  ) {
    const { config, topics } = ctx;
    this.groupId = options.groupId ?? roleGroupId(config.topicPrefix, 'delay');
    for (const tier of DELAY_TIERS) {
      const ms = DELAY_TIER_MS.get(tier) as number;
      this.tiers.set(topics.retry(tier), { queue: 'retry', tier, ms });
      this.tiers.set(topics.delays(tier), { queue: 'delays', tier, ms });
    }
    this.processor = new StreamProcessor(
      {
        groupId: this.groupId,
        topics: [...this.tiers.keys()],
        stores: [],
        stateDir: `${config.stateDir}/${config.instanceId}`,
        commitIntervalMs: config.commitIntervalMs,
        maxWaitTimeMs: options.maxWaitTimeMs,
        sessionTimeoutMs: config.kafka.sessionTimeoutMs,
        onPausedChange: (n) => ctx.metrics.delayPausedPartitions.set(n),
      },
      { kafka: ctx.kafka, logger: ctx.logger, metrics: ctx.metrics },
    );
  }

  async start(): Promise<void> {
    this.admin = this.ctx.kafka.admin();
    await this.admin.connect();
    await this.refreshTopics();
    await this.processor.start({ process: (record, context) => this.handle(record, context) });
  }

  isReady(): boolean {
    return this.processor.isReady();
  }

  failure(): Error | undefined {
    return this.processor.failure();
  }

  /** Partitions paused until their head is due, as `topic:partition` → due time (ms). */
  pausedPartitions(): ReadonlyMap<string, number> {
    return this.processor.pausedPartitions();
  }

  private async handle(record: ProcessorRecord, context: ProcessorContext): Promise<void> {
    const source = this.tiers.get(record.topic);
    const headers = readDelayHeaders(record.headers);
    if (!headers.ok) {
      this.reject(context, record, 'target_missing', 'no flowhook-target header');
      return;
    }
    const now = context.now();
    const { notBefore } = headers;
    const tierDue = source ? record.timestamp + source.ms : now;
    const due = notBefore === undefined || notBefore <= now;
    if (!due && tierDue > now) {
      context.pauseUntil(Math.min(tierDue, notBefore ?? tierDue));
      return;
    }
    const remaining = (notBefore ?? now) - now;
    if (remaining > 0 && remaining < SMALLEST_TIER_MS) {
      context.pauseUntil(notBefore as number);
      return;
    }
    if (!(await this.isForwardable(headers.target))) {
      this.reject(
        context,
        record,
        'target_invalid',
        `flowhook-target ${JSON.stringify(headers.target)} is not an existing topic with prefix ${JSON.stringify(this.ctx.config.topicPrefix)}`,
      );
      return;
    }
    const queue = source?.queue ?? 'retry';
    if (remaining > 0) {
      // Hop: the largest tier not longer than what is left of the wait.
      const hop = delayedMessage(
        {
          target: headers.target,
          notBefore: notBefore as number,
          key: record.key,
          value: record.value,
          headers: record.headers,
        },
        queue === 'retry' ? this.ctx.topics.retry : this.ctx.topics.delays,
        undefined,
        now,
      );
      context.emit(hop.topic, hop.message);
      this.ctx.metrics.delayScheduled.inc({ queue, tier: hop.tier });
      return;
    }
    if (notBefore === undefined) {
      this.ctx.logger.warn(
        { topic: record.topic, partition: record.partition, offset: record.offset },
        'delayed message without a readable flowhook-not-before: forwarding it as due',
      );
    }
    context.emit(headers.target, {
      key: record.key,
      value: record.value,
      headers: { ...withoutDelayHeaders(record.headers), [DELAYED_FROM_HEADER]: record.topic },
    });
    if (source) {
      this.ctx.metrics.delayForwarded.inc({ queue: source.queue, tier: source.tier });
      if (notBefore !== undefined) {
        this.ctx.metrics.delayLateness.observe(
          { queue: source.queue },
          Math.max(0, now - notBefore) / 1000,
        );
      }
    }
  }

  private reject(
    context: ProcessorContext,
    record: ProcessorRecord,
    reason: string,
    error: string,
  ): void {
    const code = new TopicSchemaError(error).code;
    this.ctx.logger.error(
      { topic: record.topic, partition: record.partition, offset: record.offset, reason },
      `delayed message cannot be forwarded: ${error}; sent to the DLQ`,
    );
    this.ctx.metrics.delayInvalid.inc({ reason });
    this.ctx.metrics.webhookDlq.inc({ reason: `delay_${reason}` });
    context.emit(
      this.ctx.topics.dlq,
      rejectedMessage({
        reason: `delay_${reason}`,
        errorCode: code,
        error,
        topic: record.topic,
        partition: record.partition,
        message: record.message,
      }),
    );
  }

  private async refreshTopics(): Promise<void> {
    if (!this.admin) return;
    this.knownTopics = new Set(await this.admin.listTopics());
    this.topicsListedAt = Date.now();
  }

  /**
   * One of flowhook's own topics (the prefix) that exists. An unknown name re-lists the topics
   * (at most once a second); a failure to list throws, so the record is retried, not rejected.
   */
  private async isForwardable(target: string): Promise<boolean> {
    if (!target.startsWith(this.ctx.config.topicPrefix)) return false;
    if (this.knownTopics.has(target)) return true;
    if (Date.now() - this.topicsListedAt > 1000) await this.refreshTopics();
    return this.knownTopics.has(target);
  }

  stop(): Promise<void> {
    this.closing ??= (async () => {
      await this.processor.stop();
      await this.admin?.disconnect().catch(() => undefined);
    })();
    return this.closing;
  }
}
