// Which events a trigger listens to. Metric triggers match the event's metric name exactly.
// List and segment membership arrive as events (src/profiles/membership.ts):
//   - list triggers match "Subscribed to List" / "Added to List" events whose properties carry
//     the list id as `list_id` (or `$list_id`);
//   - segment triggers match "Entered Segment" / "Added to Segment" events whose properties carry
//     the segment id as `segment_id` (or `$segment_id`).
// Profile updates that add a profile to a list or segment become such events too; whether the
// profile *newly* joined is the profile store's to say (decideEntry's `newMembership`).

import type { FlowhookEvent } from '../documents';
import {
  enteredSegmentId,
  joinedListId,
  LIST_JOIN_METRICS,
  SEGMENT_JOIN_METRICS,
} from '../profiles/membership';
import type { CompiledTrigger } from './types';

export const LIST_MEMBERSHIP_METRICS = LIST_JOIN_METRICS;
export const SEGMENT_MEMBERSHIP_METRICS = SEGMENT_JOIN_METRICS;

/** The list id a list-membership event is about, or null. */
export const listIdOf = joinedListId;

/** The segment id a segment-membership event is about, or null. */
export const segmentIdOf = enteredSegmentId;

/** The metric of the events that enter a date flow (they never come from producers). */
export function dateMetric(property: string): string {
  return `$date:${property}`;
}

/**
 * Properties of the events that enter price-drop and low-inventory flows (made by the trigger
 * from a catalog change: src/trigger/item-trigger.ts); their trigger filters may read these.
 */
export const ITEM_EVENT_FIELDS = {
  'price-drop': [
    'item_id',
    'title',
    'url',
    'image_url',
    'thumbnail_url',
    'price',
    'old_price',
    'new_price',
    'price_drop_amount',
    'price_drop_percent',
  ],
  'low-inventory': [
    'item_id',
    'title',
    'url',
    'image_url',
    'thumbnail_url',
    'price',
    'inventory_quantity',
    'previous_inventory_quantity',
    'inventory_count',
    'variant_id',
    'variant_title',
    'variant_sku',
  ],
} as const;

/** Whether the event is one this trigger listens to (trigger filters aside). */
export function triggerMatches(trigger: CompiledTrigger, event: FlowhookEvent): boolean {
  switch (trigger.type) {
    case 'metric':
      return event.metric === trigger.metric;
    case 'list':
      return listIdOf(event) === trigger.listId;
    case 'segment':
      return segmentIdOf(event) === trigger.segmentId;
    case 'date':
      // A date flow's entries come from its timers (src/trigger/date-trigger.ts): the event
      // that enters it is made for it, with the flow's date metric.
      return event.metric === dateMetric(trigger.date.property);
    case 'item':
      // Made for it by the catalog fan-out (src/trigger/item-entries.ts), never by producers:
      // the flow table does not index item flows by metric.
      return event.metric === trigger.item.metric;
  }
}
