// The delivery role: consumes flowhook.jobs (group flowhook-delivery,
// at-least-once) and makes one attempt per job with deliverAttempt, many at once.
//
// Per fetched batch (one partition; several partitions are handled at once):
//   - every message is decoded and checked against schemas/job.schema.json; one that is not a
//     job goes to flowhook.dlq as a RejectedMessage with the raw value (never a crash);
//   - jobs are started in offset order as soon as the process admits more (a little above its
//     concurrency, shared fairly by the batches in progress); requests in flight are bounded
//     per process (FLOWHOOK_DELIVERY_CONCURRENCY) and per host (FLOWHOOK_HOST_CONCURRENCY),
//     and the circuit breaker parks the jobs of failing hosts; the requests themselves go out
//     from SenderPool threads (FLOWHOOK_DELIVERY_THREADS; 0 = from this thread);
//   - each decision goes into the batch's outbox: every attempt's DeliveryRecord →
//     flowhook.deliveries (key = job id); retry and wait → a retry tier (delayedMessage, target
//     flowhook.jobs, same key; the delay role brings it back when due); dead → flowhook.dlq
//     (DeadLetter with the whole history, key = job id). BatchConsumer produces the outbox
//     (acks=all) before it commits the offsets: nothing is lost, a crash repeats attempts;
//   - the batch is handed back to the consumer once its jobs are started, not finished: the
//     next fetch does not wait for the slowest request of the last one; a partition's offsets
//     move only over batches whose outcomes are all produced;
//   - after `maxBatchMs` no new job is started: the batch commits what it started and the rest
//     is fetched again, so offsets advance steadily under a long backlog.
//
// A slow or hanging host must not hold back other hosts' jobs that happen to sit behind it in a
// partition, so no job holds its batch longer than `detachAfterMs` (from its start):
//   - a job still waiting for a slot of its *host* (the host is saturated or stuck) is not sent:
//     it goes back to a retry tier unchanged (`host_busy`), due when the host's queue should have
//     drained (its slots × its recent latency), so a busy host's backlog comes back spread out;
//   - an attempt already in flight is *detached*: a lease copy of the job (unchanged, header
//     flowhook-lease) is parked on a retry tier, due after the attempt's timeout, and the batch
//     goes on. When the attempt ends, its outcome is produced by the role's own producer and the
//     lease is marked settled, so the copy is dropped when it comes back. If the process dies
//     first, the copy comes back to an instance that does not know the lease and is attempted
//     again: at-least-once, same webhook-id;
//   - a job waiting for a *process* slot keeps waiting: the process is busy, not the host.

import { randomUUID } from 'node:crypto';
import type { IHeaders, KafkaMessage, Message, Producer } from 'kafkajs';
import { delayedMessage } from '../delay/message';
import type { JobOutcome, WebhookJob } from '../documents';
import { TopicSchemaError } from '../errors';
import {
  BatchConsumer,
  type BatchInput,
  type BatchResult,
  type Outbox,
} from '../kafka/batch-consumer';
import { roleGroupId, type Role, type RoleContext } from '../service/role';
import { DestinationPolicy } from './address-guard';
import { CircuitBreaker } from './circuit-breaker';
import { deadLetterMessage, rejectedMessage } from '../dead-letter/jobs';
import { type AttemptReport, deliverAttempt, type DeliveryDeps } from './deliver';
import { HostLimiter } from './host-limiter';
import { type Sender, WebhookSender } from './http-sender';
import { decodeJob } from './job-schema';
import { RetrySchedule } from './retry-schedule';
import { SenderPool } from './sender-pool';
import { redactHeaders, SecretStore } from './secrets';

/** Header of a lease copy (see above). */
export const LEASE_HEADER = 'flowhook-lease';

export interface DeliveryRoleOptions {
  /** Default roleGroupId(prefix, 'delivery') = `flowhook-delivery`. */
  groupId?: string;
  /** Replaces parts of the dependencies built from the configuration (tests, bench). */
  deps?: Partial<DeliveryDeps>;
  /** Longest a batch waits for its attempts before detaching them. Default 1000 ms. */
  detachAfterMs?: number;
  /** Shortest delay before a job that found its host busy is tried again. Default 1000 ms. */
  deferMs?: number;
  /** No new job is started in a batch after this long; the rest is fetched again. Default 2 s. */
  maxBatchMs?: number;
  /**
   * Jobs in progress at once, over all batches (each waits for a host slot, then a process
   * slot). Default concurrency + a quarter, so slots are refilled at once.
   */
  admission?: number;
  /** Batches processed at once (one per partition). Default FLOWHOOK_TOPIC_PARTITIONS, ≤ 32. */
  partitionsConsumedConcurrently?: number;
  /**
   * Bytes fetched per partition. Default 256 KiB: a few hundred jobs, about what a batch
   * starts within maxBatchMs when the process is busy; what it does not start is fetched again.
   */
  maxBytesPerPartition?: number;
}

type Emit = (topic: string, message: Message) => void;

interface Task {
  job: WebhookJob;
  /** The destination's host[:port], known once the attempt asks for a host slot. */
  host: string;
  message: KafkaMessage;
  /**
   * preparing → host_wait (queued for a host slot) → process_wait (queued for a process slot)
   * → sending → done | failed; aborted when given up in host_wait.
   */
  state: 'preparing' | 'host_wait' | 'process_wait' | 'sending' | 'done' | 'failed' | 'aborted';
  /** Set only when the job has to queue for its host (to give up on it at the deadline). */
  abort?: (reason: Error) => void;
  /** `abort` was called. */
  aborted?: boolean;
  sentAt: number;
  report?: AttemptReport;
  error?: unknown;
  promise: Promise<void>;
  /** Its fate is decided (outcome emitted, deferred or detached). */
  settled: boolean;
}

/** The jobs of one order key (profile, host) that one batch started, for later batches. */
interface OrderTail {
  batch: BatchInput;
  done: Promise<void>;
}

interface Lease {
  state: 'in_flight' | 'settled';
  /** When the lease copy is due. */
  untilMs: number;
  createdAt: number;
}

const LEASE_MARGIN_MS = 2000;
const LEASE_TTL_MS = 3_600_000;
const MAX_DEFER_MS = 300_000;
const ABORTED = 'flowhook: attempt given up before sending';

/** Profile and destination host: what per-person order applies to (undefined: none). */
function orderKey(job: WebhookJob): string | undefined {
  if (!job.profile_id) return undefined;
  let host: string;
  try {
    host = new URL(job.url).host;
  } catch {
    return undefined; // refused by the guard anyway
  }
  return `${job.profile_id}\u0000${host}`;
}

function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return undefined;
  return typeof first === 'string' ? first : first.toString('utf8');
}

/** The job message's headers that travel with the job (not the lease marker). */
function passthroughHeaders(headers: IHeaders | undefined): IHeaders {
  const out: IHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() !== LEASE_HEADER && value !== undefined) out[name] = value;
  }
  return out;
}

export class DeliveryRole implements Role {
  readonly name = 'delivery' as const;
  readonly groupId: string;
  readonly deps: DeliveryDeps;
  private readonly consumer: BatchConsumer;
  private readonly producer: Producer;
  private readonly baseSender: Sender;
  private readonly ownSender: WebhookSender | SenderPool | undefined;
  /** Requests in flight in the process (one shared key). */
  private readonly slots: HostLimiter;
  private readonly hostSlots: HostLimiter;
  private readonly detachAfterMs: number;
  private readonly maxBatchMs: number;
  private readonly admission: number;
  private admitted = 0;
  /** Batches waiting for admission, woken in turn as jobs finish. */
  private readonly waitingPumps = new Set<() => void>();
  private readonly deferMs: number;
  private readonly timeoutMs: number;
  private readonly leases = new Map<string, Lease>();
  /**
   * Per-person order at each destination (events are keyed by profile): a batch's job starts
   * once the attempts of earlier batches' jobs of the same profile to the same host have ended
   * (answered, failed or timed out; a detached attempt still counts until it ends). Jobs of one
   * batch still run side by side, other profiles and hosts do not wait, and the consumer still
   * fetches the next batch while a batch's attempts run. A retry is not held back for.
   */
  private readonly orderTails = new Map<string, OrderTail>();
  private readonly detached = new Set<Promise<void>>();
  private readonly latency = new Map<string, number>();
  private gaugeTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly ctx: RoleContext,
    options: DeliveryRoleOptions = {},
  ) {
    const { config } = ctx;
    const d = config.delivery;
    this.groupId = options.groupId ?? roleGroupId(config.topicPrefix, 'delivery');
    this.timeoutMs = options.deps?.timeoutMs ?? d.timeoutMs;
    this.detachAfterMs = options.detachAfterMs ?? Math.min(1000, this.timeoutMs);
    this.deferMs = options.deferMs ?? 1000;
    this.maxBatchMs = options.maxBatchMs ?? 2000;
    const concurrentBatches =
      options.partitionsConsumedConcurrently ?? Math.min(32, config.topicPartitions);
    this.admission = options.admission ?? d.concurrency + Math.max(4, Math.ceil(d.concurrency / 4));
    this.hostSlots = new HostLimiter({ maxPerHost: d.hostConcurrency });
    if (!options.deps?.sender) {
      const senderOptions = {
        timeoutMs: d.timeoutMs,
        maxBodyBytes: d.maxBodyBytes,
        maxSockets: d.hostConcurrency,
      };
      this.ownSender =
        d.threads > 0
          ? new SenderPool({
              ...senderOptions,
              threads: d.threads,
              allowlist: d.destinationAllowlist,
              allowHttp: d.allowHttp,
            })
          : new WebhookSender({
              ...senderOptions,
              policy: new DestinationPolicy({
                allowlist: d.destinationAllowlist,
                allowHttp: d.allowHttp,
              }),
            });
    }
    this.baseSender = options.deps?.sender ?? (this.ownSender as Sender);
    this.deps = {
      secrets: new SecretStore({ dir: d.secretsDir }),
      signingSecrets: d.signingSecrets,
      schedule: new RetrySchedule(d.retryScheduleMs),
      breaker: new CircuitBreaker({
        failureThreshold: d.circuitFailures,
        cooldownMs: d.circuitCooldownMs,
      }),
      limiter: this.hostSlots,
      maxBodyBytes: d.maxBodyBytes,
      timeoutMs: d.timeoutMs,
      ...options.deps,
      sender: this.baseSender,
    };
    this.slots = new HostLimiter({ maxPerHost: d.concurrency });
    this.consumer = new BatchConsumer(
      {
        groupId: this.groupId,
        topics: [ctx.topics.jobs],
        partitionsConsumedConcurrently: concurrentBatches,
        commitIntervalMs: config.commitIntervalMs,
        sessionTimeoutMs: config.kafka.sessionTimeoutMs,
        maxBytesPerPartition: options.maxBytesPerPartition ?? 256 * 1024,
      },
      { kafka: ctx.kafka, logger: ctx.logger, metrics: ctx.metrics },
    );
    this.producer = ctx.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 5,
      allowAutoTopicCreation: false,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    });
  }

  async start(): Promise<void> {
    await this.producer.connect();
    this.gaugeTimer = setInterval(() => this.updateCircuitGauge(), 1000);
    this.gaugeTimer.unref();
    await this.consumer.start((batch, outbox) => this.handle(batch, outbox));
  }

  isReady(): boolean {
    return this.consumer.isReady();
  }

  failure(): Error | undefined {
    return this.consumer.crashError;
  }

  private updateCircuitGauge(): void {
    this.ctx.metrics.circuitOpen.set(this.deps.breaker.openHosts(Date.now()).length);
    const now = Date.now();
    for (const [id, lease] of this.leases) {
      if (now - lease.createdAt > LEASE_TTL_MS) this.leases.delete(id);
    }
  }

  // ---- one batch ------------------------------------------------------------------------------

  private async handle(batch: BatchInput, outbox: Outbox): Promise<BatchResult> {
    const emit: Emit = (topic, message) => outbox.send(topic, message);
    const startedAt = Date.now();
    const messages = batch.messages;
    const active = new Set<Task>();
    let next = 0;
    let allStarted = (): void => undefined;
    const started = new Promise<void>((resolve) => (allStarted = resolve));

    const settled = new Promise<void>((allSettled, fail) => {
      // Called from timers and promise callbacks: a bug must fail the batch (it is then
      // processed again), not escape as an unhandled rejection.
      const guarded = (fn: () => void) => (): void => {
        try {
          fn();
        } catch (err) {
          fail(err);
        }
      };
      const settle = (task: Task, atDeadline: boolean): void => {
        if (task.settled) return;
        const later = guarded(() => settle(task, true));
        if (atDeadline && !this.decideAtDeadline(emit, task, later)) return;
        if (!atDeadline) this.emitOutcome(emit, task);
        task.settled = true;
        active.delete(task);
        this.admitted -= 1;
        this.wakeWaitingBatches();
        pump();
      };
      const pump = (): void => {
        while (
          next < messages.length &&
          batch.isRunning() &&
          Date.now() - startedAt < this.maxBatchMs
        ) {
          if (this.admitted >= this.admission) {
            this.waitingPumps.add(pump);
            return;
          }
          const message = messages[next++] as KafkaMessage;
          const decoded = decodeJob(message.value);
          if (!decoded.ok) {
            this.rejectMessage(emit, batch, message, decoded.reason, decoded.error);
            continue;
          }
          if (this.handledAsLease(emit, decoded.job, message)) continue;
          const task = this.startTask(decoded.job, message, batch);
          active.add(task);
          this.admitted += 1;
          const deadline = setTimeout(
            guarded(() => settle(task, true)),
            this.detachAfterMs,
          );
          void task.promise.then(
            guarded(() => {
              clearTimeout(deadline);
              settle(task, false);
            }),
          );
        }
        // Every job the batch takes is started: the consumer may fetch on.
        allStarted();
        if (active.size === 0) allSettled();
      };
      pump();
    }).finally(() => this.updateCircuitGauge());
    await Promise.race([started, settled]);
    return { processed: next, settled };
  }

  /** Lets batches that wait for admission start jobs, in the order they started waiting. */
  private wakeWaitingBatches(): void {
    for (const pump of this.waitingPumps) {
      if (this.admitted >= this.admission) return;
      this.waitingPumps.delete(pump);
      pump();
    }
  }

  /**
   * A job that has held its batch for detachAfterMs. Returns false when it keeps waiting
   * (`later` is then armed to look again).
   */
  private decideAtDeadline(emit: Emit, task: Task, later: () => void): boolean {
    switch (task.state) {
      case 'done':
      case 'failed':
        this.emitOutcome(emit, task);
        return true;
      case 'sending':
        this.detach(emit, task);
        return true;
      case 'host_wait': {
        task.abort?.(new Error(ABORTED));
        // Due when the host's queue should have drained: its slots × its recent latency.
        const queued = this.hostSlots.waiting(task.host) + 1;
        const rounds = Math.ceil(queued / this.hostSlots.maxPerHost);
        const drainMs = Math.min(rounds * (this.latency.get(task.host) ?? 100), MAX_DEFER_MS);
        this.defer(emit, task, 'host_busy', Date.now() + Math.max(this.deferMs, drainMs));
        return true;
      }
      default:
        // preparing, or waiting for a process slot: the process is busy, not the host.
        setTimeout(later, this.detachAfterMs);
        return false;
    }
  }

  private emitOutcome(emit: Emit, task: Task): void {
    if (task.state === 'done') {
      this.emitReport(emit, task);
      return;
    }
    this.ctx.logger.error(
      { err: task.error, ...this.logFields(task.job) },
      'unexpected error during an attempt; the job is sent back to a retry tier',
    );
    this.defer(emit, task, 'error', Date.now() + 5000);
  }

  /** A lease copy whose attempt ended (drop it) or is still running (park it again). */
  private handledAsLease(emit: Emit, job: WebhookJob, message: KafkaMessage): boolean {
    const id = headerText(message.headers, LEASE_HEADER);
    if (id === undefined) return false;
    const lease = this.leases.get(id);
    if (!lease) return false; // another instance's, or ours before a restart: attempt it
    if (lease.state === 'settled') {
      this.leases.delete(id);
      this.ctx.logger.debug(this.logFields(job), 'lease copy of a settled attempt dropped');
      return true;
    }
    this.ctx.metrics.webhookDeferred.inc({ cause: 'in_flight' });
    this.park(emit, job, message, Math.max(lease.untilMs, Date.now() + 1000), {
      [LEASE_HEADER]: id,
    });
    return true;
  }

  private startTask(job: WebhookJob, message: KafkaMessage, batch: BatchInput): Task {
    const task: Task = {
      job,
      host: '',
      message,
      state: 'preparing',
      sentAt: 0,
      promise: Promise.resolve(),
      settled: false,
    };
    const key = orderKey(job);
    const tail = key === undefined ? undefined : this.orderTails.get(key);
    const earlier = tail && tail.batch !== batch ? tail.done : undefined;
    const limiter: DeliveryDeps['limiter'] = {
      acquire: async (host) => {
        task.host = host;
        let release = this.hostSlots.tryAcquire(host);
        if (!release) {
          task.state = 'host_wait';
          const wait = this.hostSlots.wait(host);
          let reason: Error | undefined;
          task.abort = (error) => {
            if (task.aborted) return;
            task.aborted = true;
            reason = error;
            wait.cancel(error);
          };
          release = await wait.promise;
          if (task.aborted) {
            release();
            throw reason;
          }
        }
        task.state = 'process_wait';
        return release;
      },
    };
    const sender: Sender = {
      send: async (request) => {
        const release = await this.slots.acquire('*');
        task.state = 'sending';
        task.sentAt = Date.now();
        this.ctx.metrics.webhookInFlight.inc();
        try {
          return await this.baseSender.send(request);
        } finally {
          this.ctx.metrics.webhookInFlight.dec();
          release();
        }
      },
    };
    // Still 'preparing' while it waits: its deadline leaves it waiting, never detaches it.
    const attempt = () => deliverAttempt(job, { ...this.deps, limiter, sender });
    task.promise = (earlier ? earlier.then(attempt) : attempt()).then(
      (report) => {
        task.report = report;
        task.state = 'done';
        if (report.result && task.sentAt > 0) {
          this.observeLatency(task.host, report.result.durationMs);
        }
      },
      (error: unknown) => {
        if (task.aborted) {
          task.state = 'aborted';
        } else {
          task.error = error;
          task.state = 'failed';
        }
      },
    );
    if (key !== undefined) this.recordOrder(key, tail, batch, task.promise);
    return task;
  }

  /** The batch's jobs of `key` so far, for later batches to wait on (their attempts' ends). */
  private recordOrder(
    key: string,
    tail: OrderTail | undefined,
    batch: BatchInput,
    done: Promise<void>,
  ): void {
    const entry: OrderTail = {
      batch,
      done: tail?.batch === batch ? Promise.all([tail.done, done]).then(() => undefined) : done,
    };
    this.orderTails.set(key, entry);
    void entry.done.then(() => {
      if (this.orderTails.get(key) === entry) this.orderTails.delete(key);
    });
  }

  /** Moving average of a host's attempt durations (for spreading its backlog). */
  private observeLatency(host: string, durationMs: number): void {
    const previous = this.latency.get(host);
    if (previous === undefined && this.latency.size >= 10_000) this.latency.clear();
    this.latency.set(host, previous === undefined ? durationMs : previous * 0.8 + durationMs * 0.2);
  }

  // ---- outcomes -------------------------------------------------------------------------------

  private logFields(job: WebhookJob): Record<string, unknown> {
    return { flow_id: job.flow_id, job_id: job.id, attempt: job.attempt };
  }

  private emitReport(emit: Emit, task: Task): void {
    const report = task.report as AttemptReport;
    const { decision, job, record } = report;
    const { metrics, topics, logger } = this.ctx;
    if (record) {
      emit(topics.deliveries, { key: job.id, value: JSON.stringify(record) });
      metrics.webhookAttempts.inc({
        flow_id: job.flow_id,
        outcome: record.outcome,
        status_class: report.classification?.statusClass ?? 'error',
      });
      metrics.webhookAttemptDuration.observe(record.duration_ms / 1000);
    }
    if (job.await_outcome && (decision.kind === 'delivered' || decision.kind === 'dead')) {
      // The flow's next step waits for this: the trigger resumes the walk (once, whatever the
      // number of copies of this record).
      const outcome: JobOutcome = {
        job_id: job.id,
        flow_id: job.flow_id,
        action_id: job.action_id,
        event_id: job.event_id,
        profile_id: job.profile_id,
        outcome: decision.kind === 'delivered' ? 'delivered' : 'failed',
        time: new Date().toISOString(),
      };
      emit(topics.outcomes, { key: job.profile_id, value: JSON.stringify(outcome) });
    }
    switch (decision.kind) {
      case 'delivered': {
        metrics.webhookDelivered.inc({ flow_id: job.flow_id });
        const eventTime = job.event_time === undefined ? NaN : Date.parse(job.event_time);
        if (Number.isFinite(eventTime)) {
          metrics.webhookEndToEnd.observe(Math.max(0, Date.now() - eventTime) / 1000);
        }
        if (logger.isLevelEnabled('debug')) {
          logger.debug(
            {
              ...this.logFields(job),
              status_code: record?.status_code,
              duration_ms: record?.duration_ms,
            },
            'webhook delivered',
          );
        }
        break;
      }
      case 'retry': {
        metrics.webhookRetriesScheduled.inc({ tier: decision.tier });
        this.park(emit, job, task.message, Date.parse(decision.notBefore), {}, decision.tier);
        logger.info(
          {
            ...this.logFields(job),
            status_code: record?.status_code,
            error_class: record?.error_class,
            reason: report.classification?.reason,
            retry_in_ms: decision.delayMs,
            tier: decision.tier,
          },
          'webhook attempt failed; retry scheduled',
        );
        break;
      }
      case 'wait': {
        metrics.webhookDeferred.inc({ cause: decision.cause });
        this.park(emit, job, task.message, decision.untilMs, {}, decision.tier);
        logger.debug(
          { ...this.logFields(job), cause: decision.cause, until_ms: decision.untilMs },
          'job parked',
        );
        break;
      }
      case 'dead': {
        metrics.webhookFailed.inc({ flow_id: job.flow_id, reason: decision.reason });
        metrics.webhookDlq.inc({ reason: decision.reason });
        emit(topics.dlq, deadLetterMessage(decision.deadLetter));
        logger.warn(
          {
            ...this.logFields(job),
            reason: decision.reason,
            error_code: decision.code,
            status_code: record?.status_code,
            last_error: job.last_error,
            headers: redactHeaders(job.headers, report.secretHeaderNames),
          },
          'webhook failed for good; sent to the DLQ',
        );
        break;
      }
    }
  }

  /** Puts a job on a retry tier, due at `notBeforeMs`, to come back to flowhook.jobs. */
  private park(
    emit: Emit,
    job: WebhookJob,
    message: KafkaMessage,
    notBeforeMs: number,
    extraHeaders: IHeaders = {},
    tier?: string,
  ): void {
    const due = Number.isFinite(notBeforeMs) ? notBeforeMs : Date.now();
    const parked: WebhookJob = { ...job, not_before: new Date(due).toISOString() };
    const delayed = delayedMessage(
      {
        target: this.ctx.topics.jobs,
        notBefore: due,
        key: message.key ?? job.id,
        value: JSON.stringify(parked),
        headers: { ...passthroughHeaders(message.headers), ...extraHeaders },
      },
      this.ctx.topics.retry,
      tier,
    );
    this.ctx.metrics.delayScheduled.inc({ queue: 'retry', tier: delayed.tier });
    emit(delayed.topic, delayed.message);
  }

  /** Sends a job back unattempted (no free slot, or an unexpected error). */
  private defer(emit: Emit, task: Task, cause: string, dueMs: number): void {
    this.ctx.metrics.webhookDeferred.inc({ cause });
    // The job as it was read: nothing was attempted.
    const job: WebhookJob = { ...task.job };
    delete job.not_before;
    this.park(emit, job, task.message, dueMs);
  }

  private detach(emit: Emit, task: Task): void {
    const id = randomUUID();
    const untilMs = task.sentAt + this.timeoutMs + LEASE_MARGIN_MS;
    const lease: Lease = { state: 'in_flight', untilMs, createdAt: Date.now() };
    this.leases.set(id, lease);
    this.ctx.metrics.webhookDetached.inc();
    this.ctx.logger.debug(this.logFields(task.job), 'attempt still in flight: detached');
    this.park(emit, task.job, task.message, untilMs, { [LEASE_HEADER]: id });
    const settle = task.promise
      .then(async () => {
        if (task.state !== 'done') {
          // No outcome to produce: the lease copy will attempt the job again.
          this.leases.delete(id);
          return;
        }
        const pending = new Map<string, Message[]>();
        this.emitReport((topic, message) => {
          const list = pending.get(topic) ?? [];
          list.push(message);
          pending.set(topic, list);
        }, task);
        await this.producer.sendBatch({
          topicMessages: [...pending].map(([topic, messages]) => ({ topic, messages })),
          acks: -1,
        });
        lease.state = 'settled';
      })
      .catch((err: unknown) => {
        this.leases.delete(id);
        this.ctx.logger.error(
          { err, ...this.logFields(task.job) },
          'could not produce the outcome of a detached attempt; its lease copy will retry it',
        );
      })
      .finally(() => this.detached.delete(settle));
    this.detached.add(settle);
  }

  private rejectMessage(
    emit: Emit,
    batch: BatchInput,
    message: KafkaMessage,
    reason: string,
    error: string,
  ): void {
    this.ctx.metrics.webhookDlq.inc({ reason: 'invalid_job' });
    this.ctx.logger.error(
      { topic: batch.topic, partition: batch.partition, offset: message.offset, reason },
      `invalid job sent to the DLQ: ${error}`,
    );
    emit(
      this.ctx.topics.dlq,
      rejectedMessage({
        reason: 'invalid_job',
        errorCode: TopicSchemaError.code,
        error: `${reason}: ${error}`,
        topic: batch.topic,
        partition: batch.partition,
        message,
      }),
    );
  }

  stop(): Promise<void> {
    this.closing ??= (async () => {
      await this.consumer.stop();
      // Detached attempts end within their timeout; produce their outcomes before leaving.
      await Promise.all([...this.detached]);
      if (this.gaugeTimer) clearInterval(this.gaugeTimer);
      await this.producer
        .disconnect()
        .catch((err: unknown) => this.ctx.logger.warn({ err }, 'disconnecting producer'));
      await this.ownSender?.close();
    })();
    return this.closing;
  }
}
