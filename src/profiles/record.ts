// The profile store's record: what flowhook knows about one person *now* (key = profileKey).
// Pure functions, state in → state out; the trigger keeps one record per profile in the
// `profiles` store of its stream processor (changelog flowhook.profile-store).
//
// Decisions:
//   - Precedence: newer wins, by time. An update (profile update or an event's snapshot) timed at
//     or after the newest one merged so far overwrites the fields it carries; an older one only
//     fills fields the record does not have yet. `null` in an update clears a field.
//   - Metric history per series (a metric, or a metric with property filters a flow asks for):
//     lifetime count / sum of `$value` / first / last time, the most recent RECENT_PER_SERIES
//     events exactly ([time, value]), and older events folded into UTC-day buckets. A range query
//     is exact while it starts after the oldest exact event; older parts count whole days.
//     Buckets and exact events older than the retention (default 400 days) are dropped; the
//     lifetime totals are kept ("all time" means all time).
//   - Lists and segments: id → time joined. Consent per channel: status and when it was set.

import type { JsonObject, JsonValue, Profile, ProfileLocation } from '../documents';

export type ConsentStatus = 'subscribed' | 'unsubscribed' | 'never_subscribed';
export type ConsentChannel = 'email' | 'sms';

export interface MetricSeries {
  /** Lifetime count, sum of `$value`, first and last event time (epoch ms). */
  n: number;
  s: number;
  first: number;
  last: number;
  /** The most recent events, oldest first: [time ms, $value]. */
  recent: [number, number][];
  /** Events older than `recent`, per UTC day (days since the epoch): [count, sum]. */
  days: Record<string, [number, number]>;
}

export interface ProfileRecord {
  v: 1;
  profile: Profile;
  /** Time (epoch ms) of the newest update merged into `profile`; 0 when none. */
  at: number;
  lists: Record<string, number>;
  segments: Record<string, number>;
  consent: Partial<Record<ConsentChannel, { status: ConsentStatus; at: number }>>;
  /** Series key (metric name, or `metric|<filter hash>`) → history. */
  metrics: Record<string, MetricSeries>;
}

export interface HistoryLimits {
  /** Exact events kept per series. */
  recentPerSeries: number;
  /** Series kept per profile (the least recently active are dropped first). */
  maxSeries: number;
  retentionMs: number;
}

export const DEFAULT_HISTORY_LIMITS: HistoryLimits = {
  recentPerSeries: 50,
  maxSeries: 200,
  retentionMs: 400 * 86_400_000,
};

const DAY_MS = 86_400_000;

export function emptyProfileRecord(): ProfileRecord {
  return { v: 1, profile: {}, at: 0, lists: {}, segments: {}, consent: {}, metrics: {} };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Bytes for the store. */
export function encodeProfileRecord(record: ProfileRecord): Buffer {
  return Buffer.from(JSON.stringify(record), 'utf8');
}

/** From store bytes; null for a missing or foreign record. */
export function decodeProfileRecord(buf: Buffer | null | undefined): ProfileRecord | null {
  if (!buf || buf.length === 0) return null;
  try {
    const v = JSON.parse(buf.toString('utf8')) as unknown;
    if (!isObject(v) || v.v !== 1 || !isObject(v.profile)) return null;
    const r = v as unknown as ProfileRecord;
    return {
      v: 1,
      profile: r.profile,
      at: typeof r.at === 'number' ? r.at : 0,
      lists: isObject(r.lists) ? r.lists : {},
      segments: isObject(r.segments) ? r.segments : {},
      consent: isObject(r.consent) ? r.consent : {},
      metrics: isObject(r.metrics) ? r.metrics : {},
    };
  } catch {
    return null;
  }
}

// ---- profile fields ---------------------------------------------------------------------------

/** A field path an update clears: `first_name`, `location.city`, `properties.Name`. */
export type ClearedField = string;

/**
 * Merges profile fields timed `atMs` into the record (see "Precedence" above). `cleared` lists
 * fields the update set to null. Returns a new record.
 */
export function mergeProfile(
  record: ProfileRecord,
  incoming: Profile,
  atMs: number,
  cleared: readonly ClearedField[] = [],
): ProfileRecord {
  const newer = atMs >= record.at;
  const base = record.profile;
  const out: Profile = { ...base };
  const fields = out as Record<string, unknown>;
  for (const [k, v] of Object.entries(incoming) as [keyof Profile, unknown][]) {
    if (v === undefined || k === 'location' || k === 'properties') continue;
    if (newer || fields[k] === undefined) fields[k] = v;
  }
  if (incoming.location !== undefined) {
    out.location = mergeObject(
      (base.location ?? {}) as Record<string, unknown>,
      incoming.location as Record<string, unknown>,
      newer,
    ) as ProfileLocation;
  }
  if (incoming.properties !== undefined) {
    out.properties = mergeObject(base.properties ?? {}, incoming.properties, newer) as JsonObject;
  }
  if (newer) {
    for (const path of cleared) clearField(out, path);
  }
  return { ...record, profile: out, at: Math.max(record.at, atMs) };
}

function mergeObject(
  base: Record<string, unknown>,
  incoming: Record<string, unknown>,
  newer: boolean,
): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(incoming)) {
    if (v === undefined) continue;
    if (newer || out[k] === undefined) out[k] = v;
  }
  return out;
}

function clearField(profile: Profile, path: string): void {
  const dot = path.indexOf('.');
  const fields = profile as Record<string, unknown>;
  if (dot < 0) {
    delete fields[path];
    return;
  }
  const head = path.slice(0, dot);
  const rest = path.slice(dot + 1);
  const inner = fields[head];
  if ((head === 'properties' || head === 'location') && isObject(inner)) {
    const copy = { ...inner };
    delete copy[rest];
    fields[head] = copy;
  }
}

/** Klaviyo's `meta.patch_properties`: append / unappend to list properties, unset properties. */
export interface PropertyPatch {
  append?: JsonObject;
  unappend?: JsonObject;
  unset?: string[];
}

/**
 * Applies a property patch (timed like the update that carries it; an older patch is ignored,
 * as its changes were overtaken). A non-list property appended to becomes a list.
 */
export function patchProperties(
  record: ProfileRecord,
  patch: PropertyPatch,
  atMs: number,
): ProfileRecord {
  if (atMs < record.at) return record;
  const props: JsonObject = { ...(record.profile.properties ?? {}) };
  const asList = (v: JsonValue | undefined): JsonValue[] =>
    v === undefined || v === null ? [] : Array.isArray(v) ? [...v] : [v];
  const same = (a: JsonValue, b: JsonValue) => JSON.stringify(a) === JSON.stringify(b);
  for (const [k, v] of Object.entries(patch.append ?? {})) {
    const list = asList(props[k]);
    for (const item of Array.isArray(v) ? v : [v]) list.push(item);
    props[k] = list;
  }
  for (const [k, v] of Object.entries(patch.unappend ?? {})) {
    const drop = Array.isArray(v) ? v : [v];
    props[k] = asList(props[k]).filter((item) => !drop.some((d) => same(d, item)));
  }
  for (const k of patch.unset ?? []) delete props[k];
  return {
    ...record,
    profile: { ...record.profile, properties: props },
    at: Math.max(record.at, atMs),
  };
}

// ---- lists, segments, consent -----------------------------------------------------------------

export type GroupKind = 'lists' | 'segments';

/** Adds the profile to a list or segment. `joined` is false when it already was a member. */
export function joinGroup(
  record: ProfileRecord,
  kind: GroupKind,
  id: string,
  atMs: number,
): { record: ProfileRecord; joined: boolean } {
  if (Object.hasOwn(record[kind], id)) return { record, joined: false };
  return { record: { ...record, [kind]: { ...record[kind], [id]: atMs } }, joined: true };
}

export function leaveGroup(record: ProfileRecord, kind: GroupKind, id: string): ProfileRecord {
  if (!Object.hasOwn(record[kind], id)) return record;
  const rest = { ...record[kind] };
  delete rest[id];
  return { ...record, [kind]: rest };
}

/** Sets a channel's consent unless a newer consent change is already recorded. */
export function setConsent(
  record: ProfileRecord,
  channel: ConsentChannel,
  status: ConsentStatus,
  atMs: number,
): ProfileRecord {
  const current = record.consent[channel];
  if (current !== undefined && current.at > atMs) return record;
  return { ...record, consent: { ...record.consent, [channel]: { status, at: atMs } } };
}

// ---- metric history ---------------------------------------------------------------------------

const dayOf = (ms: number) => Math.floor(ms / DAY_MS);

/**
 * Records one event of a series at `tMs` with `$value` `value` (0 when it has none), and drops
 * that series' history older than the retention (lifetime totals stay).
 */
export function recordMetric(
  record: ProfileRecord,
  seriesKey: string,
  tMs: number,
  value: number,
  limits: HistoryLimits = DEFAULT_HISTORY_LIMITS,
  nowMs: number = Date.now(),
): ProfileRecord {
  const old = record.metrics[seriesKey];
  const cutoff = nowMs - limits.retentionMs;
  const series: MetricSeries = old
    ? { ...old, recent: old.recent.filter(([t]) => t >= cutoff), days: old.days }
    : { n: 0, s: 0, first: tMs, last: tMs, recent: [], days: {} };
  const cutoffDay = dayOf(cutoff);
  if (Object.keys(series.days).some((d) => Number(d) < cutoffDay)) {
    series.days = Object.fromEntries(
      Object.entries(series.days).filter(([d]) => Number(d) >= cutoffDay),
    );
  }
  series.n += 1;
  series.s += value;
  series.first = Math.min(series.first, tMs);
  series.last = Math.max(series.last, tMs);
  // Events usually arrive in time order: insert from the end. Events older than the retention
  // count in the lifetime totals only.
  let i = series.recent.length;
  while (i > 0 && (series.recent[i - 1] as [number, number])[0] > tMs) i -= 1;
  if (tMs >= cutoff) series.recent.splice(i, 0, [tMs, value]);
  if (series.recent.length > limits.recentPerSeries) {
    const days = { ...series.days };
    while (series.recent.length > limits.recentPerSeries) {
      const [t, v] = series.recent.shift() as [number, number];
      const key = String(dayOf(t));
      const b = days[key] ?? [0, 0];
      days[key] = [b[0] + 1, b[1] + v];
    }
    series.days = days;
  }
  let metrics = { ...record.metrics, [seriesKey]: series };
  const keys = Object.keys(metrics);
  if (keys.length > limits.maxSeries) {
    const byActivity = keys.sort(
      (a, b) => (metrics[a] as MetricSeries).last - (metrics[b] as MetricSeries).last,
    );
    metrics = { ...metrics };
    for (const k of byActivity.slice(0, keys.length - limits.maxSeries)) delete metrics[k];
  }
  return { ...record, metrics };
}

export interface SeriesTotals {
  count: number;
  sum: number;
}

/**
 * Count and sum of a series' events timed within [fromMs, toMs] (either end may be infinite).
 * Exact over the exact events; day buckets count when their UTC day starts within the range
 * (whole-day precision beyond the most recent events).
 */
export function seriesTotals(
  series: MetricSeries | undefined,
  fromMs: number,
  toMs: number,
): SeriesTotals {
  if (series === undefined) return { count: 0, sum: 0 };
  if (fromMs === -Infinity && toMs === Infinity) return { count: series.n, sum: series.s };
  let count = 0;
  let sum = 0;
  for (const [t, v] of series.recent) {
    if (t >= fromMs && t <= toMs) {
      count += 1;
      sum += v;
    }
  }
  for (const [day, [c, s]] of Object.entries(series.days)) {
    const start = Number(day) * DAY_MS;
    if (start >= dayOf(fromMs) * DAY_MS && start <= toMs) {
      count += c;
      sum += s;
    }
  }
  return { count, sum };
}
