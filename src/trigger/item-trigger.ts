// When a catalog change fires a price-drop or low-inventory flow, with what event, and for whom.
// Pure functions of (the flow's rule, the item before and after, an audience row, a moment).
//
// Rules (where Klaviyo documents none, these are flowhook's):
//   - The first record of an item is never a change: there is nothing to compare it with.
//   - Price drop: the item's price (its own `price`, else its cheapest variant's) fell, by at
//     least `price_drop_amount_value` in the catalog's currency (`currency`) or by at least that
//     percent of the old price (`percent`). A price that did not fall never fires, whatever the
//     amount (0 fires on any fall).
//   - Low inventory, product level: the item's stock (its own `inventory_quantity`, else the sum
//     of its variants') went from above `inventory_count` to at or below it. Variant level: a
//     variant known before went from above to at or below it; the event names the first such
//     variant (in catalog order). Staying low, or a quantity that was unknown before, does not
//     fire: one crossing, one fan-out.
//   - Audience: a profile whose latest event of a kind in the flow's `audience` is within
//     `timeframe_days` of the fan-out, and who has not bought the item since that event.

import type { AudienceEntry } from '../catalog/audience';
import { itemPrice, totalInventory, type CatalogItem, type CatalogVariant } from '../catalog/item';
import type { JsonObject } from '../documents';
import type { ItemTriggerRule } from '../flows/types';

const DAY_MS = 86_400_000;

/** The properties of the Price Drop / Low Inventory event a change makes (null: no change). */
export function itemChange(
  rule: ItemTriggerRule,
  before: CatalogItem | null,
  after: CatalogItem,
): JsonObject | null {
  if (before === null) return null;
  if (rule.kind === 'price-drop') {
    const oldPrice = itemPrice(before);
    const newPrice = itemPrice(after);
    if (oldPrice === undefined || newPrice === undefined || newPrice >= oldPrice) return null;
    const amount = round(oldPrice - newPrice, 6);
    const percent = oldPrice > 0 ? round((amount / oldPrice) * 100, 4) : 100;
    if (rule.unit === 'currency' ? amount < rule.amount : percent < rule.amount) return null;
    return {
      ...itemProperties(after),
      old_price: oldPrice,
      new_price: newPrice,
      price_drop_amount: amount,
      price_drop_percent: percent,
    };
  }
  const crossed = (was: number | undefined, now: number | undefined) =>
    was !== undefined && now !== undefined && was > rule.threshold && now <= rule.threshold;
  if (rule.level === 'product') {
    const was = totalInventory(before);
    const now = totalInventory(after);
    if (!crossed(was, now)) return null;
    return {
      ...itemProperties(after),
      inventory_quantity: now as number,
      previous_inventory_quantity: was as number,
      inventory_count: rule.threshold,
    };
  }
  const previous = new Map(before.variants.map((v) => [v.id, v]));
  const variant = after.variants.find((v) =>
    crossed(previous.get(v.id)?.inventory_quantity, v.inventory_quantity),
  );
  if (variant === undefined) return null;
  return {
    ...itemProperties(after),
    ...variantProperties(variant),
    inventory_quantity: variant.inventory_quantity as number,
    previous_inventory_quantity: previous.get(variant.id)?.inventory_quantity as number,
    inventory_count: rule.threshold,
  };
}

function itemProperties(item: CatalogItem): JsonObject {
  const out: JsonObject = { item_id: item.id };
  if (item.title !== undefined) out.title = item.title;
  if (item.url !== undefined) out.url = item.url;
  if (item.image_full_url !== undefined) out.image_url = item.image_full_url;
  if (item.image_thumbnail_url !== undefined) out.thumbnail_url = item.image_thumbnail_url;
  const price = itemPrice(item);
  if (price !== undefined) out.price = price;
  return out;
}

function variantProperties(v: CatalogVariant): JsonObject {
  const out: JsonObject = { variant_id: v.id };
  if (v.title !== undefined) out.variant_title = v.title;
  if (v.sku !== undefined) out.variant_sku = v.sku;
  if (v.price !== undefined) out.price = v.price;
  return out;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * Whether a profile's audience row puts it in the flow's audience at `nowMs`: its latest event of
 * an audience kind is within the timeframe, and no purchase of the item came at or after it.
 */
export function inAudience(rule: ItemTriggerRule, entry: AudienceEntry, nowMs: number): boolean {
  const from = nowMs - rule.timeframeDays * DAY_MS;
  let latest = -Infinity;
  for (const kind of rule.audience) {
    const at = entry[kind];
    if (at !== undefined && at >= from && at > latest) latest = at;
  }
  if (latest === -Infinity) return false;
  return entry.purchased === undefined || entry.purchased < latest;
}
