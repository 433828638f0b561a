// From what flowhook already writes to activity records (pure functions, no Kafka):
//   flowhook.jobs        a new job (attempt 0)        → entered (the webhook action; its request is scheduled)
//   flowhook.deliveries  one record per attempt       → attempted, then delivered | scheduled_retry | failed
//   flowhook.dlq         a dead job                   → dead_lettered (reason)
//   flowhook.activity    written by the trigger and the review actions as ActivityRecords already.
// Record ids are derived from the fact itself, never from the Kafka offset, so a fact produced
// twice (a replay, a detached attempt's lease copy) is stored once. Within one job and one
// time the ids sort in lifecycle order, which keeps "newest first" readable on ties.

import type { DeadLetter, DeliveryRecord, WebhookJob } from '../documents';
import { ACTIVITY_STATUSES, type ActivityRecord, type ActivityStatus } from './types';

/** Longest response excerpt kept in the store. */
export const RESPONSE_EXCERPT_CHARS = 500;
/** Longest error text kept in the store. */
const ERROR_CHARS = 1000;

export type ActivitySource = 'jobs' | 'deliveries' | 'dlq' | 'activity';

function excerpt(text: string | undefined, max: number): string | undefined {
  if (text === undefined || text === '') return undefined;
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): v is string {
  return typeof v === 'string' && v !== '';
}

const pad = (n: number): string => String(n).padStart(4, '0');

export function fromJob(job: WebhookJob, time: string): ActivityRecord[] {
  // Retries come back through flowhook.jobs with attempt > 0: the deliveries topic tells those.
  if (job.attempt !== 0) return [];
  return [
    {
      id: `${job.id}/0000/0-entered`,
      time,
      status: 'entered',
      flow_id: job.flow_id,
      flow_version: job.flow_version,
      action_id: job.action_id,
      profile_id: job.profile_id,
      event_id: job.event_id,
      job_id: job.id,
    },
  ];
}

export function fromDelivery(record: DeliveryRecord): ActivityRecord[] {
  const base = {
    flow_id: record.flow_id,
    action_id: record.action_id,
    job_id: record.job_id,
    attempt: record.attempt,
    time: record.time,
    ...(record.profile_id !== undefined && { profile_id: record.profile_id }),
    ...(record.event_id !== undefined && { event_id: record.event_id }),
  };
  const prefix = `${record.job_id}/${pad(record.attempt)}`;
  const error = excerpt(record.error ?? record.error_class, ERROR_CHARS);
  const attempted: ActivityRecord = {
    ...base,
    id: `${prefix}/1-attempted/${record.time}`,
    status: 'attempted',
    duration_ms: record.duration_ms,
  };
  if (record.status_code !== undefined) attempted.http_status = record.status_code;
  if (error !== undefined) attempted.error = error;
  const body = excerpt(record.response_body, RESPONSE_EXCERPT_CHARS);
  if (body !== undefined) attempted.response_excerpt = body;
  const out: ActivityRecord[] = [attempted];
  const next = `${prefix}/2-`;
  if (record.outcome === 'delivered') {
    out.push({ ...base, id: `${next}delivered/${record.time}`, status: 'delivered' });
  } else if (record.outcome === 'retrying') {
    const retry: ActivityRecord = {
      ...base,
      id: `${next}scheduled_retry/${record.time}`,
      status: 'scheduled_retry',
    };
    if (record.next_attempt_at !== undefined) retry.due_at = record.next_attempt_at;
    out.push(retry);
  } else if (record.outcome === 'failed') {
    const failed: ActivityRecord = {
      ...base,
      id: `${next}failed/${record.time}`,
      status: 'failed',
    };
    if (error !== undefined) failed.error = error;
    out.push(failed);
  }
  return out;
}

export function fromDeadLetter(letter: DeadLetter): ActivityRecord[] {
  const { job } = letter;
  return [
    {
      id: `${job.id}/${pad(job.attempt)}/3-dead_lettered/${letter.failed_at}`,
      time: letter.failed_at,
      status: 'dead_lettered',
      flow_id: job.flow_id,
      flow_version: job.flow_version,
      action_id: job.action_id,
      profile_id: job.profile_id,
      event_id: job.event_id,
      job_id: job.id,
      attempt: job.attempt,
      reason: letter.reason,
      ...(job.last_error !== undefined && { error: excerpt(job.last_error, ERROR_CHARS) }),
    },
  ];
}

const STATUSES: ReadonlySet<string> = new Set(ACTIVITY_STATUSES);

/** Checks a record read from flowhook.activity: every field of the right type, or undefined. */
export function checkActivityRecord(v: unknown): ActivityRecord | undefined {
  if (!isObject(v) || !str(v.id) || !str(v.flow_id) || !str(v.status)) return undefined;
  if (!STATUSES.has(v.status) || !str(v.time) || Number.isNaN(Date.parse(v.time))) return undefined;
  const out: ActivityRecord = {
    id: v.id,
    time: v.time,
    status: v.status as ActivityStatus,
    flow_id: v.flow_id,
  };
  for (const k of [
    'action_id',
    'profile_id',
    'email',
    'event_id',
    'job_id',
    'error',
    'response_excerpt',
    'reason',
    'due_at',
    'actor',
  ] as const) {
    if (str(v[k])) out[k] = v[k];
  }
  for (const k of ['flow_version', 'attempt', 'http_status', 'duration_ms'] as const) {
    const n = v[k];
    if (typeof n === 'number' && Number.isFinite(n)) out[k] = n;
  }
  return out;
}

/**
 * The activity records of one Kafka record; [] when it tells nothing (a retried job, a DLQ entry
 * that never became a job), undefined when it cannot be read (counted by the caller, skipped).
 */
export function activityFromMessage(
  source: ActivitySource,
  value: Buffer | null,
  timestamp: string,
): ActivityRecord[] | undefined {
  if (value === null) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(parsed)) return undefined;
  switch (source) {
    case 'jobs': {
      if (!str(parsed.id) || !str(parsed.flow_id) || typeof parsed.attempt !== 'number')
        return undefined;
      const time = new Date(Number(timestamp)).toISOString();
      return fromJob(parsed as unknown as WebhookJob, time);
    }
    case 'deliveries':
      if (!str(parsed.job_id) || !str(parsed.flow_id) || !str(parsed.time)) return undefined;
      if (typeof parsed.attempt !== 'number') return undefined;
      return fromDelivery(parsed as unknown as DeliveryRecord);
    case 'dlq': {
      const job = parsed.job;
      // A RejectedMessage never became a job: nothing of a flow's activity.
      if (!isObject(job)) return str(parsed.reason) ? [] : undefined;
      if (!str(job.id) || !str(job.flow_id) || !str(parsed.failed_at)) return undefined;
      return fromDeadLetter(parsed as unknown as DeadLetter);
    }
    case 'activity': {
      const record = checkActivityRecord(parsed);
      return record === undefined ? undefined : [record];
    }
  }
}
