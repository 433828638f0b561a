import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from '../observability/logger';
import { ConsumerRun } from './consumer-run';
import { fetchTopicOffsets } from './topic-offsets';

export interface CompactedRecord {
  partition: number;
  offset: string;
  key: string | null;
  /** null = tombstone (the key was deleted). */
  value: Buffer | null;
  message: KafkaMessage;
}

export interface CompactedTopicReaderOptions {
  topic: string;
  /** Prefix of the throwaway consumer group; every reader gets a group of its own. */
  groupPrefix: string;
  /** Only these partitions are read and count for "caught up" (default: all). */
  partitions?: number[];
  /** Start here instead of the beginning, per partition (a state store's checkpoint). */
  from?: ReadonlyMap<number, bigint>;
}

/**
 * Reads a compacted topic from the beginning and keeps following it. `start()` resolves once
 * every partition has been read to the high watermark it had when reading began.
 *
 * "Caught up" compares the consumer's position with that end offset — it never waits for a
 * message at offset end-1, which compaction may have removed or which may be a transaction
 * marker. kafkajs reports the position of batches that held only control records or
 * compacted-away messages through END_BATCH_PROCESS, so those advance the position too.
 *
 * Every reader has its own group (kafkajs cannot assign partitions by hand) and commits
 * nothing: each replica needs the whole table, not a share of it.
 */
export class CompactedTopicReader {
  private readonly consumer: Consumer;
  private readonly consumerRun = new ConsumerRun();
  private readonly endOffsets = new Map<number, bigint>();
  private readonly positions = new Map<number, bigint>();
  /** Next offset to hand to onRecord, per partition. */
  private readonly handedOut = new Map<number, bigint>();
  private caughtUp = false;
  private onCaughtUp: (() => void) | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: CompactedTopicReaderOptions,
    private readonly logger: Logger,
  ) {
    this.consumer = kafka.consumer({
      groupId: `${options.groupPrefix}-${randomUUID()}`,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 1000,
      // kafkajs schedules the restart of a crashed consumer after its own disconnect: a crash
      // that races stop() would otherwise bring the reader back after it was stopped.
      retry: { restartOnFailure: async () => this.closing === undefined },
    });
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, (e) => {
      if (e.payload.topic === options.topic)
        this.advance(e.payload.partition, e.payload.lastOffset);
    });
    const { partitions, from } = options;
    if (from) {
      for (const [p, offset] of from) this.handedOut.set(p, offset);
      this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
        for (const [partition, offset] of from) {
          this.consumer.seek({ topic: options.topic, partition, offset: offset.toString() });
        }
      });
    }
    if (partitions) {
      // The throwaway group is assigned every partition; the others are paused as soon as it
      // joins (before its first fetch), so a trigger replica restoring its share of the state
      // topic fetches that share, not the whole topic.
      this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
        const assigned = e.payload.memberAssignment[options.topic] ?? [];
        const others = assigned.filter((p) => !partitions.includes(p));
        if (others.length > 0) this.consumer.pause([{ topic: options.topic, partitions: others }]);
      });
    }
  }

  isCaughtUp(): boolean {
    return this.caughtUp;
  }

  /**
   * Starts reading; `onRecord` sees every record in offset order per partition, before and
   * after catching up. Resolves when caught up.
   */
  async start(onRecord: (record: CompactedRecord) => void | Promise<void>): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = await fetchTopicOffsets(admin, this.options.topic);
      for (const o of offsets) {
        if (this.options.partitions && !this.options.partitions.includes(o.partition)) continue;
        this.endOffsets.set(o.partition, BigInt(o.high));
        const start = this.options.from?.get(o.partition);
        this.positions.set(o.partition, start ?? BigInt(o.low));
      }
    } finally {
      await admin.disconnect();
    }
    const caughtUp = new Promise<void>((resolve) => (this.onCaughtUp = resolve));
    this.checkCaughtUp();

    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.topic, fromBeginning: true });
    // stop() during the connect: running now would start fetching on a stopped reader, and
    // stop()'s disconnect may have come before the connect finished, leaving it connected.
    if (this.closing) {
      await this.consumer.disconnect().catch(() => undefined);
      return;
    }
    await this.consumerRun.run(this.consumer, {
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          // After a rebalance kafkajs fetches again from the last commit (none here): skip
          // what this reader has already handed out, so each record is seen once.
          const offset = BigInt(message.offset);
          if (offset < (this.handedOut.get(batch.partition) ?? 0n)) continue;
          this.handedOut.set(batch.partition, offset + 1n);
          await onRecord({
            partition: batch.partition,
            offset: message.offset,
            key: message.key?.toString('utf8') ?? null,
            value: message.value,
            message,
          });
        }
        if (batch.messages.length > 0) this.advance(batch.partition, batch.lastOffset());
      },
    });
    await caughtUp;
    this.logger.info({ topic: this.options.topic }, 'compacted topic read to its end');
  }

  private advance(partition: number, lastOffset: string): void {
    const next = BigInt(lastOffset) + 1n;
    if (next > (this.positions.get(partition) ?? -1n)) this.positions.set(partition, next);
    this.checkCaughtUp();
  }

  private checkCaughtUp(): void {
    if (this.caughtUp) return;
    for (const [partition, end] of this.endOffsets) {
      if ((this.positions.get(partition) ?? 0n) < end) return;
    }
    this.caughtUp = true;
    this.onCaughtUp?.();
  }

  stop(): Promise<void> {
    this.closing ??= (async () => {
      this.onCaughtUp?.();
      await this.consumerRun.joined();
      await this.consumer
        .disconnect()
        .catch((err: unknown) => this.logger.warn({ err }, 'disconnecting reader'));
    })();
    return this.closing;
  }
}
