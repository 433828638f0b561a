import type { Consumer, Kafka, KafkaMessage, Message, Producer, Transaction } from 'kafkajs';
import type { Logger } from '../observability/logger';
import type { FlowhookMetrics } from '../observability/metrics';

/** Messages a handler wants produced as the outcome of the batch it was given. */
export class Outbox {
  readonly records = new Map<string, Message[]>();

  send(topic: string, message: Message): void {
    const list = this.records.get(topic);
    if (list) list.push(message);
    else this.records.set(topic, [message]);
  }

  get size(): number {
    let n = 0;
    for (const list of this.records.values()) n += list.length;
    return n;
  }

  /**
   * The outbox in produce requests of at most `maxBytes` of payload each. kafkajs writes all
   * messages of one partition in a request as one record batch, and the broker refuses a
   * batch above message.max.bytes (1 MiB by default), so a large outbox must be split.
   */
  *requests(maxBytes = MAX_REQUEST_BYTES): Generator<{ topic: string; messages: Message[] }[]> {
    let request: { topic: string; messages: Message[] }[] = [];
    let bytes = 0;
    for (const [topic, messages] of this.records) {
      let current: Message[] = [];
      request.push({ topic, messages: current });
      for (const m of messages) {
        const size = messageSize(m);
        if (bytes + size > maxBytes && bytes > 0) {
          yield request;
          current = [];
          request = [{ topic, messages: current }];
          bytes = 0;
        }
        current.push(m);
        bytes += size;
      }
    }
    if (bytes > 0) yield request.filter((r) => r.messages.length > 0);
  }
}

/** Payload bytes per produce request: so each partition's batch stays under the broker's default 1 MiB. */
const MAX_REQUEST_BYTES = 900 * 1024;

function byteLength(v: Buffer | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}

function messageSize(m: Message): number {
  let size = 64 + byteLength(m.key) + byteLength(m.value);
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    size +=
      k.length +
      (Array.isArray(v)
        ? v.reduce((n, x) => n + byteLength(x), 0)
        : byteLength(v as Buffer | string | undefined));
  }
  return size;
}

export interface BatchInput {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
  highWatermark: string;
  /** Keeps the group membership alive during long batches. */
  heartbeat(): Promise<void>;
  /** False once stop() was called: finish the message at hand and return. */
  isRunning(): boolean;
  /** Stops fetching this partition until resume() (e.g. while its head message is not due). */
  pause(): void;
}

/**
 * What a handler did with its batch: the outcome of its first `processed` messages is in the
 * outbox; the rest are fetched again later (after a pause, say). Undefined: all of them.
 */
export interface BatchResult {
  processed: number;
  /** Runs once the outcome is committed (not when it is aborted): apply in-memory changes here. */
  onCommit?: () => void;
}

export type BatchHandler = (batch: BatchInput, outbox: Outbox) => Promise<BatchResult | void>;

export interface BatchConsumerOptions {
  groupId: string;
  topics: string[] | RegExp;
  fromBeginning?: boolean;
  /**
   * exactly-once: the outbox and the consumed offsets commit in one Kafka transaction
   * (consume → produce exactly once), partitions are processed one at a time.
   * at-least-once: the outbox is produced (acks=all, idempotent) and then offsets committed.
   */
  mode: 'exactly-once' | 'at-least-once';
  /** Transactional id of the exactly-once producer: stable per replica, so a restart fences. */
  transactionalId?: string;
  partitionsConsumedConcurrently?: number;
  sessionTimeoutMs?: number;
  /** Called with the new assignment each time this member (re)joins its group. */
  onAssignment?: (assignment: ReadonlyMap<string, number[]>) => void;
  /** Longest a fetch waits for data; also bounds how long stop() waits for the fetch at hand. */
  maxWaitTimeMs?: number;
  /**
   * Most bytes fetched per partition (kafkajs default 1 MiB). A handler that leaves part of a
   * batch unprocessed has that part fetched and decoded again, so a role that only gets
   * through so much per batch fetches about that much.
   */
  maxBytesPerPartition?: number;
}

export interface BatchConsumerDeps {
  kafka: Kafka;
  logger: Logger;
  metrics: FlowhookMetrics;
}

/**
 * The consuming edge every role shares: kafkajs eachBatch with manual offsets, an outbox the
 * handler fills, and a commit that happens only after the outbox is durably produced — in the
 * same transaction when exactly-once. Readiness = the consumer has joined its group.
 */
export class BatchConsumer {
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly logger: Logger;
  private joined = false;
  private crashed: Error | undefined;
  private started = false;
  private closing: Promise<void> | undefined;
  private assigned = new Map<string, number[]>();

  constructor(
    private readonly options: BatchConsumerOptions,
    private readonly deps: BatchConsumerDeps,
  ) {
    this.logger = deps.logger.child({ group: options.groupId });
    this.consumer = deps.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: Math.max(500, Math.floor((options.sessionTimeoutMs ?? 30_000) / 10)),
      maxWaitTimeInMs: options.maxWaitTimeMs ?? 1000,
      maxBytesPerPartition: options.maxBytesPerPartition,
      // read_committed: never see the jobs of an aborted transaction.
      readUncommitted: false,
      allowAutoTopicCreation: false,
    });
    const exactlyOnce = options.mode === 'exactly-once';
    if (exactlyOnce && !options.transactionalId) {
      throw new Error('exactly-once consumption needs a transactionalId');
    }
    this.producer = deps.kafka.producer({
      idempotent: true,
      maxInFlightRequests: exactlyOnce ? 1 : 5,
      transactionalId: exactlyOnce ? options.transactionalId : undefined,
      allowAutoTopicCreation: false,
    });
    const { GROUP_JOIN, CRASH, END_BATCH_PROCESS, REBALANCING } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (e) => {
      this.joined = true;
      this.assigned = new Map(Object.entries(e.payload.memberAssignment));
      options.onAssignment?.(this.assigned);
      this.logger.info({ assignment: e.payload.memberAssignment }, 'joined consumer group');
    });
    this.consumer.on(REBALANCING, () => this.logger.debug('rebalancing'));
    this.consumer.on(CRASH, (e) => {
      this.deps.metrics.kafkaErrors.inc({ kind: 'crash' });
      if (!e.payload.restart) {
        this.crashed = e.payload.error;
        this.logger.error({ err: e.payload.error }, 'consumer crashed and will not restart');
      } else {
        this.logger.warn({ err: e.payload.error }, 'consumer error; restarting');
      }
    });
    this.consumer.on(END_BATCH_PROCESS, (e) => {
      const { topic, partition, offsetLag } = e.payload;
      this.deps.metrics.consumerLag.set(
        { group: options.groupId, topic, partition: String(partition) },
        Number(offsetLag),
      );
    });
  }

  isReady(): boolean {
    return this.joined && !this.crashed && !this.closing;
  }

  /** Set when the consumer crashed beyond kafkajs's own restarts: the process is unhealthy. */
  get crashError(): Error | undefined {
    return this.crashed;
  }

  /** Partitions currently assigned to this member, by topic. */
  assignment(): ReadonlyMap<string, number[]> {
    return this.assigned;
  }

  pause(topic: string, partitions: number[]): void {
    this.consumer.pause([{ topic, partitions }]);
  }

  resume(topic: string, partitions: number[]): void {
    this.consumer.resume([{ topic, partitions }]);
  }

  async start(handler: BatchHandler): Promise<void> {
    if (this.started) throw new Error('BatchConsumer already started');
    this.started = true;
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: Array.isArray(this.options.topics) ? this.options.topics : [this.options.topics],
      fromBeginning: this.options.fromBeginning ?? true,
    });
    const exactlyOnce = this.options.mode === 'exactly-once';
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: exactlyOnce
        ? 1
        : (this.options.partitionsConsumedConcurrently ?? 3),
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale, pause }) => {
        if (batch.messages.length === 0 || !isRunning() || isStale()) return;
        const started = process.hrtime.bigint();
        const outbox = new Outbox();
        const result = await handler(
          {
            topic: batch.topic,
            partition: batch.partition,
            messages: batch.messages,
            highWatermark: batch.highWatermark,
            heartbeat,
            isRunning: () => isRunning() && !isStale(),
            pause: () => void pause(),
          },
          outbox,
        );
        const processed = Math.min(
          result?.processed ?? batch.messages.length,
          batch.messages.length,
        );
        if (processed === 0) {
          if (outbox.size > 0)
            throw new Error('a handler produced output for no processed message');
          return;
        }
        const through = batch.messages[processed - 1].offset;
        const next = (BigInt(through) + 1n).toString();
        if (exactlyOnce) {
          await this.commitTransaction(outbox, {
            topic: batch.topic,
            partitions: [{ partition: batch.partition, offset: next }],
          });
        } else {
          for (const topicMessages of outbox.requests()) {
            await this.producer.sendBatch({ topicMessages, acks: -1 });
          }
          await this.consumer.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: next },
          ]);
        }
        result?.onCommit?.();
        resolveOffset(through);
        await heartbeat();
        this.deps.metrics.batchDuration.observe(
          { group: this.options.groupId },
          Number(process.hrtime.bigint() - started) / 1e9,
        );
      },
    });
  }

  private async commitTransaction(
    outbox: Outbox,
    offsets: { topic: string; partitions: { partition: number; offset: string }[] },
  ): Promise<void> {
    let tx: Transaction | undefined;
    try {
      tx = await this.producer.transaction();
      for (const topicMessages of outbox.requests()) await tx.sendBatch({ topicMessages });
      await tx.sendOffsets({ consumerGroupId: this.options.groupId, topics: [offsets] });
      await tx.commit();
    } catch (err) {
      this.deps.metrics.transactionsAborted.inc({ group: this.options.groupId });
      if (tx?.isActive()) await tx.abort().catch(() => undefined);
      // Thrown on: kafkajs restarts the consumer from the last committed offsets, so the
      // batch is processed again and nothing of the aborted transaction is visible.
      throw err;
    }
  }

  /** Idempotent and ordered: stop fetching (the batch at hand finishes), then disconnect. */
  stop(): Promise<void> {
    this.closing ??= (async () => {
      await this.consumer
        .stop()
        .catch((err: unknown) => this.logger.warn({ err }, 'stopping consumer'));
      await this.consumer
        .disconnect()
        .catch((err: unknown) => this.logger.warn({ err }, 'disconnecting consumer'));
      await this.producer
        .disconnect()
        .catch((err: unknown) => this.logger.warn({ err }, 'disconnecting producer'));
    })();
    return this.closing;
  }
}
