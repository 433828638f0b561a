// Catalog items (FLOWHOOK_CATALOG_TOPICS): decoding a record into one CatalogItem, and the
// record the trigger's `catalog` store keeps per item (the last one seen), so that a change can
// be compared with the previous value.
//
// Accepted inputs (see schemas/catalog-item.schema.json):
//   1. a flat document: { external_id | id, title?, url?, image_full_url?, image_thumbnail_url?,
//      price?, inventory_quantity?, variants?: [{ id | external_id | sku, title?, sku?, price?,
//      inventory_quantity? }] };
//   2. Klaviyo's JSON:API envelope { data: { type: "catalog-item", id?, attributes: {…} } }
//      (variants in attributes.variants, as flat objects or { type: "catalog-variant", id,
//      attributes });
//   3. either of those framed by a Confluent Schema Registry.
// The item id is `external_id`, else the last `:::` part of `id` (Klaviyo's ids are
// `$custom:::$default:::<external id>`): the ProductID events carry. A null value (tombstone)
// deletes the item. Anything else is refused with an EventDecodeError whose reason the trigger
// dead-letters as `catalog_<reason>`.

import Ajv2020 from 'ajv/dist/2020';
import catalogSchema from '../../schemas/catalog-item.schema.json';
import { EventDecodeError } from '../errors';
import { readRecordValue, type DecodeOptions } from '../events/decode';
import { formatAjvErrors } from '../json-path';

export interface CatalogVariant {
  id: string;
  title?: string;
  sku?: string;
  price?: number;
  inventory_quantity?: number;
}

export interface CatalogItem {
  id: string;
  title?: string;
  url?: string;
  image_full_url?: string;
  image_thumbnail_url?: string;
  price?: number;
  /** The item's own quantity; see totalInventory for the one triggers read. */
  inventory_quantity?: number;
  variants: CatalogVariant[];
}

/** Value of the `catalog` store (key = item id). */
export interface CatalogRecord {
  v: 1;
  item: CatalogItem;
  /** When the record was processed (epoch ms). */
  at: number;
}

const ajv = new Ajv2020({ allErrors: true, verbose: true, allowUnionTypes: true });
const validateItem = ajv.compile(catalogSchema);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);

/** `$custom:::$default:::SKU-1` → `SKU-1`; other ids as they are. */
export function shortItemId(id: string): string {
  const at = id.lastIndexOf(':::');
  return at === -1 ? id : id.slice(at + 3);
}

/** Decodes one catalog record (not a tombstone). Throws EventDecodeError. */
export async function decodeCatalogItem(
  value: Buffer,
  options: DecodeOptions = {},
): Promise<CatalogItem> {
  const read = await readRecordValue(value, options, 'catalog item');
  return catalogItemFromValue(read.value);
}

/** A catalog item from a parsed value in either form. Throws EventDecodeError. */
export function catalogItemFromValue(value: unknown): CatalogItem {
  if (!isObject(value)) {
    throw new EventDecodeError('unknown_format', 'a catalog item must be a JSON object');
  }
  let doc: Record<string, unknown> = value;
  let prefix = '$';
  if (isObject(value.data)) {
    const data = value.data;
    if (data.type !== 'catalog-item') {
      throw new EventDecodeError(
        'schema_invalid',
        "invalid Klaviyo catalog item: $.data.type: must be 'catalog-item'",
        { path: '$.data.type' },
      );
    }
    if (!isObject(data.attributes)) {
      throw new EventDecodeError(
        'schema_invalid',
        'invalid Klaviyo catalog item: $.data.attributes: must be an object',
        { path: '$.data.attributes' },
      );
    }
    doc = { ...data.attributes };
    if (typeof data.id === 'string' && data.id !== '' && doc.id === undefined) doc.id = data.id;
    if (Array.isArray(doc.variants)) doc.variants = doc.variants.map(flattenVariant);
    prefix = '$.data.attributes';
  }
  if (!validateItem(doc)) {
    const problems = formatAjvErrors(validateItem.errors, catalogSchema, prefix);
    throw new EventDecodeError(
      'schema_invalid',
      `invalid catalog item: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      { path: problems[0]?.path, details: { problems } },
    );
  }
  const external = doc.external_id;
  const id = typeof external === 'string' ? external : shortItemId(doc.id as string);
  const item: CatalogItem = { id, variants: [] };
  for (const k of ['title', 'url', 'image_full_url', 'image_thumbnail_url'] as const) {
    const v = doc[k];
    if (typeof v === 'string' && v !== '') item[k] = v;
  }
  if (typeof doc.price === 'number') item.price = doc.price;
  if (typeof doc.inventory_quantity === 'number') item.inventory_quantity = doc.inventory_quantity;
  for (const raw of (doc.variants as Record<string, unknown>[] | null | undefined) ?? []) {
    const variantId =
      typeof raw.external_id === 'string'
        ? raw.external_id
        : typeof raw.id === 'string'
          ? shortItemId(raw.id)
          : (raw.sku as string);
    const variant: CatalogVariant = { id: variantId };
    if (typeof raw.title === 'string' && raw.title !== '') variant.title = raw.title;
    if (typeof raw.sku === 'string' && raw.sku !== '') variant.sku = raw.sku;
    if (typeof raw.price === 'number') variant.price = raw.price;
    if (typeof raw.inventory_quantity === 'number')
      variant.inventory_quantity = raw.inventory_quantity;
    item.variants.push(variant);
  }
  return item;
}

function flattenVariant(v: unknown): unknown {
  if (!isObject(v) || !isObject(v.attributes)) return v;
  const flat: Record<string, unknown> = { ...v.attributes };
  if (typeof v.id === 'string' && flat.id === undefined) flat.id = v.id;
  return flat;
}

/** The item's price: its own, else its cheapest variant's; undefined when none is known. */
export function itemPrice(item: CatalogItem): number | undefined {
  if (item.price !== undefined) return item.price;
  let min: number | undefined;
  for (const v of item.variants) {
    if (v.price !== undefined && (min === undefined || v.price < min)) min = v.price;
  }
  return min;
}

/** Units in stock of the item: its own quantity, else the sum of its variants' (if any has one). */
export function totalInventory(item: CatalogItem): number | undefined {
  if (item.inventory_quantity !== undefined) return item.inventory_quantity;
  let sum: number | undefined;
  for (const v of item.variants) {
    if (v.inventory_quantity !== undefined) sum = (sum ?? 0) + v.inventory_quantity;
  }
  return sum;
}

export function encodeCatalogRecord(record: CatalogRecord): Buffer {
  return Buffer.from(JSON.stringify(record), 'utf8');
}

/** From store bytes; null for a corrupt or foreign record. */
export function decodeCatalogRecord(bytes: Buffer): CatalogRecord | null {
  try {
    const value = JSON.parse(bytes.toString('utf8')) as unknown;
    if (!isObject(value) || value.v !== 1 || !isObject(value.item)) return null;
    return value as unknown as CatalogRecord;
  } catch {
    return null;
  }
}
