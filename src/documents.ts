// The documents that travel on flowhook's topics. The JSON Schemas in schemas/ describe the
// same shapes.

export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface ProfileLocation {
  address1?: string | null;
  address2?: string | null;
  city?: string | null;
  country?: string | null;
  region?: string | null;
  zip?: string | null;
  timezone?: string | null;
  latitude?: number | string | null;
  longitude?: number | string | null;
  ip?: string | null;
}

/** The fields of ProfileLocation, for code that resolves names such as `$city` or `City`. */
export const LOCATION_FIELDS: ReadonlySet<string> = new Set<keyof ProfileLocation>([
  'address1',
  'address2',
  'city',
  'region',
  'country',
  'zip',
  'timezone',
  'latitude',
  'longitude',
  'ip',
]);

export interface Profile {
  id?: string;
  email?: string;
  phone_number?: string;
  external_id?: string;
  /** Klaviyo's anonymous id (web tracking before the person is known). */
  anonymous_id?: string;
  /** Klaviyo's exchange id (`_kx`, an encrypted web-tracking identifier). */
  _kx?: string;
  first_name?: string;
  last_name?: string;
  organization?: string;
  title?: string;
  location?: ProfileLocation;
  properties?: JsonObject;
}

/** The profile's standard string fields (everything but location and properties). */
export const PROFILE_STRING_FIELDS: readonly (keyof Profile)[] = [
  'id',
  'email',
  'phone_number',
  'external_id',
  'first_name',
  'last_name',
  'organization',
  'title',
];

/** Canonical event, after decoding any accepted input form. */
export interface FlowhookEvent {
  id: string;
  metric: string;
  /** ISO-8601 timestamp of when the event happened. */
  time: string;
  profile: Profile;
  properties: JsonObject;
  backfill?: boolean;
}

/** One attempt as remembered inside a job, so that DLQ entries carry the whole history. */
export interface AttemptSummary {
  attempt: number;
  at: string;
  outcome: DeliveryOutcome;
  status_code?: number;
  error?: string;
  duration_ms: number;
}

/** A webhook request to make, on flowhook.jobs, the retry tiers and the DLQ. */
export interface WebhookJob {
  /** Stable across retries and replays: sent as `webhook-id`. */
  id: string;
  flow_id: string;
  flow_version: number;
  action_id: string;
  event_id: string;
  profile_id: string;
  url: string;
  /** Header values may still contain `{{ secrets.NAME }}`: resolved only by the delivery worker. */
  headers: Record<string, string>;
  /** Rendered JSON body, as text (it is signed byte for byte). */
  body: string;
  /** Number of attempts already made (0 for a new job). */
  attempt: number;
  /** ISO-8601; the job must not be attempted before this time. */
  not_before?: string;
  first_attempt_at?: string;
  last_error?: string;
  /** Time of the triggering event, for end-to-end latency. */
  event_time?: string;
  /** Per-action signing secret *name* (resolved from secrets, never the secret itself). */
  signing_secret_ref?: string;
  history?: AttemptSummary[];
  /**
   * The flow's walk waits for this webhook's outcome (webhook_order "sequential"): the delivery
   * worker reports its final outcome on flowhook.outcomes, keyed by profile.
   */
  await_outcome?: boolean;
}

export type DeliveryOutcome = 'delivered' | 'retrying' | 'failed' | 'skipped';

/** One record per attempt on flowhook.deliveries. */
export interface DeliveryRecord {
  job_id: string;
  flow_id: string;
  action_id: string;
  /** The job's profile and event, so the activity log can show and filter them. */
  profile_id?: string;
  event_id?: string;
  attempt: number;
  status_code?: number;
  error_class?: string;
  error?: string;
  duration_ms: number;
  outcome: DeliveryOutcome;
  time: string;
  response_body?: string;
  /** outcome `retrying`: when the next attempt is due (ISO-8601). */
  next_attempt_at?: string;
}

/** The final outcome of a job a walk waits for, on flowhook.outcomes (key = profile_id). */
export interface JobOutcome {
  job_id: string;
  flow_id: string;
  action_id: string;
  event_id: string;
  profile_id: string;
  /** delivered, or failed for good (sent to the DLQ): either way the walk continues. */
  outcome: 'delivered' | 'failed';
  time: string;
}

/** A job that will not be attempted again, on flowhook.dlq. */
export interface DeadLetter {
  job: WebhookJob;
  reason: string;
  error_code: string;
  failed_at: string;
}
