// Release or discard a held webhook. Both read the held job from the activity store and then,
// in one Kafka transaction, tombstone it on flowhook.review and record the decision (with who
// made it) on flowhook.activity; release also produces the job, unchanged, to flowhook.jobs, so
// the receiver sees the webhook-id the job was rendered with. The decision is applied to the
// local store at once, so the same replica cannot release an item twice while its ingest
// catches up; across replicas the receiver's webhook-id deduplicates a rare double release.

import type { Kafka, Message, Producer } from 'kafkajs';
import type { ActivityStore } from '../activity/store';
import type { ActivityRecord, ReviewItem } from '../activity/types';
import { ReviewItemNotFoundError } from '../errors';
import type { TopicNames } from '../kafka/topics';
import type { Logger } from '../observability/logger';

/** Who signed in (from the OIDC token). */
export interface Actor {
  subject: string;
  email?: string;
  role: string;
  amr?: string[];
}

export interface ReviewActions {
  release(id: string, actor: Actor): Promise<void>;
  discard(id: string, actor: Actor): Promise<void>;
}

export interface KafkaReviewActionsOptions {
  kafka: Kafka;
  topics: TopicNames;
  store: Pick<ActivityStore, 'reviewItem' | 'write'>;
  /** Unique per replica and stable across its restarts (e.g. `<prefix>review-<instance id>`). */
  transactionalId: string;
  logger: Logger;
  now?: () => Date;
}

/** The activity record of a decision; its id is stable, so a retried decision is stored once. */
export function decisionRecord(
  item: ReviewItem,
  status: 'released' | 'discarded',
  actor: Actor,
  now: Date,
): ActivityRecord {
  const job = item.job as { flow_version?: unknown };
  return {
    id: `${item.id}/review/${status}`,
    time: now.toISOString(),
    status,
    flow_id: item.flow_id,
    ...(typeof job.flow_version === 'number' && { flow_version: job.flow_version }),
    action_id: item.action_id,
    profile_id: item.profile_id,
    event_id: item.event_id,
    job_id: item.id,
    actor: actor.email ?? actor.subject,
  };
}

export class KafkaReviewActions implements ReviewActions {
  private readonly producer: Producer;
  private readonly now: () => Date;
  /** One transaction at a time per transactional producer. */
  private queue: Promise<unknown> = Promise.resolve();
  private connected: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: KafkaReviewActionsOptions) {
    this.producer = options.kafka.producer({
      transactionalId: options.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    this.now = options.now ?? (() => new Date());
  }

  start(): Promise<void> {
    this.connected ??= this.producer.connect();
    return this.connected;
  }

  release(id: string, actor: Actor): Promise<void> {
    return this.decide(id, 'released', actor);
  }

  discard(id: string, actor: Actor): Promise<void> {
    return this.decide(id, 'discarded', actor);
  }

  private decide(id: string, status: 'released' | 'discarded', actor: Actor): Promise<void> {
    const run = this.queue.then(async () => {
      await this.start();
      const { store, topics, logger } = this.options;
      const item = await store.reviewItem(id);
      if (item === undefined) {
        throw new ReviewItemNotFoundError(`no held webhook ${id} (already released or discarded?)`);
      }
      const record = decisionRecord(item, status, actor, this.now());
      const messages: { topic: string; messages: Message[] }[] = [
        { topic: topics.review, messages: [{ key: id, value: null }] },
        {
          topic: topics.activity,
          messages: [{ key: item.profile_id, value: JSON.stringify(record) }],
        },
      ];
      if (status === 'released') {
        messages.push({
          topic: topics.jobs,
          messages: [{ key: item.profile_id, value: JSON.stringify(item.job) }],
        });
      }
      const tx = await this.producer.transaction();
      try {
        await tx.sendBatch({ topicMessages: messages, acks: -1 });
        await tx.commit();
      } catch (err) {
        await tx.abort().catch(() => undefined);
        throw err;
      }
      await store.write({ records: [record], review: [{ kind: 'decided', id }] });
      logger.info(
        { job_id: id, flow_id: item.flow_id, decision: status, actor: actor.subject },
        'held webhook decided',
      );
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.queue;
      if (this.connected) await this.producer.disconnect();
    })();
    return this.stopping;
  }
}
