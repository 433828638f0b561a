// The SQL both backends run. Times are epoch milliseconds (BIGINT / INTEGER), so keyset
// comparisons and retention deletes are integer comparisons on the indexes below; each list
// query walks one index backwards from the cursor and stops after a page.

import { encodeCursor, type CheckedFilter } from './store';
import type { ActivityRecord, ActivityStatus, ReviewItem } from './types';

export type Dialect = 'sqlite' | 'postgres';

/** Columns of `activity`, in insert order. */
export const ACTIVITY_COLUMNS = [
  'id',
  'time_ms',
  'status',
  'flow_id',
  'flow_version',
  'action_id',
  'profile_id',
  'email',
  'event_id',
  'job_id',
  'attempt',
  'http_status',
  'duration_ms',
  'error',
  'response_excerpt',
  'reason',
  'due_at',
  'actor',
] as const;

export type ActivityRow = Record<(typeof ACTIVITY_COLUMNS)[number], string | number | null>;

export function schemaStatements(d: Dialect): { tables: string[]; indexes: string[] } {
  const bigint = d === 'postgres' ? 'BIGINT' : 'INTEGER';
  const json = d === 'postgres' ? 'JSONB' : 'TEXT';
  return {
    tables: [
      `CREATE TABLE IF NOT EXISTS activity_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
      `CREATE TABLE IF NOT EXISTS activity (
        id TEXT PRIMARY KEY,
        time_ms ${bigint} NOT NULL,
        status TEXT NOT NULL,
        flow_id TEXT NOT NULL,
        flow_version INTEGER,
        action_id TEXT,
        profile_id TEXT,
        email TEXT,
        event_id TEXT,
        job_id TEXT,
        attempt INTEGER,
        http_status INTEGER,
        duration_ms INTEGER,
        error TEXT,
        response_excerpt TEXT,
        reason TEXT,
        due_at TEXT,
        actor TEXT
      )`,
      `CREATE TABLE IF NOT EXISTS review (
        id TEXT PRIMARY KEY,
        flow_id TEXT NOT NULL,
        action_id TEXT NOT NULL,
        profile_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        held_at_ms ${bigint} NOT NULL,
        job ${json} NOT NULL
      )`,
    ],
    // Every list query is "filter = x, newest first": one index per filter column, ending in
    // (time_ms, id) so the page is read in order, without a sort.
    indexes: [
      `CREATE INDEX IF NOT EXISTS activity_flow ON activity (flow_id, time_ms, id)`,
      `CREATE INDEX IF NOT EXISTS activity_flow_action ON activity (flow_id, action_id, time_ms, id)`,
      `CREATE INDEX IF NOT EXISTS activity_profile ON activity (profile_id, time_ms, id)`,
      `CREATE INDEX IF NOT EXISTS activity_email ON activity (email, time_ms, id) WHERE email IS NOT NULL`,
      `CREATE INDEX IF NOT EXISTS activity_job ON activity (job_id, time_ms, id) WHERE job_id IS NOT NULL`,
      `CREATE INDEX IF NOT EXISTS activity_time ON activity (time_ms, id)`,
      `CREATE INDEX IF NOT EXISTS review_held ON review (held_at_ms, id)`,
      `CREATE INDEX IF NOT EXISTS review_flow ON review (flow_id, held_at_ms, id)`,
    ],
  };
}

export interface Query {
  text: string;
  params: (string | number)[];
}

/** `?` placeholders for SQLite, `$n` for PostgreSQL. */
function placeholders(d: Dialect, text: string): string {
  if (d === 'sqlite') return text;
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

/** WHERE conditions and their parameters, built in step. */
class Conditions {
  readonly where: string[] = [];
  readonly params: (string | number)[] = [];
  add(condition: string, ...params: (string | number | undefined)[]): void {
    if (params.some((p) => p === undefined)) return;
    this.where.push(condition);
    this.params.push(...(params as (string | number)[]));
  }
  toString(): string {
    return this.where.length > 0 ? ` WHERE ${this.where.join(' AND ')}` : '';
  }
}

export function listQuery(d: Dialect, f: CheckedFilter): Query {
  const c = new Conditions();
  c.add('flow_id = ?', f.flowId);
  c.add('action_id = ?', f.actionId);
  c.add('job_id = ?', f.jobId);
  c.add('status = ?', f.status);
  if (f.profileIds !== undefined) {
    const any = f.profileIds.map(() => 'profile_id = ?');
    const params: string[] = [...f.profileIds];
    if (f.email !== undefined) {
      // Delivery records know the profile id only: those of the profiles with this email.
      any.push(
        'email = ?',
        'profile_id IN (SELECT profile_id FROM activity WHERE email = ? AND profile_id IS NOT NULL)',
      );
      params.push(f.email, f.email);
    }
    c.add(`(${any.join(' OR ')})`, ...params);
  }
  c.add('time_ms >= ?', f.sinceMs);
  c.add('time_ms <= ?', f.untilMs);
  if (f.after !== undefined) c.add('(time_ms, id) < (?, ?)', f.after.timeMs, f.after.id);
  const params = [...c.params, f.limit + 1];
  const text =
    `SELECT ${ACTIVITY_COLUMNS.join(', ')} FROM activity${String(c)}` +
    ' ORDER BY time_ms DESC, id DESC LIMIT ?';
  return { text: placeholders(d, text), params };
}

/** Records per flow and status since a time: the console's "last 24 h" columns. */
export function statusCountsQuery(d: Dialect, flowIds: readonly string[], sinceMs: number): Query {
  const text =
    `SELECT flow_id, status, count(*) AS n FROM activity WHERE flow_id IN (${flowIds.map(() => '?').join(', ')})` +
    ' AND time_ms >= ? GROUP BY flow_id, status';
  return { text: placeholders(d, text), params: [...flowIds, sinceMs] };
}

export interface CountRow {
  flow_id: string;
  status: string;
  n: number | string;
}

export function countsOf(
  rows: readonly CountRow[],
): Record<string, Partial<Record<ActivityStatus, number>>> {
  const out: Record<string, Partial<Record<ActivityStatus, number>>> = {};
  for (const r of rows) (out[r.flow_id] ??= {})[r.status as ActivityStatus] = Number(r.n);
  return out;
}

export function reviewQuery(
  d: Dialect,
  f: { flowId?: string; after?: { timeMs: number; id: string }; limit: number },
): Query {
  const c = new Conditions();
  c.add('flow_id = ?', f.flowId);
  if (f.after !== undefined) c.add('(held_at_ms, id) < (?, ?)', f.after.timeMs, f.after.id);
  const params = [...c.params, f.limit + 1];
  const text =
    `SELECT id, flow_id, action_id, profile_id, event_id, held_at_ms, job FROM review${String(c)}` +
    ' ORDER BY held_at_ms DESC, id DESC LIMIT ?';
  return { text: placeholders(d, text), params };
}

export function toRow(r: ActivityRecord): ActivityRow {
  return {
    id: r.id,
    time_ms: Date.parse(r.time),
    status: r.status,
    flow_id: r.flow_id,
    flow_version: r.flow_version ?? null,
    action_id: r.action_id ?? null,
    profile_id: r.profile_id ?? null,
    email: r.email ?? null,
    event_id: r.event_id ?? null,
    job_id: r.job_id ?? null,
    attempt: r.attempt ?? null,
    http_status: r.http_status ?? null,
    duration_ms: r.duration_ms === undefined ? null : Math.round(r.duration_ms),
    error: r.error ?? null,
    response_excerpt: r.response_excerpt ?? null,
    reason: r.reason ?? null,
    due_at: r.due_at ?? null,
    actor: r.actor ?? null,
  };
}

const OPTIONAL_TEXT = [
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
] as const;
const OPTIONAL_NUMBER = ['flow_version', 'attempt', 'http_status', 'duration_ms'] as const;

/** PostgreSQL hands BIGINT back as text: every number goes through Number(). */
export function fromRow(row: ActivityRow): ActivityRecord {
  const r: ActivityRecord = {
    id: String(row.id),
    time: new Date(Number(row.time_ms)).toISOString(),
    status: row.status as ActivityStatus,
    flow_id: String(row.flow_id),
  };
  for (const k of OPTIONAL_TEXT) if (row[k] !== null) r[k] = String(row[k]);
  for (const k of OPTIONAL_NUMBER) if (row[k] !== null) r[k] = Number(row[k]);
  return r;
}

export function pageOf<T>(
  rows: T[],
  limit: number,
  cursorOf: (row: T) => { timeMs: number; id: string },
): { rows: T[]; next_cursor: string | null } {
  if (rows.length <= limit) return { rows, next_cursor: null };
  const page = rows.slice(0, limit);
  return { rows: page, next_cursor: encodeCursor(cursorOf(page[page.length - 1] as T)) };
}

export interface ReviewRow {
  id: string;
  flow_id: string;
  action_id: string;
  profile_id: string;
  event_id: string;
  held_at_ms: string | number;
  job: string | Record<string, unknown>;
}

export function reviewFromRow(row: ReviewRow): ReviewItem {
  return {
    id: row.id,
    flow_id: row.flow_id,
    action_id: row.action_id,
    profile_id: row.profile_id,
    event_id: row.event_id,
    held_at: new Date(Number(row.held_at_ms)).toISOString(),
    job: typeof row.job === 'string' ? (JSON.parse(row.job) as Record<string, unknown>) : row.job,
  };
}
