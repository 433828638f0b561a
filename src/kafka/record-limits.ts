// How large a record a topic takes, and a guard that keeps records over it out of a task's
// transaction. The broker refuses a record batch above the topic's max.message.bytes
// (MESSAGE_TOO_LARGE), which fails the whole transaction; retried, it fails again, so one
// oversized record would stall its partition forever. Records are measured before they are
// produced instead, and the caller decides what becomes of one that does not fit.

import type { Kafka, Message } from 'kafkajs';
import { ConfigResourceTypes } from './kafkajs';
import type { Logger } from '../observability/logger';
import type { ProcessorContext } from './processor';
import type { TimerService, Timer } from './timers';
import { timerChangelogRecord } from './timers';

/**
 * max.message.bytes of the topics flowhook creates. The largest record flowhook derives from
 * an event embeds the whole event (a delay timer or resume record, an events-DLQ copy), and
 * events may be 5 MiB (Klaviyo's limit); 8 MiB leaves room for the JSON around it, headers
 * and escaping.
 */
export const OWNED_TOPIC_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** The broker's default message.max.bytes: what a topic without an override takes. */
export const BROKER_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/**
 * Kept free on topics whose records are copied onward with more added: a job's retry copies
 * and its dead letter carry its attempt history, so a job must leave room for it.
 */
export const COPY_HEADROOM_BYTES = 64 * 1024;

/** v2 record batch header, base offset and length included (Kafka's RECORD_BATCH_OVERHEAD). */
const BATCH_OVERHEAD = 61;
/** Varint length prefixes count at their largest (5 bytes; 10 for the timestamp delta). */
const RECORD_OVERHEAD = 5 + 1 + 10 + 5 + 5 + 5 + 5;

function byteLength(v: Buffer | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}

/** Upper bound of the size of a record batch holding only this record (uncompressed). */
export function recordBatchBytes(message: Message): number {
  let size = BATCH_OVERHEAD + RECORD_OVERHEAD + byteLength(message.key) + byteLength(message.value);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) size += 10 + Buffer.byteLength(name) + byteLength(v);
  }
  return size;
}

export interface RecordTooLarge {
  topic: string;
  bytes: number;
  limit: number;
}

/** Largest record batch per topic; topics not listed take the broker default. */
export class RecordLimits {
  constructor(
    private readonly limits: ReadonlyMap<string, number> = new Map(),
    private readonly fallback = BROKER_DEFAULT_MAX_MESSAGE_BYTES,
  ) {}

  limit(topic: string): number {
    return this.limits.get(topic) ?? this.fallback;
  }

  /** These limits with `bytes` kept free on `topics` (see COPY_HEADROOM_BYTES). */
  reserving(topics: string[], bytes: number): RecordLimits {
    const limits = new Map(this.limits);
    for (const t of topics) limits.set(t, Math.max(0, this.limit(t) - bytes));
    return new RecordLimits(limits, this.fallback);
  }

  /** Undefined when the record fits its topic. */
  check(topic: string, message: Message): RecordTooLarge | undefined {
    const limit = this.limit(topic);
    const bytes = recordBatchBytes(message);
    return bytes > limit ? { topic, bytes, limit } : undefined;
  }
}

/**
 * The effective max.message.bytes of these topics (their override, else the broker's
 * message.max.bytes), as the cluster has them now: topics created by an operator or by an
 * earlier version may take less than OWNED_TOPIC_MAX_MESSAGE_BYTES, which is logged once.
 */
export async function readRecordLimits(
  kafka: Kafka,
  topics: string[],
  logger: Logger,
): Promise<RecordLimits> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({
        type: ConfigResourceTypes.TOPIC,
        name,
        configNames: ['max.message.bytes'],
      })),
    });
    const limits = new Map<string, number>();
    for (const resource of described.resources) {
      const entry = resource.configEntries.find((e) => e.configName === 'max.message.bytes');
      const value = Number(entry?.configValue);
      if (resource.errorCode === 0 && Number.isSafeInteger(value) && value > 0)
        limits.set(resource.resourceName, value);
    }
    const small = [...limits].filter(([, bytes]) => bytes < OWNED_TOPIC_MAX_MESSAGE_BYTES);
    if (small.length > 0) {
      logger.warn(
        { topics: Object.fromEntries(small), wanted: OWNED_TOPIC_MAX_MESSAGE_BYTES },
        'topics take smaller records than flowhook derives from large events: those are ' +
          'dead-lettered (record_too_large); raise their max.message.bytes to take them',
      );
    }
    return new RecordLimits(limits);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export interface BoundedContextOptions {
  limits: RecordLimits;
  /** Changelog topic of the context's timers: a timer too large for it is not set. */
  timersChangelogTopic?: string;
  /**
   * Topics whose records are made to fit rather than refused (a dead-letter copy whose
   * payload can be cut), by a function given the record and the topic's limit.
   */
  fit?: ReadonlyMap<string, (message: Message, limit: number) => Message>;
  /** A record (or timer) that does not fit: it is not produced; `message` is what it was. */
  onTooLarge(tooLarge: RecordTooLarge, message: Message): void;
}

/**
 * The context with every emit and timer bounded by the topics' limits: what fits goes through
 * unchanged, what does not is handed to onTooLarge instead of failing the transaction.
 */
export function boundedContext(
  context: ProcessorContext,
  options: BoundedContextOptions,
): ProcessorContext {
  const { limits, fit, onTooLarge, timersChangelogTopic } = options;
  const emit = (topic: string, message: Message): void => {
    const fitted = fit?.get(topic)?.(message, limits.limit(topic)) ?? message;
    const tooLarge = limits.check(topic, fitted);
    if (tooLarge) onTooLarge(tooLarge, message);
    else context.emit(topic, fitted);
  };
  return {
    partition: context.partition,
    now: () => context.now(),
    store: (spec) => context.store(spec),
    get timers(): TimerService {
      const timers = context.timers;
      if (timersChangelogTopic === undefined) return timers;
      return boundedTimers(timers, (timer) => {
        const record = timerChangelogRecord(timer);
        const tooLarge = limits.check(timersChangelogTopic, record);
        if (tooLarge) onTooLarge(tooLarge, record);
        return tooLarge === undefined;
      });
    },
    emit,
    pauseUntil: (dueMs) => context.pauseUntil(dueMs),
  };
}

/** The timer service with schedule() guarded by `fits` (everything else is the service's). */
function boundedTimers(timers: TimerService, fits: (timer: Timer) => boolean): TimerService {
  const bounded = Object.create(timers) as TimerService;
  bounded.schedule = <P>(timer: Timer<P>): void => {
    if (fits(timer as Timer)) timers.schedule(timer);
  };
  return bounded;
}
