// How events and profile updates change a profile's record. Pure functions; the trigger calls
// them in its processor, one profile at a time, in partition order.

import type { FlowhookEvent, JsonObject } from '../documents';
import { membershipChange } from './membership';
import {
  DEFAULT_HISTORY_LIMITS,
  emptyProfileRecord,
  joinGroup,
  leaveGroup,
  mergeProfile,
  patchProperties,
  recordMetric,
  setConsent,
  type GroupKind,
  type HistoryLimits,
  type ProfileRecord,
} from './record';
import type { ProfileUpdate } from './update';

/** A property-filtered history to keep (flows/types MetricSeriesSpec has this shape). */
export interface SeriesToKeep {
  key: string;
  matches(properties: JsonObject): boolean;
}

export interface AppliedEvent {
  record: ProfileRecord;
  /** A list / segment join event: whether the profile newly joined. Undefined otherwise. */
  newMembership: boolean | undefined;
}

/** `$value` of an event as a number (0 when absent or not numeric). */
export function eventValue(properties: JsonObject): number {
  const v = properties.$value;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : 0;
}

/**
 * One event: its profile snapshot merges in (timed by the event), its membership or consent
 * change applies, and it counts in the history of its metric and of every property-filtered
 * series it matches. Backfilled events count too (they never trigger; entry.ts decides that).
 */
export function applyEvent(
  before: ProfileRecord | null,
  event: FlowhookEvent,
  series: readonly SeriesToKeep[],
  limits: HistoryLimits = DEFAULT_HISTORY_LIMITS,
  nowMs: number = Date.now(),
): AppliedEvent {
  const t = Date.parse(event.time);
  let record = mergeProfile(before ?? emptyProfileRecord(), event.profile, t);
  let newMembership: boolean | undefined;
  const change = membershipChange(event);
  if (change?.kind === 'consent') record = setConsent(record, change.channel, change.status, t);
  else if (change && change.join) {
    const r = joinGroup(record, change.kind, change.id, t);
    record = r.record;
    newMembership = r.joined;
  } else if (change) record = leaveGroup(record, change.kind, change.id);
  const value = eventValue(event.properties);
  record = recordMetric(record, event.metric, t, value, limits, nowMs);
  for (const s of series) {
    if (s.matches(event.properties)) record = recordMetric(record, s.key, t, value, limits, nowMs);
  }
  return { record, newMembership };
}

export interface AppliedUpdate {
  record: ProfileRecord;
  /** Lists and segments the profile newly joined: list / segment flows may fire for them. */
  joined: { kind: GroupKind; id: string }[];
}

/** One profile update: fields (newer wins), property patch, consent, list and segment changes. */
export function applyUpdate(before: ProfileRecord | null, update: ProfileUpdate): AppliedUpdate {
  const t = update.timeMs;
  let record = mergeProfile(before ?? emptyProfileRecord(), update.profile, t, update.cleared);
  if (update.patch) record = patchProperties(record, update.patch, t);
  for (const [channel, status] of Object.entries(update.consent)) {
    record = setConsent(record, channel as 'email' | 'sms', status, t);
  }
  const joined: AppliedUpdate['joined'] = [];
  for (const kind of ['lists', 'segments'] as const) {
    for (const id of update[kind].remove) record = leaveGroup(record, kind, id);
    for (const id of update[kind].add) {
      const r = joinGroup(record, kind, id, t);
      record = r.record;
      if (r.joined) joined.push({ kind, id });
    }
  }
  return { record, joined };
}
