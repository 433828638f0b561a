// Which events a trigger listens to. Metric triggers match the event's metric name exactly.
// List and segment membership arrive as events too (flowhook has no profile store):
//   - list triggers match "Subscribed to List" / "Added to List" events whose properties carry
//     the list id as `list_id` (or `$list_id`);
//   - segment triggers match "Entered Segment" / "Added to Segment" events whose properties carry
//     the segment id as `segment_id` (or `$segment_id`).
// Producers of membership changes (a CRM sync, a segment engine) publish those events.

import type { FlowhookEvent } from '../documents';
import type { CompiledTrigger } from './types';

export const LIST_MEMBERSHIP_METRICS: readonly string[] = ['Subscribed to List', 'Added to List'];
export const SEGMENT_MEMBERSHIP_METRICS: readonly string[] = [
  'Entered Segment',
  'Added to Segment',
];

const LIST_METRICS = new Set(LIST_MEMBERSHIP_METRICS);
const SEGMENT_METRICS = new Set(SEGMENT_MEMBERSHIP_METRICS);

function idProperty(event: FlowhookEvent, names: readonly string[]): string | null {
  for (const n of names) {
    const v = event.properties[n];
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  }
  return null;
}

/** The list id a list-membership event is about, or null. */
export function listIdOf(event: FlowhookEvent): string | null {
  return LIST_METRICS.has(event.metric) ? idProperty(event, ['list_id', '$list_id']) : null;
}

/** The segment id a segment-membership event is about, or null. */
export function segmentIdOf(event: FlowhookEvent): string | null {
  return SEGMENT_METRICS.has(event.metric)
    ? idProperty(event, ['segment_id', '$segment_id'])
    : null;
}

/** Whether the event is one this trigger listens to (trigger filters aside). */
export function triggerMatches(trigger: CompiledTrigger, event: FlowhookEvent): boolean {
  switch (trigger.type) {
    case 'metric':
      return event.metric === trigger.metric;
    case 'list':
      return listIdOf(event) === trigger.listId;
    case 'segment':
      return segmentIdOf(event) === trigger.segmentId;
  }
}
