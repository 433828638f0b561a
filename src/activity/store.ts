// The activity store: a materialised view of the activity topics, queryable by the admin API.
// Two backends share this contract and the SQL in sql.ts: SQLite (embedded, one file per
// replica) and PostgreSQL (one database for every replica). Pagination is keyset on
// (time, id), newest first; the cursor is opaque to callers.

import { ActivityQueryError } from '../errors';
import {
  ACTIVITY_STATUSES,
  type ActivityFilter,
  type ActivityReader,
  type ActivityRecord,
  type ActivityStatus,
  type ReviewItem,
} from './types';

/** One review-topic change: a webhook held, or a held webhook decided (tombstone). */
export type ReviewChange = { kind: 'held'; item: ReviewItem } | { kind: 'decided'; id: string };

/** What one ingest batch writes, in one database transaction. */
export interface IngestWrite {
  records: ActivityRecord[];
  /** Applied in order (a held webhook and its tombstone may arrive in the same batch). */
  review: ReviewChange[];
}

export interface ActivityStore extends ActivityReader {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Id of this store's contents, made once when its schema is created. The ingest's consumer
   * group derives from it: a new SQLite file reads the topics from the beginning, while the
   * replicas sharing one PostgreSQL database share one group.
   */
  readonly storeId: string;
  /** Idempotent: a record id already stored is left as it is. Returns the rows added. */
  write(batch: IngestWrite): Promise<number>;
  /** Deletes at most `limit` records older than `before`; returns how many. */
  prune(before: Date, limit: number): Promise<number>;
  count(): Promise<number>;
  close(): Promise<void>;
}

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

/** A position in (time, id) order. */
export interface Cursor {
  timeMs: number;
  id: string;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.timeMs, c.id])).toString('base64url');
}

export function decodeCursor(text: string): Cursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(v) && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') {
      return { timeMs: v[0] as number, id: v[1] };
    }
  } catch {
    // reported below
  }
  throw new ActivityQueryError('cursor is not one this API returned');
}

/** A filter checked and in store terms (epoch milliseconds, a decoded cursor, a page size). */
export interface CheckedFilter {
  flowId?: string;
  actionId?: string;
  /** Profile ids to match (the given text, and the derived key of an email). */
  profileIds?: string[];
  email?: string;
  status?: ActivityStatus;
  sinceMs?: number;
  untilMs?: number;
  jobId?: string;
  after?: Cursor;
  limit: number;
}

function time(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new ActivityQueryError(`${name} must be an ISO-8601 time`);
  return ms;
}

export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new ActivityQueryError(`limit must be an integer from 1 to ${MAX_PAGE}`);
  }
  return limit;
}

const nonEmpty = (v: string | undefined): string | undefined =>
  v === undefined || v === '' ? undefined : v;

export function checkFilter(filter: ActivityFilter): CheckedFilter {
  const out: CheckedFilter = { limit: pageSize(filter.limit) };
  if (filter.status !== undefined) {
    if (!(ACTIVITY_STATUSES as readonly string[]).includes(filter.status)) {
      throw new ActivityQueryError(`status must be one of ${ACTIVITY_STATUSES.join(', ')}`);
    }
    out.status = filter.status;
  }
  const profile = nonEmpty(filter.profile?.trim());
  if (profile !== undefined) {
    // Profiles known only by email are keyed `email:<lower-case email>` (events/profile-key).
    out.profileIds = profile.includes('@')
      ? [profile, `email:${profile.toLowerCase()}`]
      : [profile];
    if (profile.includes('@')) out.email = profile;
  }
  const flowId = nonEmpty(filter.flow_id);
  const actionId = nonEmpty(filter.action_id);
  const jobId = nonEmpty(filter.job_id);
  if (flowId !== undefined) out.flowId = flowId;
  if (actionId !== undefined) out.actionId = actionId;
  if (jobId !== undefined) out.jobId = jobId;
  const sinceMs = time('since', filter.since);
  const untilMs = time('until', filter.until);
  if (sinceMs !== undefined) out.sinceMs = sinceMs;
  if (untilMs !== undefined) out.untilMs = untilMs;
  if (nonEmpty(filter.cursor) !== undefined) out.after = decodeCursor(filter.cursor as string);
  return out;
}
