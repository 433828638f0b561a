// The webhook DLQ (flowhook.dlq): list and replay, shared by `flowhook dlq` and the admin API.
//
// Both read flowhook.dlq from its beginning to the end offsets it had when reading started (the
// same "read to the end captured at start" logic as the flow table, via CompactedTopicReader;
// the DLQ is not compacted, the logic does not care). Replay re-enqueues the matching dead jobs
// on flowhook.jobs with a fresh attempt budget: attempt 0, no not_before, the history kept, the
// same job id — so the receiver sees the same webhook-id. A job that failed several times
// (replayed, failed again) is replayed once, from its latest entry.

import type { Kafka } from 'kafkajs';
import { parseDuration } from '../duration';
import { parseDlqEntry, type DlqEntry } from '../dead-letter/jobs';
import type { WebhookJob } from '../documents';
import { ConfigError } from '../errors';
import { CompactedTopicReader } from '../kafka/compacted-reader';
import type { TopicNames } from '../kafka/topics';
import { createLogger, type Logger } from '../observability/logger';

export interface DlqContext {
  kafka: Kafka;
  topics: Pick<TopicNames, 'dlq' | 'jobs'>;
  /** Default: silent. */
  logger?: Logger;
}

export interface DlqRecord {
  partition: number;
  offset: string;
  key: string | null;
  entry: DlqEntry;
}

/** One line of `dlq list`. */
export interface DlqSummary {
  job_id: string | null;
  flow_id: string | null;
  reason: string;
  error_code: string | null;
  attempts: number;
  failed_at: string | null;
  last_error: string | null;
  url: string | null;
  partition: number;
  offset: string;
}

export interface DlqFilter {
  flow?: string;
  /** Only entries that failed at or after this time (ms since the epoch). */
  sinceMs?: number;
}

/** Every entry of the DLQ up to its end when reading began, in offset order per partition. */
export async function readDlq(ctx: DlqContext): Promise<DlqRecord[]> {
  const reader = new CompactedTopicReader(
    ctx.kafka,
    { topic: ctx.topics.dlq, groupPrefix: 'flowhook-dlq-reader' },
    ctx.logger ?? createLogger('silent'),
  );
  const records: DlqRecord[] = [];
  let done = false;
  try {
    await reader.start((record) => {
      if (done) return;
      records.push({
        partition: record.partition,
        offset: record.offset,
        key: record.key,
        entry: parseDlqEntry(record.value),
      });
    });
  } finally {
    done = true;
    await reader.stop();
  }
  return records;
}

function summarize(record: DlqRecord): DlqSummary {
  const base = { partition: record.partition, offset: record.offset };
  const e = record.entry;
  if (e.kind === 'job') {
    const job = e.letter.job;
    return {
      ...base,
      job_id: job.id,
      flow_id: job.flow_id,
      reason: e.letter.reason,
      error_code: e.letter.error_code,
      attempts: job.history?.length ?? job.attempt,
      failed_at: e.letter.failed_at,
      last_error: job.last_error ?? null,
      url: job.url,
    };
  }
  if (e.kind === 'rejected') {
    return {
      ...base,
      job_id: record.key,
      flow_id: null,
      reason: e.letter.reason,
      error_code: e.letter.error_code,
      attempts: 0,
      failed_at: e.letter.failed_at,
      last_error: e.letter.error,
      url: null,
    };
  }
  return {
    ...base,
    job_id: record.key,
    flow_id: null,
    reason: 'unreadable',
    error_code: null,
    attempts: 0,
    failed_at: null,
    last_error: null,
    url: null,
  };
}

function matches(summary: DlqSummary, filter: DlqFilter): boolean {
  if (filter.flow !== undefined && summary.flow_id !== filter.flow) return false;
  if (filter.sinceMs !== undefined) {
    const at = summary.failed_at === null ? NaN : Date.parse(summary.failed_at);
    if (!(at >= filter.sinceMs)) return false;
  }
  return true;
}

export async function dlqList(ctx: DlqContext, filter: DlqFilter = {}): Promise<DlqSummary[]> {
  return (await readDlq(ctx)).map(summarize).filter((s) => matches(s, filter));
}

export interface ReplayResult {
  /** Jobs re-enqueued on flowhook.jobs. */
  replayed: number;
  /** Job ids replayed. */
  jobIds: string[];
  /** Matching entries that are not jobs (invalid messages): they cannot be replayed. */
  notReplayable: number;
}

/** The job as it is re-enqueued: a fresh attempt budget, history and webhook-id kept. */
export function replayedJob(job: WebhookJob): WebhookJob {
  const fresh: WebhookJob = { ...job, attempt: 0 };
  delete fresh.not_before;
  return fresh;
}

export async function dlqReplay(ctx: DlqContext, filter: DlqFilter = {}): Promise<ReplayResult> {
  const latest = new Map<string, WebhookJob>();
  let notReplayable = 0;
  for (const record of await readDlq(ctx)) {
    const summary = summarize(record);
    if (!matches(summary, filter)) continue;
    if (record.entry.kind !== 'job') {
      notReplayable += 1;
      continue;
    }
    const job = record.entry.letter.job;
    latest.delete(job.id); // re-insert: the latest entry wins and keeps offset order
    latest.set(job.id, job);
  }
  if (latest.size > 0) {
    const producer = ctx.kafka.producer({ idempotent: true, allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await producer.send({
        topic: ctx.topics.jobs,
        acks: -1,
        messages: [...latest.values()].map((job) => ({
          key: job.id,
          value: JSON.stringify(replayedJob(job)),
          headers: { 'flowhook-replayed-at': new Date().toISOString() },
        })),
      });
    } finally {
      await producer.disconnect();
    }
  }
  return { replayed: latest.size, jobIds: [...latest.keys()], notReplayable };
}

/** `--since`: an ISO-8601 time (or epoch ms), or a duration back from now. */
export function parseSince(text: string, now = Date.now()): number {
  const t = text.trim();
  const duration = /[a-z]$/i.test(t) && !/^\d{4}-/.test(t) ? parseDuration(t) : undefined;
  if (duration !== undefined) return now - duration;
  const at = /^\d+$/.test(t) ? Number(t) : Date.parse(t);
  if (Number.isNaN(at)) {
    throw new ConfigError([
      { name: '--since', value: text, allowed: 'an ISO-8601 time or a duration such as 2h' },
    ]);
  }
  return at;
}
