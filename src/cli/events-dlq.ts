// `flowhook events dlq list|replay [--reason R] [--since T] [--json]`: the way back for events
// that could not be used (a schema fixed since, a template timeout that was retriable).
//
// Both read flowhook.events.dlq to the end it had when reading began. Replay re-publishes each
// matching record to the topic it came from as it was: same key, same value bytes, the
// original headers (without the flowhook-dlq-* ones) and the original timestamp. So the event
// decodes to the same id (also a derived one, which uses the record time when the event has
// none) and per-profile dedup still holds.

import { parseArgs } from 'node:util';
import type { IHeaders, Kafka, KafkaMessage, Message } from 'kafkajs';
import { DLQ_HEADERS } from '../dead-letter/headers';
import { CompactedTopicReader } from '../kafka/compacted-reader';
import type { TopicNames } from '../kafka/topics';
import type { Logger } from '../observability/logger';
import { parseSince } from './dlq';
import { cliKafka, cliLogger, type CommandIo } from './io';

export const EVENTS_DLQ_USAGE = `Usage:
  flowhook events dlq list [--reason REASON] [--since TIME] [--json] [--config FILE]
  flowhook events dlq replay [--reason REASON] [--since TIME] [--config FILE]
      TIME: an ISO-8601 time, or a duration back from now (30m, 2h, 7d).`;

export interface EventsDlqContext {
  kafka: Kafka;
  topics: Pick<TopicNames, 'eventsDlq'>;
  logger?: Logger;
}

export interface EventsDlqFilter {
  reason?: string;
  /** Only records dead-lettered at or after this time (ms since the epoch). */
  sinceMs?: number;
}

/** One line of `events dlq list`. */
export interface EventsDlqSummary {
  reason: string;
  error: string;
  failed_at: string | null;
  /** The event's own id when its value says one (canonical `id`, Klaviyo `unique_id`). */
  event_id: string | null;
  source_topic: string | null;
  source_partition: number | null;
  source_offset: string | null;
  flow_id: string | null;
  partition: number;
  offset: string;
}

interface EventsDlqRecord {
  partition: number;
  offset: string;
  message: KafkaMessage;
}

const header = (message: KafkaMessage, name: string): string | null => {
  const v = message.headers?.[name];
  if (v === undefined || v === null) return null;
  return (Array.isArray(v) ? v[0] : v)?.toString() ?? null;
};

function eventIdOf(value: Buffer | null): string | null {
  try {
    const doc = JSON.parse(value?.toString('utf8') ?? '') as {
      id?: unknown;
      data?: { attributes?: { unique_id?: unknown } };
    };
    const id = doc.id ?? doc.data?.attributes?.unique_id;
    return typeof id === 'string' && id !== '' ? id : null;
  } catch {
    return null;
  }
}

function summarize(record: EventsDlqRecord): EventsDlqSummary {
  const m = record.message;
  const partition = header(m, DLQ_HEADERS.partition);
  return {
    reason: header(m, DLQ_HEADERS.reason) ?? 'unknown',
    error: header(m, DLQ_HEADERS.error) ?? '',
    failed_at: header(m, DLQ_HEADERS.failedAt),
    event_id: eventIdOf(m.value),
    source_topic: header(m, DLQ_HEADERS.topic),
    source_partition: partition === null ? null : Number(partition),
    source_offset: header(m, DLQ_HEADERS.offset),
    flow_id: header(m, DLQ_HEADERS.flowId),
    partition: record.partition,
    offset: record.offset,
  };
}

function matches(summary: EventsDlqSummary, filter: EventsDlqFilter): boolean {
  if (filter.reason !== undefined && summary.reason !== filter.reason) return false;
  if (filter.sinceMs !== undefined) {
    const at = summary.failed_at === null ? NaN : Date.parse(summary.failed_at);
    if (!(at >= filter.sinceMs)) return false;
  }
  return true;
}

async function readEventsDlq(ctx: EventsDlqContext): Promise<EventsDlqRecord[]> {
  const reader = new CompactedTopicReader(
    ctx.kafka,
    { topic: ctx.topics.eventsDlq, groupPrefix: 'flowhook-cli-events-dlq' },
    ctx.logger ?? cliLogger(),
  );
  const records: EventsDlqRecord[] = [];
  let done = false;
  try {
    await reader.start((r) => {
      if (!done) records.push({ partition: r.partition, offset: r.offset, message: r.message });
    });
  } finally {
    done = true;
    await reader.stop();
  }
  return records;
}

export async function eventsDlqList(
  ctx: EventsDlqContext,
  filter: EventsDlqFilter = {},
): Promise<EventsDlqSummary[]> {
  return (await readEventsDlq(ctx)).map(summarize).filter((s) => matches(s, filter));
}

/** The record as it was before it was dead-lettered. */
export function originalMessage(message: KafkaMessage): Message {
  const headers: IHeaders = {};
  const own = new Set<string>(Object.values(DLQ_HEADERS));
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (!own.has(name) && value !== undefined) headers[name] = value;
  }
  return {
    key: message.key,
    value: message.value,
    headers,
    timestamp: header(message, DLQ_HEADERS.timestamp) ?? message.timestamp,
  };
}

export interface EventsReplayResult {
  /** Records re-published, per source topic. */
  replayed: Record<string, number>;
  /** Matching records without a source topic header or cut to fit: they cannot be replayed. */
  notReplayable: number;
}

export async function eventsDlqReplay(
  ctx: EventsDlqContext,
  filter: EventsDlqFilter = {},
): Promise<EventsReplayResult> {
  const byTopic = new Map<string, Message[]>();
  let notReplayable = 0;
  for (const record of await readEventsDlq(ctx)) {
    const summary = summarize(record);
    if (!matches(summary, filter)) continue;
    if (summary.source_topic === null || header(record.message, DLQ_HEADERS.truncated) !== null) {
      notReplayable += 1;
      continue;
    }
    const list = byTopic.get(summary.source_topic) ?? [];
    list.push(originalMessage(record.message));
    byTopic.set(summary.source_topic, list);
  }
  if (byTopic.size > 0) {
    const producer = ctx.kafka.producer({ idempotent: true, allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    } finally {
      await producer.disconnect();
    }
  }
  return {
    replayed: Object.fromEntries([...byTopic].map(([t, m]) => [t, m.length])),
    notReplayable,
  };
}

export async function eventsDlqCommand(argv: string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'list' && sub !== 'replay') {
    io.err(sub ? `unknown events dlq command "${sub}"\n\n${EVENTS_DLQ_USAGE}` : EVENTS_DLQ_USAGE);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      reason: { type: 'string' },
      since: { type: 'string' },
      json: { type: 'boolean', default: false },
      config: { type: 'string' },
    },
    strict: true,
  });
  const filter: EventsDlqFilter = {};
  if (values.reason !== undefined) filter.reason = values.reason;
  if (values.since !== undefined) filter.sinceMs = parseSince(values.since);
  const { kafka, topics } = cliKafka(process.env, values.config);
  if (sub === 'list') {
    const rows = await eventsDlqList({ kafka, topics }, filter);
    if (values.json) io.out(JSON.stringify(rows, null, 2));
    else {
      for (const r of rows) {
        io.out(
          `${r.failed_at ?? '-'}  ${r.reason}  ${r.event_id ?? '-'}  ${r.source_topic ?? '-'}:${r.source_partition ?? '-'}@${r.source_offset ?? '-'}  ${r.error}`,
        );
      }
      io.err(`${rows.length} record${rows.length === 1 ? '' : 's'} in ${topics.eventsDlq}`);
    }
    return 0;
  }
  const result = await eventsDlqReplay({ kafka, topics }, filter);
  const total = Object.values(result.replayed).reduce((a, b) => a + b, 0);
  const where = Object.entries(result.replayed).map(([t, n]) => `${n} to ${t}`);
  io.out(
    `replayed ${total} event${total === 1 ? '' : 's'}${where.length ? ` (${where.join(', ')})` : ''}`,
  );
  if (result.notReplayable > 0) {
    io.err(
      `${result.notReplayable} matching record(s) name no source topic or hold a cut value, and were not replayed`,
    );
  }
  return 0;
}
