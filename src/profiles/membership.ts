// Membership and consent changes carried by events. List and segment membership, and marketing
// consent, arrive as Klaviyo metrics (a CRM sync, a list import or a segment engine publishes
// them); the profile store applies them, and list / segment triggers fire only for a profile
// that newly joins (Klaviyo's semantics).

import type { FlowhookEvent } from '../documents';
import type { ConsentChannel, ConsentStatus, GroupKind } from './record';

export const LIST_JOIN_METRICS: readonly string[] = ['Subscribed to List', 'Added to List'];
export const LIST_LEAVE_METRICS: readonly string[] = [
  'Unsubscribed from List',
  'Removed from List',
];
export const SEGMENT_JOIN_METRICS: readonly string[] = ['Entered Segment', 'Added to Segment'];
export const SEGMENT_LEAVE_METRICS: readonly string[] = ['Exited Segment', 'Removed from Segment'];

const CONSENT_METRICS: Readonly<Record<string, [ConsentChannel, ConsentStatus]>> = {
  'Subscribed to Email Marketing': ['email', 'subscribed'],
  'Unsubscribed from Email Marketing': ['email', 'unsubscribed'],
  Unsubscribed: ['email', 'unsubscribed'],
  'Subscribed to SMS Marketing': ['sms', 'subscribed'],
  'Unsubscribed from SMS Marketing': ['sms', 'unsubscribed'],
};

export type MembershipChange =
  | { kind: GroupKind; id: string; join: boolean }
  | { kind: 'consent'; channel: ConsentChannel; status: ConsentStatus };

function idProperty(event: FlowhookEvent, names: readonly string[]): string | null {
  for (const n of names) {
    const v = event.properties[n];
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  }
  return null;
}

const LIST_IDS = ['list_id', '$list_id'];
const SEGMENT_IDS = ['segment_id', '$segment_id'];

/** The list id a list-join event is about, or null. */
export function joinedListId(event: FlowhookEvent): string | null {
  return LIST_JOIN_METRICS.includes(event.metric) ? idProperty(event, LIST_IDS) : null;
}

/** The segment id a segment-entry event is about, or null. */
export function enteredSegmentId(event: FlowhookEvent): string | null {
  return SEGMENT_JOIN_METRICS.includes(event.metric) ? idProperty(event, SEGMENT_IDS) : null;
}

/** What this event changes in the profile's lists, segments and consent (usually nothing). */
export function membershipChange(event: FlowhookEvent): MembershipChange | null {
  const m = event.metric;
  if (LIST_JOIN_METRICS.includes(m) || LIST_LEAVE_METRICS.includes(m)) {
    const id = idProperty(event, LIST_IDS);
    return id === null ? null : { kind: 'lists', id, join: LIST_JOIN_METRICS.includes(m) };
  }
  if (SEGMENT_JOIN_METRICS.includes(m) || SEGMENT_LEAVE_METRICS.includes(m)) {
    const id = idProperty(event, SEGMENT_IDS);
    return id === null ? null : { kind: 'segments', id, join: SEGMENT_JOIN_METRICS.includes(m) };
  }
  const consent = CONSENT_METRICS[m];
  return consent ? { kind: 'consent', channel: consent[0], status: consent[1] } : null;
}
