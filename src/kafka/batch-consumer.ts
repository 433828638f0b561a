import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import type { Logger } from '../observability/logger';
import type { FlowhookMetrics } from '../observability/metrics';
import { ConsumerRun } from './consumer-run';
import { isFatalKafkaError } from './errors';
import { supervisedConsumer } from './supervised-consumer';

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
  /**
   * Resolves when the outbox is complete (the delivery role returns once its jobs are
   * started, and they finish here). The consumer fetches on meanwhile; the batch's outbox is
   * produced and its offsets marked when this resolves, and a partition's offsets only ever
   * move over batches that are all complete.
   */
  settled?: Promise<void>;
}

/**
 * Where a partition's offsets may move: every offset below `line` has its outcome produced.
 * Batches complete in any order; the line moves over them only where they are contiguous.
 */
interface CommitLine {
  line: bigint;
  /** Produced batches above the line: first offset → next offset after them. */
  done: Map<bigint, bigint>;
}

export type BatchHandler = (batch: BatchInput, outbox: Outbox) => Promise<BatchResult | void>;

export interface BatchConsumerOptions {
  groupId: string;
  topics: string[] | RegExp;
  fromBeginning?: boolean;
  partitionsConsumedConcurrently?: number;
  sessionTimeoutMs?: number;
  /** Longest a processed offset waits for its commit (an idle partition commits at once). */
  commitIntervalMs?: number;
  /** Longest a fetch waits for data when idle. */
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

const RESTART_BACKOFF_MS = [500, 1000, 2000, 5000];

/**
 * The at-least-once consuming edge (the delivery role): kafkajs eachBatch with manual offsets
 * and an outbox the handler fills. The outbox is produced (acks=all, idempotent) before the
 * batch's offsets are marked; marked offsets are committed when the partition is drained and
 * otherwise at least every commit interval. A crash kafkajs does not restart by itself (a
 * member the coordinator forgot after a broker restart, say) gets a new consumer after a
 * backoff; only what a restart cannot fix (authorisation) is reported as a failure.
 * (Exactly-once roles use StreamProcessor.) Readiness = the consumer has joined its group.
 */
export class BatchConsumer {
  private consumer: Consumer;
  private readonly producer: Producer;
  private readonly logger: Logger;
  private handler: BatchHandler | undefined;
  private readonly consumerRun = new ConsumerRun();
  private joined = false;
  /** The partitions of the last join, topic → partitions. */
  private assignment: Record<string, number[]> = {};
  private fatal: Error | undefined;
  private closing: Promise<void> | undefined;
  private restarts = 0;
  /** Offsets processed and produced but not committed yet, `topic:partition` → next offset. */
  private pending = new Map<string, { topic: string; partition: number; offset: string }>();
  private commitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> = Promise.resolve();
  /** Per `topic:partition` of this generation: how far its offsets may move. */
  private lines = new Map<string, CommitLine>();
  /** Every batch outcome still being produced (stop() waits for them). */
  private readonly producing = new Set<Promise<void>>();
  /** Every batch a handler has in hand (stop() waits for them). */
  private readonly handling = new Set<Promise<void>>();

  constructor(
    private readonly options: BatchConsumerOptions,
    private readonly deps: BatchConsumerDeps,
  ) {
    this.logger = deps.logger.child({ group: options.groupId });
    this.consumer = this.createConsumer();
    this.producer = deps.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 5,
      allowAutoTopicCreation: false,
      // Bounded: a produce that keeps failing fails its batch, which is processed again
      // (at-least-once; receivers de-duplicate by webhook-id).
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    });
  }

  private createConsumer(): Consumer {
    const consumer: Consumer = supervisedConsumer({
      ...this.deps,
      logger: this.logger,
      groupId: this.options.groupId,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      maxWaitTimeMs: this.options.maxWaitTimeMs,
      maxBytesPerPartition: this.options.maxBytesPerPartition,
      isClosing: () => this.closing !== undefined,
      onJoin: (assignment) => {
        this.joined = true;
        this.restarts = 0;
        this.assignment = assignment;
        // Offsets of the previous generation are the coordinator's business now: batches still
        // settling are produced (at-least-once) but move no offset of the new generation.
        this.pending.clear();
        this.lines = new Map();
        this.logger.info({ assignment }, 'joined consumer group');
      },
      onFatal: (err) => {
        if (consumer !== this.consumer) return;
        this.joined = false;
        this.fatal = err;
      },
      onGaveUp: (err) => {
        if (consumer !== this.consumer) return;
        this.joined = false;
        void this.replaceConsumer(err);
      },
    });
    return consumer;
  }

  /** A crash kafkajs gave up on: a fresh consumer rejoins and resumes from the commits. */
  private async replaceConsumer(err: Error): Promise<void> {
    const backoff = RESTART_BACKOFF_MS[Math.min(this.restarts, RESTART_BACKOFF_MS.length - 1)];
    this.restarts += 1;
    this.logger.warn({ err, retry_in_ms: backoff }, 'consumer stopped; starting a new one');
    await this.consumer.disconnect().catch(() => undefined);
    await new Promise((r) => setTimeout(r, backoff));
    if (this.closing || !this.handler) return;
    this.pending.clear();
    this.lines = new Map();
    this.consumer = this.createConsumer();
    await this.run(this.handler).catch((e: unknown) => this.replaceConsumer(e as Error));
  }

  isReady(): boolean {
    return this.joined && !this.fatal && !this.closing;
  }

  /** Set when the consumer stopped for a reason a restart cannot fix: the process is unhealthy. */
  get crashError(): Error | undefined {
    return this.fatal;
  }

  resume(topic: string, partitions: number[]): void {
    this.consumer.resume([{ topic, partitions }]);
  }

  async start(handler: BatchHandler): Promise<void> {
    if (this.handler) throw new Error('BatchConsumer already started');
    this.handler = handler;
    await this.producer.connect();
    await this.run(handler);
  }

  private async run(handler: BatchHandler): Promise<void> {
    const consumer = this.consumer;
    await consumer.connect();
    await consumer.subscribe({
      topics: Array.isArray(this.options.topics) ? this.options.topics : [this.options.topics],
      fromBeginning: this.options.fromBeginning ?? true,
    });
    // stop() came during the connect (e.g. of a replacement consumer): it already stopped and
    // disconnected this consumer; running it now would leave it fetching after the stop.
    if (this.closing) return;
    await this.consumerRun.run(consumer, {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      eachBatch: async (payload) => {
        const handling = this.consumeBatch(consumer, handler, payload);
        this.handling.add(handling);
        try {
          await handling;
        } finally {
          this.handling.delete(handling);
        }
      },
    });
  }

  private async consumeBatch(
    consumer: Consumer,
    handler: BatchHandler,
    { batch, resolveOffset, heartbeat, isRunning, isStale, pause }: EachBatchPayload,
  ): Promise<void> {
    if (batch.messages.length === 0 || !isRunning() || isStale() || this.closing) return;
    const started = process.hrtime.bigint();
    const outbox = new Outbox();
    const result = await handler(
      {
        topic: batch.topic,
        partition: batch.partition,
        messages: batch.messages,
        highWatermark: batch.highWatermark,
        heartbeat,
        isRunning: () => isRunning() && !isStale() && !this.closing,
        pause: () => void pause(),
      },
      outbox,
    );
    const processed = Math.min(result?.processed ?? batch.messages.length, batch.messages.length);
    if (processed === 0) {
      if (outbox.size > 0) throw new Error('a handler produced output for no processed message');
      return;
    }
    const through = batch.messages[processed - 1]?.offset as string;
    const from = BigInt(batch.messages[0]?.offset as string);
    const id = `${batch.topic}:${batch.partition}`;
    let line = this.lines.get(id);
    if (!line) this.lines.set(id, (line = { line: from, done: new Map() }));
    const range = { from, next: BigInt(through) + 1n, highWatermark: batch.highWatermark };
    // kafkajs fetches what follows at once; the outcome of this batch may still be on its way.
    resolveOffset(through);
    const outcome = this.settle(consumer, batch, result?.settled, outbox, line, range);
    this.producing.add(outcome);
    void outcome.finally(() => this.producing.delete(outcome));
    if (!result?.settled) await outcome;
    await heartbeat();
    this.deps.metrics.batchDuration.observe(
      { group: this.options.groupId },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
  }

  /**
   * Produces a batch's outbox once it is complete, then moves the partition's commit line over
   * it and every complete batch after it. A batch whose outcome cannot be produced sends the
   * partition back to its line: what is above it is processed again (at-least-once).
   */
  private async settle(
    consumer: Consumer,
    batch: { topic: string; partition: number },
    settled: Promise<void> | undefined,
    outbox: Outbox,
    line: CommitLine,
    range: { from: bigint; next: bigint; highWatermark: string },
  ): Promise<void> {
    const id = `${batch.topic}:${batch.partition}`;
    try {
      await settled;
      for (const topicMessages of outbox.requests()) {
        await this.producer.sendBatch({ topicMessages, acks: -1 });
      }
    } catch (err) {
      // A rejoin since: the new generation starts from the committed offsets anyway.
      if (this.lines.get(id) !== line) return;
      this.deps.metrics.kafkaErrors.inc({ kind: 'produce' });
      this.logger.warn(
        { err, topic: batch.topic, partition: batch.partition, offset: line.line.toString() },
        'batch outcome not produced; the partition is processed again from its commit line',
      );
      if (consumer === this.consumer && !this.closing) {
        consumer.seek({
          topic: batch.topic,
          partition: batch.partition,
          offset: line.line.toString(),
        });
      }
      return;
    }
    if (this.lines.get(id) !== line) return;
    line.done.set(range.from, range.next);
    const before = line.line;
    for (let moved = true; moved;) {
      moved = false;
      for (const [from, next] of line.done) {
        if (next <= line.line) line.done.delete(from);
        else if (from <= line.line) {
          line.line = next;
          line.done.delete(from);
          moved = true;
        }
      }
    }
    if (line.line === before) return;
    this.pending.set(id, {
      topic: batch.topic,
      partition: batch.partition,
      offset: line.line.toString(),
    });
    const drained = line.line + 1n >= BigInt(range.highWatermark);
    if (drained) await this.commit(consumer);
    else this.scheduleCommit(consumer);
  }

  private scheduleCommit(consumer: Consumer): void {
    if (this.commitTimer) return;
    this.commitTimer = setTimeout(() => {
      this.commitTimer = undefined;
      void this.commit(consumer);
    }, this.options.commitIntervalMs ?? 100);
  }

  /**
   * Commits every marked offset in one request. A refused commit (the group rebalanced) is
   * not an error of ours: those records are delivered again, with the same webhook-id.
   */
  private commit(consumer: Consumer): Promise<void> {
    this.committing = this.committing.then(async () => {
      if (this.pending.size === 0 || consumer !== this.consumer) return;
      const offsets = [...this.pending.values()];
      this.pending = new Map();
      try {
        await consumer.commitOffsets(offsets);
      } catch (err) {
        if (isFatalKafkaError(err)) this.fatal = err as Error;
        this.deps.metrics.kafkaErrors.inc({ kind: 'commit' });
        this.logger.warn({ err }, 'offset commit refused; those records will be processed again');
      }
    });
    return this.committing;
  }

  /** Idempotent and ordered: stop fetching (the batch at hand finishes), commit, disconnect. */
  stop(): Promise<void> {
    this.closing ??= (async () => {
      if (this.commitTimer) clearTimeout(this.commitTimer);
      const consumer = this.consumer;
      await this.consumerRun.joined();
      // Batches in hand start no more work (isRunning() is false from here), finish, are
      // produced and commit while the consumer is still a member of its group: kafkajs's stop()
      // leaves the group, and a commit after that is refused, so their records would be
      // processed again. Paused, the consumer does not fetch meanwhile.
      try {
        consumer.pause(
          Object.entries(this.assignment).map(([topic, partitions]) => ({ topic, partitions })),
        );
      } catch {
        // Not running yet (stopped during its start): nothing to pause.
      }
      await Promise.all([...this.handling]);
      await Promise.all([...this.producing]);
      await this.commit(consumer);
      await consumer.stop().catch((err: unknown) => this.logger.warn({ err }, 'stopping consumer'));
      await consumer
        .disconnect()
        .catch((err: unknown) => this.logger.warn({ err }, 'disconnecting consumer'));
      await this.producer
        .disconnect()
        .catch((err: unknown) => this.logger.warn({ err }, 'disconnecting producer'));
    })();
    return this.closing;
  }
}
