import {
  catalogItemFromValue,
  decodeCatalogItem,
  decodeCatalogRecord,
  encodeCatalogRecord,
  itemPrice,
  shortItemId,
  totalInventory,
} from '../../../src/catalog/item';
import { EventDecodeError } from '../../../src/errors';

function reasonOf(value: unknown): string {
  try {
    catalogItemFromValue(value);
  } catch (err) {
    if (err instanceof EventDecodeError) return err.reason;
    throw err;
  }
  throw new Error('decoded');
}

describe('catalog items', () => {
  it('decodes a flat document with variants', () => {
    const item = catalogItemFromValue({
      external_id: 'SKU-1',
      title: 'Mug',
      url: 'https://shop.example.com/mug',
      image_full_url: 'https://shop.example.com/mug.png',
      price: 12.5,
      variants: [
        { id: 'SKU-1-red', title: 'Red', sku: 'R', price: 12.5, inventory_quantity: 4 },
        { sku: 'B', inventory_quantity: 6 },
      ],
    });
    expect(item).toEqual({
      id: 'SKU-1',
      title: 'Mug',
      url: 'https://shop.example.com/mug',
      image_full_url: 'https://shop.example.com/mug.png',
      price: 12.5,
      variants: [
        { id: 'SKU-1-red', title: 'Red', sku: 'R', price: 12.5, inventory_quantity: 4 },
        { id: 'B', sku: 'B', inventory_quantity: 6 },
      ],
    });
    expect(totalInventory(item)).toBe(10);
    expect(itemPrice(item)).toBe(12.5);
  });

  it("decodes Klaviyo's JSON:API envelope, its id standing for the external id", () => {
    const item = catalogItemFromValue({
      data: {
        type: 'catalog-item',
        id: '$custom:::$default:::SKU-2',
        attributes: {
          title: 'Tee',
          price: 20,
          published: true,
          variants: [
            {
              type: 'catalog-variant',
              id: '$custom:::$default:::SKU-2-S',
              attributes: { title: 'S', price: 18, inventory_quantity: 3 },
            },
          ],
        },
      },
    });
    expect(item).toEqual({
      id: 'SKU-2',
      title: 'Tee',
      price: 20,
      variants: [{ id: 'SKU-2-S', title: 'S', price: 18, inventory_quantity: 3 }],
    });
    expect(shortItemId('plain')).toBe('plain');
  });

  it('takes the cheapest variant when the item has no price of its own', () => {
    const item = catalogItemFromValue({
      id: 'X',
      variants: [
        { id: 'a', price: 9 },
        { id: 'b', price: 7 },
      ],
    });
    expect(itemPrice(item)).toBe(7);
    expect(totalInventory(item)).toBeUndefined();
  });

  it.each<[string, unknown, string]>([
    ['not an object', [1, 2], 'unknown_format'],
    ['no id', { title: 'Mug', price: 3 }, 'schema_invalid'],
    ['a negative price', { id: 'x', price: -1 }, 'schema_invalid'],
    ['a price as text', { id: 'x', price: '3.50' }, 'schema_invalid'],
    ['a variant without id', { id: 'x', variants: [{ title: 'S' }] }, 'schema_invalid'],
    ['another JSON:API type', { data: { type: 'profile', attributes: {} } }, 'schema_invalid'],
  ])('refuses %s', (_what, value, reason) => {
    expect(reasonOf(value)).toBe(reason);
  });

  it('refuses bytes that are not JSON', async () => {
    await expect(decodeCatalogItem(Buffer.from('{nope'))).rejects.toMatchObject({
      reason: 'malformed_json',
    });
  });

  it('round-trips the store record and reads a corrupt one as null', () => {
    const record = { v: 1 as const, item: { id: 'a', price: 3, variants: [] }, at: 5 };
    expect(decodeCatalogRecord(encodeCatalogRecord(record))).toEqual(record);
    expect(decodeCatalogRecord(Buffer.from('nope'))).toBeNull();
  });
});
