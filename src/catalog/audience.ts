// The per-item audience of price-drop and low-inventory triggers: who viewed, added to cart,
// started checkout for, or bought an item, and when.
//
// Events are keyed by profile, the audience must be keyed by item: the profile's task turns each
// event of an audience metric into one small record per item id it names, on the internal
// repartition topic flowhook.item-audience (key = item id). The task that owns that item's
// partition (the same partition number as the item's catalog records) keeps them in the
// `item-audience` store, one row per (item, profile): the last time of each kind.
//
// Which events name which items (Klaviyo's commerce events):
//   Viewed Product      → viewed            ProductID
//   Added to Cart       → added-to-cart     AddedItemProductID, AddedItem.ProductID, ProductID,
//                                           Items[].ProductID
//   Started Checkout    → checkout-started  Items[].ProductID, ProductID
//   Placed Order        → purchased         Items[].ProductID, ProductID
//   Ordered Product     → purchased         ProductID
// A ProductID may be a string or a number (its decimal text). At most MAX_ITEMS_PER_EVENT ids
// of one event are recorded.

import type { FlowhookEvent, JsonValue, Profile } from '../documents';

export type AudienceKind = 'viewed' | 'added-to-cart' | 'checkout-started';
export type AudienceActivity = AudienceKind | 'purchased';

export const AUDIENCE_METRICS: Readonly<Record<string, AudienceActivity>> = {
  'Viewed Product': 'viewed',
  'Added to Cart': 'added-to-cart',
  'Started Checkout': 'checkout-started',
  'Placed Order': 'purchased',
  'Ordered Product': 'purchased',
};

export const MAX_ITEMS_PER_EVENT = 100;

/** Value of a flowhook.item-audience record (key = item_id). */
export interface AudienceRecord {
  item_id: string;
  profile_key: string;
  kind: AudienceActivity;
  /** The event's time (ISO-8601). */
  time: string;
  event_id: string;
}

/** Value of the `item-audience` store (key = audienceKey(item, profile)): last times, epoch ms. */
export type AudienceEntry = Partial<Record<AudienceActivity, number>>;

/** Separates the item id from the profile key in the store's keys (sorts before any text). */
const SEPARATOR = '\u0001';

export function audienceKey(itemId: string, profileKey: string): string {
  return `${itemId}${SEPARATOR}${profileKey}`;
}

/** The key range of one item's audience rows. */
export function audienceRange(itemId: string): { start: string; end: string } {
  return { start: `${itemId}${SEPARATOR}`, end: `${itemId}\u0002` };
}

/** The profile key of an audience row's key. */
export function profileKeyOf(storeKey: string, itemId: string): string {
  return storeKey.slice(itemId.length + SEPARATOR.length);
}

const isObject = (v: unknown): v is Record<string, JsonValue> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function idText(v: JsonValue | undefined): string | null {
  if (typeof v === 'string' && v.trim() !== '') return v.trim();
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

/** What an event says about items: its kind and the item ids it names (none: not an audience event). */
export function audienceOf(
  event: FlowhookEvent,
): { kind: AudienceActivity; items: string[] } | null {
  const kind = AUDIENCE_METRICS[event.metric];
  if (kind === undefined) return null;
  const props = event.properties;
  const ids = new Set<string>();
  const add = (v: JsonValue | undefined) => {
    const id = idText(v);
    if (id !== null && ids.size < MAX_ITEMS_PER_EVENT) ids.add(id);
  };
  add(props.ProductID);
  if (event.metric === 'Added to Cart') {
    add(props.AddedItemProductID);
    const added = props.AddedItem;
    if (isObject(added)) add(added.ProductID);
  }
  if (event.metric !== 'Viewed Product' && event.metric !== 'Ordered Product') {
    const items = props.Items;
    if (Array.isArray(items)) for (const i of items) if (isObject(i)) add(i.ProductID);
  }
  return ids.size === 0 ? null : { kind, items: [...ids] };
}

/** The records an event of an audience metric becomes (one per item it names). */
export function audienceRecords(event: FlowhookEvent, profileKey: string): AudienceRecord[] {
  const about = audienceOf(event);
  if (about === null) return [];
  return about.items.map((item_id) => ({
    item_id,
    profile_key: profileKey,
    kind: about.kind,
    time: event.time,
    event_id: event.id,
  }));
}

/** The row after a record: each kind keeps its latest time. Null when the record changes nothing. */
export function applyAudienceRecord(
  entry: AudienceEntry | undefined,
  record: AudienceRecord,
): AudienceEntry | null {
  const at = Date.parse(record.time);
  if (Number.isNaN(at)) return null;
  const before = entry?.[record.kind];
  if (before !== undefined && before >= at) return null;
  return { ...entry, [record.kind]: at };
}

/** The latest time of any kind in a row (for retention). */
export function lastActivity(entry: AudienceEntry): number {
  let last = -Infinity;
  for (const t of Object.values(entry)) if (t !== undefined && t > last) last = t;
  return last;
}

/** Reads an audience record; null when it is not one. */
export function parseAudienceRecord(value: unknown): AudienceRecord | null {
  if (!isObject(value)) return null;
  const { item_id, profile_key, kind, time, event_id } = value;
  if (
    typeof item_id !== 'string' ||
    typeof profile_key !== 'string' ||
    typeof time !== 'string' ||
    typeof event_id !== 'string' ||
    typeof kind !== 'string' ||
    !Object.values(AUDIENCE_METRICS).includes(kind as AudienceActivity)
  )
    return null;
  return { item_id, profile_key, kind: kind as AudienceActivity, time, event_id };
}

const KEY_PREFIXES: [string, keyof Profile][] = [
  ['external:', 'external_id'],
  ['email:', 'email'],
  ['phone:', 'phone_number'],
  ['anonymous:', 'anonymous_id'],
  ['kx:', '_kx'],
];

/**
 * A profile with the one identifier a profile key stands for (src/profile-key.ts, inverted):
 * the profile of a synthetic event when the profile store does not hold one.
 */
export function profileFromKey(key: string): Profile {
  for (const [prefix, field] of KEY_PREFIXES) {
    if (key.startsWith(prefix)) return { [field]: key.slice(prefix.length) };
  }
  return { id: key };
}
