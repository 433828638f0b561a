// The stream-processing kernel: Kafka Streams' processor / state store / changelog / punctuation
// model, scaled down to what flowhook's roles need.
//
// Tasks. Input partition number p of every input topic forms task p (coPartitionedAssigner
// hands them to one member together). A task owns store partition p of every store, its
// timers, and a transactional producer whose id is `<group>-task-<p>` — the same id on every
// replica. That is the fencing scheme (kafkajs has no KIP-447, so a transaction cannot carry the
// group generation): when task p moves, its new owner initialises the producer id first, which
// fences the previous owner's producer and completes or aborts its open transaction, and only
// then reads the committed offsets and the changelog tail. A replica that lost task p in a
// rebalance can no longer commit anything for it.
//
// Commits. A task's outputs, changelog records and input offsets since its last commit go out
// in one transaction, when its input is drained (low latency when idle) and otherwise at least
// every commit interval (throughput under load). Tasks commit independently and concurrently,
// and a commit does not hold up processing: the task seals its work and hands it to the
// transaction, the consumer fetches on and the task processes into a new interval (its stores
// read the sealed writes until they are on disk). One transaction per task is in flight at a
// time; what was processed meanwhile goes in the next one, as soon as it settles.
//
// Faults. A failed commit or a handler error puts the task back at its last commit: the
// uncommitted overlay and outbox are dropped, the consumer is sought back to the committed
// offsets, and a producer whose transaction failed is replaced (the new one fences the old, so
// a producer wedged by a broker restart never blocks the task). Consumer crashes are restarted
// by kafkajs; every rejoin resets the retained tasks the same way. Only what a restart cannot
// fix (authorisation, authentication) is reported as a failure.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, IHeaders, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import type { Logger } from '../observability/logger';
import type { FlowhookMetrics } from '../observability/metrics';
import { coPartitionedAssigner } from './assigner';
import { supervisedConsumer } from './supervised-consumer';
import { isFatalKafkaError } from './errors';
import { Outbox } from './batch-consumer';
import { CompactedTopicReader } from './compacted-reader';
import { ConsumerRun } from './consumer-run';
import { LocalStateDirectory, StorePartition, type KeyValueStore, type StoreSpec } from './store';
import { TimerService, timerStoreSpec, type Timer } from './timers';
import { fetchTopicOffsets } from './topic-offsets';

export interface ProcessorRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders | undefined;
  /** Record timestamp, epoch ms. */
  timestamp: number;
  message: KafkaMessage;
}

/** What a handler may do while it processes a record or a timer of task `partition`. */
export interface ProcessorContext {
  readonly partition: number;
  /** The processor's clock (a seam for unit tests; real time in the service). */
  now(): number;
  store<T>(spec: StoreSpec<T>): KeyValueStore<T>;
  /** Durable timers of this task (only when the processor was created with `timers`). */
  readonly timers: TimerService;
  /** Produces a record in the task's transaction. */
  emit(topic: string, message: Message): void;
  /**
   * Leaves this record and the rest of its partition unprocessed until `dueMs` (the head of a
   * delay tier that is not due). Call it before emitting anything for the record.
   */
  pauseUntil(dueMs: number): void;
}

export interface Processor {
  process(record: ProcessorRecord, context: ProcessorContext): void | Promise<void>;
  onTimer?(timer: Timer, context: ProcessorContext): void | Promise<void>;
  /**
   * Runs in each task once it is running (after restore), and again whenever wakeAll() is
   * called: work that is not caused by a record or a timer (e.g. scheduling timers for a flow
   * just loaded). Committed like a record's work.
   */
  onWake?(context: ProcessorContext): void | Promise<void>;
}

export interface StreamProcessorOptions {
  groupId: string;
  /** Input topics: names and patterns (kafkajs subscribes to both). */
  topics: (string | RegExp)[];
  stores: StoreSpec<unknown>[];
  /** Changelog topic of the task timers; unset = this processor has no timers. */
  timersChangelogTopic?: string;
  /** Directory of the local store copies (one sub-directory per group). */
  stateDir: string;
  commitIntervalMs: number;
  sessionTimeoutMs?: number;
  /** Longest a fetch waits for data when the input is idle. */
  maxWaitTimeMs?: number;
  maxBytesPerPartition?: number;
  /** Most timers fired per task in one punctuation (the rest fire right after). */
  timersPerPunctuation?: number;
  clock?: () => number;
  /** Told how many partitions are paused until their head is due, on every change. */
  onPausedChange?: (paused: number) => void;
}

export interface StreamProcessorDeps {
  kafka: Kafka;
  logger: Logger;
  metrics: FlowhookMetrics;
}

type TaskState = 'initializing' | 'running' | 'closed';

const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/**
 * Records (outputs and store changes) a task collects while its previous transaction is in
 * flight (see backPressure): about what a busy task processes in one commit interval.
 */
const MAX_INTERVAL_RECORDS = 5_000;
/**
 * Retries of the task producers' requests. The first retry comes after a few milliseconds:
 * right after a commit the coordinator is still writing the previous transaction's markers
 * and answers the next transaction's first AddPartitionsToTxn with CONCURRENT_TRANSACTIONS for
 * a few ms; a 100 ms first backoff made that the largest part of every commit (the Java client
 * retries this case after 20 ms). Doubling from 5 ms, eight retries still wait about 1.3 s
 * in all before the transaction fails, is aborted and processed again (exactly-once comes from
 * the transaction, not from retrying forever).
 */
const TRANSACTIONAL_RETRY = { retries: 8, initialRetryTime: 5, maxRetryTime: 2000 };
const RECOVERY_BACKOFF_MS = [200, 500, 1000, 2000, 5000, 10_000];

class Task {
  state: TaskState = 'initializing';
  readonly stores = new Map<string, StorePartition<unknown>>();
  readonly timers: TimerService | undefined;
  outbox = new Outbox();
  /** Next offset to process, per input topic. */
  readonly position = new Map<string, bigint>();
  /** Next offset after the last commit, per input topic. */
  readonly committed = new Map<string, bigint>();
  dirty = false;
  firstUncommittedAt = 0;
  /** The last batch processed reached the end of its partition. */
  drained = false;
  /** The transaction in flight (one at a time: it has the task's producer), until it settles. */
  committing: Promise<void> | undefined;
  /** A commit failed: nothing commits until the task is back at its last commit. */
  broken = false;
  producer: Producer | undefined;
  commitTimer: NodeJS.Timeout | undefined;
  wakeTimer: NodeJS.Timeout | undefined;
  wakeAt = Infinity;
  failures = 0;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly partition: number,
    stores: StoreSpec<unknown>[],
    local: LocalStateDirectory,
  ) {
    for (const spec of stores)
      this.stores.set(spec.name, new StorePartition(spec, partition, local));
    const timerStore = [...this.stores.values()].find((s) => s.spec.name === 'timers');
    this.timers = timerStore ? new TimerService(timerStore as never) : undefined;
  }

  /** Runs `fn` after everything queued on this task (processing, commits, timers, resets). */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  clearTimers(): void {
    if (this.commitTimer) clearTimeout(this.commitTimer);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.commitTimer = undefined;
    this.wakeTimer = undefined;
    this.wakeAt = Infinity;
  }

  /** Drops everything since the last commit (wait for `committing` to settle first). */
  discard(): void {
    for (const store of this.stores.values()) store.discard();
    this.outbox = new Outbox();
    this.dirty = false;
    this.broken = false;
    this.position.clear();
    for (const [topic, offset] of this.committed) this.position.set(topic, offset);
  }
}

/** What one transaction carries, handed over from the task when it starts. */
interface SealedWork {
  outbox: Outbox;
  /** Changelog topics written, with their store. */
  changelogs: Map<string, StorePartition<unknown>>;
  /** Next offset to process per input topic: committed with this work. */
  positions: Map<string, bigint>;
}

class PauseRequest {
  constructor(readonly dueMs: number) {}
}

export class StreamProcessor {
  private consumer: Consumer;
  private restarts = 0;
  private readonly local: LocalStateDirectory;
  private readonly logger: Logger;
  private readonly tasks = new Map<number, Task>();
  private readonly stores: StoreSpec<unknown>[];
  private readonly clock: () => number;
  private readonly pausedUntil = new Map<string, { timer: NodeJS.Timeout; dueMs: number }>();
  private handler: Processor | undefined;
  /** Settles true once the handler's global tables are loaded (false: they never will be). */
  private globalsLoaded: Promise<boolean> = Promise.resolve(true);
  private readonly consumerRun = new ConsumerRun();
  private joined = false;
  private running = false;
  private fatal: Error | undefined;
  private closing: Promise<void> | undefined;
  /** Aborted by stop(): backoff waits end early, so stop() never waits out a backoff. */
  private readonly stopped = new AbortController();
  /** Task initialisations (fence, restore, offsets) in flight; stop() waits for them. */
  private readonly initialising = new Set<Promise<void>>();
  /** Changelog readers of restores in flight; stop() stops them. */
  private readonly restoreReaders = new Set<CompactedTopicReader>();
  /** Topic names last assigned to this member, per partition (patterns resolve to names). */
  private assignedTopics = new Map<number, string[]>();

  constructor(
    private readonly options: StreamProcessorOptions,
    private readonly deps: StreamProcessorDeps,
  ) {
    this.logger = deps.logger.child({ group: options.groupId });
    this.clock = options.clock ?? Date.now;
    this.stores = [...options.stores];
    if (options.timersChangelogTopic) {
      this.stores.push(timerStoreSpec(options.timersChangelogTopic) as StoreSpec<unknown>);
    }
    this.local = new LocalStateDirectory(`${options.stateDir}/${options.groupId}`);
    this.consumer = this.createConsumer();
  }

  private createConsumer(): Consumer {
    const consumer: Consumer = supervisedConsumer({
      ...this.deps,
      logger: this.logger,
      groupId: this.options.groupId,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      maxWaitTimeMs: this.options.maxWaitTimeMs,
      maxBytesPerPartition: this.options.maxBytesPerPartition,
      partitionAssigners: [coPartitionedAssigner],
      isClosing: () => this.closing !== undefined,
      onJoin: (assignment) => {
        this.restarts = 0;
        this.onAssignment(assignment);
      },
      onFatal: (err) => {
        if (consumer !== this.consumer) return;
        this.joined = false;
        this.fatal ??= err;
      },
      onGaveUp: (err) => {
        if (consumer !== this.consumer) return;
        this.joined = false;
        void this.replaceConsumer(err);
      },
    });
    return consumer;
  }

  /** A crash kafkajs gave up on: a fresh consumer rejoins; every task resumes from its commit. */
  private async replaceConsumer(err: Error): Promise<void> {
    const backoff = RECOVERY_BACKOFF_MS[
      Math.min(this.restarts, RECOVERY_BACKOFF_MS.length - 1)
    ] as number;
    this.restarts += 1;
    this.logger.warn({ err, retry_in_ms: backoff }, 'consumer stopped; starting a new one');
    await this.consumer.disconnect().catch(() => undefined);
    await this.backoff(backoff);
    if (this.closing) return;
    this.consumer = this.createConsumer();
    await this.run().catch((e: unknown) => this.replaceConsumer(e as Error));
  }

  /** Joined its group and every assigned task restored. */
  isReady(): boolean {
    return this.joined && !this.fatal && !this.closing && this.restoringPartitions().length === 0;
  }

  /** Assigned partitions still restoring their state (for /readyz). */
  restoringPartitions(): number[] {
    return [...this.tasks.values()]
      .filter((t) => t.state === 'initializing')
      .map((t) => t.partition);
  }

  /** Partitions (task numbers) this member owns now. */
  ownedPartitions(): number[] {
    return [...this.tasks.keys()].sort((a, b) => a - b);
  }

  failure(): Error | undefined {
    return this.fatal;
  }

  /**
   * Joins the group and runs `handler` on the assigned partitions. `globalsLoaded`: what the
   * handler reads besides its stores (the trigger's flow table, a global table in Kafka Streams'
   * terms) is loading while the member joins and restores; tasks process only once it resolves.
   */
  async start(handler: Processor, globalsLoaded?: Promise<unknown>): Promise<void> {
    if (this.handler) throw new Error('StreamProcessor already started');
    // Stopped before it started (its owner's start failed elsewhere meanwhile): stay stopped.
    if (this.closing) return;
    this.handler = handler;
    if (globalsLoaded !== undefined) {
      // A stop does not wait for the tables: a task waiting for them gives up at once.
      const stopping = new Promise<boolean>((resolve) =>
        this.stopped.signal.addEventListener('abort', () => resolve(false), { once: true }),
      );
      this.globalsLoaded = Promise.race([
        globalsLoaded.then(
          () => true,
          () => false,
        ),
        stopping,
      ]);
    }
    this.running = true;
    await this.run();
  }

  private async run(): Promise<void> {
    const consumer = this.consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: this.options.topics, fromBeginning: true });
    // stop() came during the connect (e.g. of a replacement consumer): it already stopped and
    // disconnected this consumer; running it now would leave it fetching after the stop.
    if (this.closing) return;
    await this.consumerRun.run(consumer, {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 16,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale, pause }) => {
        if (batch.messages.length === 0 || !isRunning() || isStale()) return;
        const task = this.tasks.get(batch.partition);
        if (!task || task.state !== 'running') {
          pause();
          return;
        }
        await task.run(async () => {
          if (task.state !== 'running' || isStale()) return;
          await this.processBatch(task, batch, resolveOffset, pause);
        });
        await heartbeat();
      },
    });
  }

  private async processBatch(
    task: Task,
    batch: {
      topic: string;
      partition: number;
      messages: KafkaMessage[];
      highWatermark: string;
      lastOffset(): string;
    },
    resolveOffset: (offset: string) => void,
    pause: () => void,
  ): Promise<void> {
    await this.backPressure(task);
    const started = process.hrtime.bigint();
    const handler = this.handler as Processor;
    const context = this.contextFor(task);
    let last: string | undefined;
    // A task that never committed goes back to where it started, should it have to.
    if (!task.committed.has(batch.topic) && batch.messages[0]) {
      task.committed.set(batch.topic, BigInt(batch.messages[0].offset));
    }
    try {
      for (const message of batch.messages) {
        const offset = BigInt(message.offset);
        const expected = task.position.get(batch.topic);
        // Already processed and committed (a fetch from before a seek or a rejoin).
        if (expected !== undefined && offset < expected) {
          last = message.offset;
          continue;
        }
        try {
          await handler.process(
            {
              topic: batch.topic,
              partition: batch.partition,
              offset: message.offset,
              key: message.key,
              value: message.value,
              headers: message.headers,
              timestamp: Number(message.timestamp),
              message,
            },
            context,
          );
        } catch (err) {
          if (!(err instanceof PauseRequest)) throw err;
          this.pauseUntil(batch.topic, batch.partition, err.dueMs, pause);
          break;
        }
        task.position.set(batch.topic, offset + 1n);
        this.markDirty(task);
        last = message.offset;
      }
    } catch (err) {
      await this.recover(task, 'process_failed', err);
      return;
    }
    if (last !== undefined) resolveOffset(last);
    task.drained = BigInt(batch.lastOffset()) + 2n >= BigInt(batch.highWatermark);
    // The commit goes on while the consumer fetches and this task processes what comes next.
    this.commitIfDue(task);
    this.deps.metrics.batchDuration.observe(
      { group: this.options.groupId },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
  }

  private contextFor(task: Task): ProcessorContext {
    return {
      partition: task.partition,
      now: this.clock,
      store: <T>(spec: StoreSpec<T>) => {
        const store = task.stores.get(spec.name);
        if (!store) throw new Error(`store ${spec.name} is not one of this processor's stores`);
        return store as unknown as KeyValueStore<T>;
      },
      get timers(): TimerService {
        if (!task.timers) throw new Error('this processor has no timers');
        return task.timers;
      },
      emit: (topic, message) => task.outbox.send(topic, message),
      pauseUntil: (dueMs) => {
        throw new PauseRequest(dueMs);
      },
    };
  }

  private markDirty(task: Task): void {
    if (!task.dirty) {
      task.dirty = true;
      task.firstUncommittedAt = this.clock();
    }
    // Whatever happens to the input, work does not wait longer than one interval.
    if (!task.commitTimer) {
      task.commitTimer = setTimeout(() => {
        task.commitTimer = undefined;
        void task.run(async () => this.startCommit(task));
      }, this.options.commitIntervalMs);
    }
  }

  /** Commits when the input is drained, or when the oldest uncommitted work is an interval old. */
  private commitIfDue(task: Task): void {
    if (
      task.dirty &&
      (task.drained || this.clock() - task.firstUncommittedAt >= this.options.commitIntervalMs)
    ) {
      this.startCommit(task);
    }
  }

  /**
   * Starts one transaction with the task's work so far (outputs, changelog records, input
   * offsets), unless one is in flight: the work processed meanwhile then goes in the next,
   * started as soon as this one settles (a group commit). Runs inside task.run; the
   * transaction itself does not, so processing goes on while it is sent.
   */
  private startCommit(task: Task): void {
    if (!task.dirty || task.committing || task.broken || task.state !== 'running') return;
    const work = this.seal(task);
    const started = process.hrtime.bigint();
    task.committing = this.send(task, work)
      .then(
        (ends) => this.committed(task, work, ends, started),
        (err: unknown) => this.commitFailed(task, err),
      )
      .finally(() => {
        task.committing = undefined;
        if (task.dirty) void task.run(async () => this.commitIfDue(task));
      });
  }

  /** Hands the task's work to a commit; the task goes on with an empty interval. */
  private seal(task: Task): SealedWork {
    const outbox = task.outbox;
    const changelogs = new Map<string, StorePartition<unknown>>();
    for (const store of task.stores.values()) {
      const records = store.seal();
      for (const record of records) outbox.send(store.spec.changelogTopic, record);
      if (records.length > 0) changelogs.set(store.spec.changelogTopic, store);
    }
    task.outbox = new Outbox();
    task.dirty = false;
    if (task.commitTimer) clearTimeout(task.commitTimer);
    task.commitTimer = undefined;
    return { outbox, changelogs, positions: new Map(task.position) };
  }

  /** One transaction; resolves with the offset after the task's last record per changelog. */
  private async send(task: Task, work: SealedWork): Promise<Map<string, bigint>> {
    const offsets = [...work.positions].map(([topic, offset]) => ({
      topic,
      partitions: [{ partition: task.partition, offset: offset.toString() }],
    }));
    const ends = new Map<string, bigint>();
    const producer = await this.producerFor(task);
    const tx = await producer.transaction();
    try {
      for (const topicMessages of work.outbox.requests()) {
        const results = await tx.sendBatch({ topicMessages });
        for (const r of results) {
          if (!work.changelogs.has(r.topicName) || r.partition !== task.partition) continue;
          const sent = topicMessages
            .filter((t) => t.topic === r.topicName)
            .reduce(
              (n, t) => n + t.messages.filter((m) => m.partition === task.partition).length,
              0,
            );
          const end = BigInt(r.baseOffset ?? '0') + BigInt(sent);
          if (end > (ends.get(r.topicName) ?? -1n)) ends.set(r.topicName, end);
        }
      }
      if (offsets.length > 0)
        await tx.sendOffsets({ consumerGroupId: this.options.groupId, topics: offsets });
      await tx.commit();
    } catch (err) {
      if (tx.isActive()) await tx.abort().catch(() => undefined);
      throw err;
    }
    return ends;
  }

  private committed(
    task: Task,
    work: SealedWork,
    ends: Map<string, bigint>,
    started: bigint,
  ): void {
    for (const store of task.stores.values()) store.committed(ends.get(store.spec.changelogTopic));
    for (const [topic, offset] of work.positions) task.committed.set(topic, offset);
    task.failures = 0;
    this.deps.metrics.commitDuration.observe(
      { group: this.options.groupId },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
    this.scheduleWake(task);
  }

  /** The transaction failed: the task goes back to its last commit (queued behind its work). */
  private async commitFailed(task: Task, err: unknown): Promise<void> {
    task.broken = true;
    this.deps.metrics.transactionsAborted.inc({ group: this.options.groupId });
    await this.retireProducer(task);
    void task.run(() => this.recover(task, 'commit_failed', err));
  }

  /**
   * While a transaction is in flight the task goes on into the next interval; once that holds
   * MAX_INTERVAL_RECORDS outputs and store changes, it waits for the transaction first. A
   * backlog, a slow commit (a broker under strain) or a fan-out that schedules itself again at
   * once then cannot grow the interval, and the memory it takes, without bound.
   */
  private async backPressure(task: Task): Promise<void> {
    if (!task.committing) return;
    let records = task.outbox.size;
    for (const store of task.stores.values()) records += store.pendingWrites;
    if (records >= MAX_INTERVAL_RECORDS) await this.settle(task);
  }

  /** Waits for the transaction in flight, if any (it never rejects: failures are handled). */
  private async settle(task: Task): Promise<void> {
    while (task.committing) await task.committing;
  }

  /** Commits everything processed so far and waits for it (inside task.run). */
  private async flush(task: Task): Promise<void> {
    await this.settle(task);
    this.startCommit(task);
    await this.settle(task);
  }

  private async producerFor(task: Task): Promise<Producer> {
    if (task.producer) return task.producer;
    const producer = this.deps.kafka.producer({
      transactionalId: `${this.options.groupId}-task-${task.partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      transactionTimeout: 60_000,
      retry: TRANSACTIONAL_RETRY,
    });
    await producer.connect();
    // kafkajs initialises the transactional producer id at the first transaction: do it now,
    // so taking over a task fences its previous owner before its state and offsets are read.
    const init = await producer.transaction();
    await init.abort();
    task.producer = producer;
    return producer;
  }

  /** A producer whose transaction failed may be wedged: the next commit uses a new one. */
  private async retireProducer(task: Task, failed = true): Promise<void> {
    const old = task.producer;
    task.producer = undefined;
    if (!old) return;
    if (failed) this.deps.metrics.producersReplaced.inc({ group: this.options.groupId });
    await old.disconnect().catch(() => undefined);
  }

  /**
   * Back to the last commit: drop the uncommitted work, seek the input back, and resume after
   * a backoff. The backoff is a timer, not a wait inside the task: the consumer keeps
   * fetching the other partitions and heartbeating meanwhile.
   */
  private async recover(task: Task, reason: string, err: unknown): Promise<void> {
    await this.settle(task);
    const { groupId } = this.options;
    this.deps.metrics.taskRecoveries.inc({ group: groupId, reason });
    task.failures += 1;
    const backoff = RECOVERY_BACKOFF_MS[
      Math.min(task.failures, RECOVERY_BACKOFF_MS.length) - 1
    ] as number;
    this.logger.warn(
      { err, partition: task.partition, reason, retry_in_ms: backoff },
      'task back at its last commit; its uncommitted work is processed again',
    );
    task.discard();
    task.clearTimers();
    if (task.state !== 'running') return;
    const partitions = (this.assignedTopics.get(task.partition) ?? []).map((topic) => ({
      topic,
      partitions: [task.partition],
    }));
    this.consumer.pause(partitions);
    for (const [topic, offset] of task.committed) {
      this.consumer.seek({ topic, partition: task.partition, offset: offset.toString() });
    }
    setTimeout(() => {
      if (task.state !== 'running' || this.closing) return;
      this.consumer.resume(partitions);
      this.scheduleWake(task);
    }, backoff);
  }

  private pauseUntil(topic: string, partition: number, dueMs: number, pause: () => void): void {
    pause();
    const id = `${topic}:${partition}`;
    const previous = this.pausedUntil.get(id);
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(
      () => {
        this.pausedUntil.delete(id);
        this.options.onPausedChange?.(this.pausedUntil.size);
        if (this.running && this.tasks.get(partition)?.state === 'running') {
          this.consumer.resume([{ topic, partitions: [partition] }]);
        }
      },
      Math.min(MAX_TIMEOUT_MS, Math.max(0, dueMs - this.clock())),
    );
    this.pausedUntil.set(id, { timer, dueMs });
    this.options.onPausedChange?.(this.pausedUntil.size);
  }

  /** Partitions paused until their head is due, as `topic:partition` → due time (ms). */
  pausedPartitions(): ReadonlyMap<string, number> {
    return new Map([...this.pausedUntil].map(([id, p]) => [id, p.dueMs]));
  }

  // ---- timers (punctuation) ----

  private scheduleWake(task: Task): void {
    if (!task.timers || task.state !== 'running') return;
    const due = task.timers.nextDue();
    if (due === undefined || due >= task.wakeAt) return;
    if (task.wakeTimer) clearTimeout(task.wakeTimer);
    task.wakeAt = due;
    task.wakeTimer = setTimeout(
      () => {
        task.wakeTimer = undefined;
        task.wakeAt = Infinity;
        void task.run(() => this.punctuate(task));
      },
      Math.min(MAX_TIMEOUT_MS, Math.max(0, due - this.clock())),
    );
  }

  /** Runs the handler's onWake in every running task (see Processor.onWake). */
  wakeAll(): void {
    for (const task of this.tasks.values()) this.wake(task);
  }

  private wake(task: Task): void {
    if (!this.handler?.onWake || task.state !== 'running') return;
    void task.run(async () => {
      const handler = this.handler;
      if (!handler?.onWake || task.state !== 'running') return;
      try {
        await handler.onWake(this.contextFor(task));
      } catch (err) {
        await this.recover(task, 'wake_failed', err);
        return;
      }
      this.markDirty(task);
      this.startCommit(task);
      this.scheduleWake(task);
    });
  }

  /** Fires the task's due timers and commits what they caused with their removal. */
  private async punctuate(task: Task): Promise<void> {
    const handler = this.handler;
    const timers = task.timers;
    if (!handler?.onTimer || !timers || task.state !== 'running') return;
    await this.backPressure(task);
    const now = this.clock();
    const due = timers.due(now, this.options.timersPerPunctuation ?? 500);
    const context = this.contextFor(task);
    const { groupId } = this.options;
    try {
      for (const timer of due) {
        timers.cancel(timer.id);
        await handler.onTimer(timer, context);
        this.deps.metrics.timersFired.inc({ group: groupId });
        this.deps.metrics.timerLateness.observe(
          { group: groupId },
          Math.max(0, now - timer.due) / 1000,
        );
      }
    } catch (err) {
      await this.recover(task, 'timer_failed', err);
      return;
    }
    if (due.length > 0) {
      this.markDirty(task);
      this.startCommit(task);
    }
    this.scheduleWake(task);
  }

  // ---- assignment, restore ----

  private onAssignment(assignment: Record<string, number[]>): void {
    this.joined = true;
    const wanted = new Map<number, string[]>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const p of partitions) {
        const list = wanted.get(p) ?? [];
        list.push(topic);
        wanted.set(p, list);
      }
    }
    this.assignedTopics = wanted;
    this.logger.info(
      { partitions: [...wanted.keys()].sort((a, b) => a - b) },
      'joined consumer group',
    );
    for (const [p, task] of this.tasks) {
      if (wanted.has(p)) {
        // kafkajs starts every generation from the committed offsets: so does the task.
        void task.run(async () => {
          await this.settle(task);
          if (task.dirty)
            this.deps.metrics.taskRecoveries.inc({
              group: this.options.groupId,
              reason: 'rebalance',
            });
          task.discard();
          for (const [topic, offset] of task.committed) {
            this.consumer.seek({ topic, partition: p, offset: offset.toString() });
          }
        });
      } else {
        this.tasks.delete(p);
        void this.closeTask(task, false);
      }
    }
    const fresh = [...wanted.keys()].filter((p) => !this.tasks.has(p));
    for (const p of fresh) this.tasks.set(p, new Task(p, this.stores, this.local));
    if (fresh.length > 0) {
      this.consumer.pause(
        fresh.flatMap((p) => (wanted.get(p) ?? []).map((topic) => ({ topic, partitions: [p] }))),
      );
      const init: Promise<void> = this.initTasks(fresh).finally(() =>
        this.initialising.delete(init),
      );
      this.initialising.add(init);
    }
  }

  /**
   * Fence, then restore, then read the committed offsets, then process: in that order, so the
   * state and offsets read include everything the previous owner managed to commit.
   */
  private async initTasks(partitions: number[]): Promise<void> {
    const { groupId } = this.options;
    const tasks = partitions
      .map((p) => this.tasks.get(p))
      .filter((t): t is Task => t !== undefined);
    this.deps.metrics.restoringPartitions.set(
      { group: groupId },
      this.restoringPartitions().length,
    );
    for (let attempt = 1; !this.closing; attempt++) {
      const live = tasks.filter(
        (t) => t.state === 'initializing' && this.tasks.get(t.partition) === t,
      );
      if (live.length === 0) break;
      try {
        await Promise.all(live.map((t) => this.producerFor(t)));
        await this.restore(live);
        // A failed load fails the owner's start, which stops this processor.
        if (!(await this.globalsLoaded) || this.closing) break;
        const committed = await this.committedOffsets(live.map((t) => t.partition));
        for (const task of live) {
          if (task.state !== 'initializing' || this.tasks.get(task.partition) !== task) continue;
          const topics = this.assignedTopics.get(task.partition) ?? [];
          for (const topic of topics) {
            const offset = committed.get(`${topic}:${task.partition}`);
            if (offset === undefined) continue;
            task.committed.set(topic, offset);
            task.position.set(topic, offset);
            this.consumer.seek({ topic, partition: task.partition, offset: offset.toString() });
          }
          task.state = 'running';
          this.consumer.resume(topics.map((topic) => ({ topic, partitions: [task.partition] })));
          this.scheduleWake(task);
          this.wake(task);
        }
        break;
      } catch (err) {
        if (isFatalKafkaError(err)) {
          this.fatal = err as Error;
          this.logger.error({ err }, 'cannot initialise tasks: a restart cannot fix this');
          return;
        }
        for (const t of live) await this.retireProducer(t);
        const backoff = RECOVERY_BACKOFF_MS[
          Math.min(attempt, RECOVERY_BACKOFF_MS.length) - 1
        ] as number;
        this.logger.warn(
          { err, partitions, retry_in_ms: backoff },
          'task initialisation failed; retrying',
        );
        await this.backoff(backoff);
      }
    }
    this.deps.metrics.restoringPartitions.set(
      { group: groupId },
      this.restoringPartitions().length,
    );
  }

  private async committedOffsets(partitions: number[]): Promise<Map<string, bigint>> {
    const admin = this.deps.kafka.admin();
    await admin.connect();
    try {
      const topics = [...new Set(partitions.flatMap((p) => this.assignedTopics.get(p) ?? []))];
      const result = await admin.fetchOffsets({ groupId: this.options.groupId, topics });
      const out = new Map<string, bigint>();
      for (const { topic, partitions: list } of result) {
        for (const { partition, offset } of list) {
          if (partitions.includes(partition) && Number(offset) >= 0)
            out.set(`${topic}:${partition}`, BigInt(offset));
        }
      }
      return out;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Restores each store partition of these tasks from its checkpoint to the changelog's end. */
  private async restore(tasks: Task[]): Promise<void> {
    const admin = this.deps.kafka.admin();
    await admin.connect();
    const plans: { spec: StoreSpec<unknown>; from: Map<number, bigint> }[] = [];
    try {
      for (const spec of this.stores) {
        const offsets = await fetchTopicOffsets(admin, spec.changelogTopic);
        const from = new Map<number, bigint>();
        for (const task of tasks) {
          const o = offsets.find((x) => x.partition === task.partition);
          if (!o)
            throw new Error(
              `${spec.changelogTopic} has no partition ${task.partition}: it needs as many partitions as the inputs`,
            );
          const low = BigInt(o.low);
          const high = BigInt(o.high);
          let checkpoint = this.local.checkpoint(spec.name, task.partition);
          // A checkpoint outside the log (a recreated or truncated topic) is not trusted.
          if (checkpoint !== undefined && (checkpoint < low || checkpoint > high)) {
            this.local.wipe(spec.name, task.partition);
            checkpoint = undefined;
          }
          const start = checkpoint ?? low;
          // One offset of slack: the commit marker that follows a task's last changelog write.
          if (high - start > 1n) from.set(task.partition, start);
        }
        if (from.size > 0) plans.push({ spec, from });
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    for (const { spec, from } of plans) await this.restoreStore(spec, from);
  }

  private async restoreStore(spec: StoreSpec<unknown>, from: Map<number, bigint>): Promise<void> {
    const started = Date.now();
    const pending = new Map<number, { changes: [string, Buffer | null][]; next: bigint }>();
    let total = 0;
    const flush = (partition: number) => {
      const p = pending.get(partition);
      if (!p || p.changes.length === 0) return;
      this.local.apply(spec.name, partition, p.changes, p.next);
      this.deps.metrics.stateRestored.inc({ store: spec.name }, p.changes.length);
      total += p.changes.length;
      p.changes = [];
    };
    const reader = new CompactedTopicReader(
      this.deps.kafka,
      {
        topic: spec.changelogTopic,
        groupPrefix: `${this.options.groupId}-restore`,
        partitions: [...from.keys()],
        from,
      },
      this.logger,
    );
    this.restoreReaders.add(reader);
    try {
      await reader.start((record) => {
        if (record.key === null || !from.has(record.partition)) return;
        let p = pending.get(record.partition);
        if (!p) pending.set(record.partition, (p = { changes: [], next: 0n }));
        p.changes.push([record.key, record.value]);
        p.next = BigInt(record.offset) + 1n;
        if (p.changes.length >= 10_000) flush(record.partition);
      });
    } finally {
      this.restoreReaders.delete(reader);
      await reader.stop();
    }
    for (const partition of pending.keys()) flush(partition);
    this.logger.info(
      { store: spec.name, partitions: [...from.keys()], records: total, ms: Date.now() - started },
      'state store restored from its changelog',
    );
  }

  private async closeTask(task: Task, commitFirst: boolean): Promise<void> {
    await task.run(async () => {
      if (commitFirst) await this.flush(task);
      else await this.settle(task);
      task.state = 'closed';
      task.clearTimers();
      task.discard();
      await this.retireProducer(task, false);
    });
  }

  /** Waits `ms`, or less when stop() is called meanwhile. */
  private backoff(ms: number): Promise<void> {
    return sleep(ms, undefined, { signal: this.stopped.signal }).catch(() => undefined);
  }

  /** Idempotent and ordered: stop fetching, commit what was processed, disconnect, close stores. */
  stop(): Promise<void> {
    this.closing ??= (async () => {
      this.running = false;
      this.stopped.abort();
      await Promise.all([...this.restoreReaders].map((r) => r.stop()));
      await Promise.all(this.initialising);
      await this.consumerRun.joined();
      for (const paused of this.pausedUntil.values()) clearTimeout(paused.timer);
      this.pausedUntil.clear();
      this.options.onPausedChange?.(0);
      await this.consumer
        .stop()
        .catch((err: unknown) => this.logger.warn({ err }, 'stopping consumer'));
      await Promise.all([...this.tasks.values()].map((t) => this.closeTask(t, true)));
      this.tasks.clear();
      await this.consumer
        .disconnect()
        .catch((err: unknown) => this.logger.warn({ err }, 'disconnecting consumer'));
      this.local.close();
    })();
    return this.closing;
  }
}
