// The activity log's contract ("View All Activity"): what happened to each profile at each step
// of a flow. Producers (trigger, delivery) describe it with these records; the activity store
// materialises them; the admin API and the console read them back. Types only, no imports, so
// every folder can depend on this one.

export const ACTIVITY_STATUSES = [
  'entered',
  'skipped',
  'held',
  'waiting',
  'scheduled_retry',
  'attempted',
  'delivered',
  'failed',
  'dead_lettered',
  'released',
  'discarded',
] as const;
export type ActivityStatus = (typeof ACTIVITY_STATUSES)[number];

export interface ActivityRecord {
  /** Stable id of this fact (idempotent ingest: the same id twice is stored once). */
  id: string;
  /** ISO-8601 time the fact happened. */
  time: string;
  status: ActivityStatus;
  flow_id: string;
  flow_version?: number;
  action_id?: string;
  profile_id?: string;
  email?: string;
  event_id?: string;
  /** The webhook job (= webhook-id) when the fact is about a webhook. */
  job_id?: string;
  attempt?: number;
  http_status?: number;
  duration_ms?: number;
  error?: string;
  response_excerpt?: string;
  /** Why: a skip reason, a DLQ reason, a hold reason. */
  reason?: string;
  /** When a waiting profile resumes, or when a scheduled retry is next attempted. */
  due_at?: string;
  /** released / discarded: who decided (email, else OIDC subject; the audit log has the rest). */
  actor?: string;
}

export interface ActivityFilter {
  flow_id?: string;
  action_id?: string;
  /** A profile id or an email. */
  profile?: string;
  status?: ActivityStatus;
  since?: string;
  until?: string;
  job_id?: string;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  /** Page size, default 100, at most 1,000. */
  limit?: number;
}

export interface ActivityPage {
  /** Newest first. */
  items: ActivityRecord[];
  next_cursor: string | null;
}

/** A webhook held by a manual flow or action, waiting for a manager to release or discard it. */
export interface ReviewItem {
  /** The held job's id (= its webhook-id once released). */
  id: string;
  flow_id: string;
  action_id: string;
  profile_id: string;
  event_id: string;
  held_at: string;
  /** The job as it would be sent (headers keep their {{ secrets.NAME }} references). */
  job: Record<string, unknown>;
}

/** What the admin API needs from the activity store. */
export interface ActivityReader {
  list(filter: ActivityFilter): Promise<ActivityPage>;
  /** Held webhooks not yet released or discarded, newest first. */
  review(filter: { flow_id?: string; cursor?: string; limit?: number }): Promise<{
    items: ReviewItem[];
    next_cursor: string | null;
  }>;
  reviewItem(id: string): Promise<ReviewItem | undefined>;
  /** Records per status for each of these flows since `since` (flows without any are absent). */
  statusCounts(flowIds: readonly string[], since: Date): Promise<StatusCounts>;
}

/** flow id → records per status. */
export type StatusCounts = Record<string, Partial<Record<ActivityStatus, number>>>;
