import type { CatalogItem } from '../../../src/catalog/item';
import type { ItemTriggerRule } from '../../../src/flows/types';
import { inAudience, itemChange } from '../../../src/trigger/item-trigger';

const DAY = 86_400_000;
const priceDrop = (amount: number, unit: 'currency' | 'percent' = 'currency'): ItemTriggerRule => ({
  kind: 'price-drop',
  metric: 'Price Drop',
  amount,
  unit,
  audience: ['viewed', 'checkout-started'],
  timeframeDays: 30,
});
const lowInventory = (threshold: number, level: 'product' | 'variant'): ItemTriggerRule => ({
  kind: 'low-inventory',
  metric: 'Low Inventory',
  threshold,
  level,
  audience: ['viewed', 'added-to-cart', 'checkout-started'],
  timeframeDays: 30,
});
const item = (over: Partial<CatalogItem> = {}): CatalogItem => ({
  id: 'SKU-1',
  title: 'Mug',
  url: 'https://shop.example.com/mug',
  image_full_url: 'https://shop.example.com/mug.png',
  price: 40,
  variants: [],
  ...over,
});

describe('price drop', () => {
  it('fires on a fall of at least the amount, with old and new price', () => {
    expect(itemChange(priceDrop(5), item(), item({ price: 30 }))).toEqual({
      item_id: 'SKU-1',
      title: 'Mug',
      url: 'https://shop.example.com/mug',
      image_url: 'https://shop.example.com/mug.png',
      price: 30,
      old_price: 40,
      new_price: 30,
      price_drop_amount: 10,
      price_drop_percent: 25,
    });
    expect(itemChange(priceDrop(10), item(), item({ price: 30 }))).not.toBeNull();
    expect(itemChange(priceDrop(10.01), item(), item({ price: 30 }))).toBeNull();
  });

  it('fires on a fall of at least the percent', () => {
    expect(itemChange(priceDrop(25, 'percent'), item(), item({ price: 30 }))).not.toBeNull();
    expect(itemChange(priceDrop(26, 'percent'), item(), item({ price: 30 }))).toBeNull();
  });

  it('never fires on a first sighting, a rise, the same price or an unknown price', () => {
    expect(itemChange(priceDrop(0), null, item())).toBeNull();
    expect(itemChange(priceDrop(0), item(), item({ price: 41 }))).toBeNull();
    expect(itemChange(priceDrop(0), item(), item({ title: 'Big mug' }))).toBeNull();
    expect(itemChange(priceDrop(0), item({ price: undefined }), item())).toBeNull();
    expect(itemChange(priceDrop(0), item(), item({ price: 39.99 }))).not.toBeNull();
  });
});

describe('low inventory', () => {
  const variants = (a: number, b: number) => [
    { id: 'red', title: 'Red', sku: 'R', inventory_quantity: a },
    { id: 'blue', inventory_quantity: b },
  ];

  it('fires when the product total crosses to at or below the count, once', () => {
    const rule = lowInventory(5, 'product');
    const change = itemChange(
      rule,
      item({ inventory_quantity: 8 }),
      item({ inventory_quantity: 5 }),
    );
    expect(change).toMatchObject({
      item_id: 'SKU-1',
      inventory_quantity: 5,
      previous_inventory_quantity: 8,
      inventory_count: 5,
    });
    expect(
      itemChange(rule, item({ inventory_quantity: 5 }), item({ inventory_quantity: 2 })),
    ).toBeNull();
    expect(itemChange(rule, item(), item({ inventory_quantity: 2 }))).toBeNull();
    // The total of the variants when the item has none of its own.
    expect(
      itemChange(rule, item({ variants: variants(4, 4) }), item({ variants: variants(1, 4) })),
    ).toMatchObject({ inventory_quantity: 5, previous_inventory_quantity: 8 });
  });

  it('fires at variant level for the first variant that crosses', () => {
    const rule = lowInventory(2, 'variant');
    expect(
      itemChange(rule, item({ variants: variants(5, 9) }), item({ variants: variants(2, 9) })),
    ).toMatchObject({
      variant_id: 'red',
      variant_title: 'Red',
      variant_sku: 'R',
      inventory_quantity: 2,
      previous_inventory_quantity: 5,
      inventory_count: 2,
    });
    expect(
      itemChange(rule, item({ variants: variants(2, 9) }), item({ variants: variants(1, 9) })),
    ).toBeNull();
    expect(itemChange(rule, item(), item({ variants: variants(1, 1) }))).toBeNull();
  });
});

describe('audience', () => {
  const now = Date.parse('2026-06-01T00:00:00Z');
  const rule = priceDrop(1);

  it('takes viewers within the timeframe who did not buy since', () => {
    expect(inAudience(rule, { viewed: now - DAY }, now)).toBe(true);
    expect(inAudience(rule, { viewed: now - 31 * DAY }, now)).toBe(false);
    expect(inAudience(rule, { viewed: now - 2 * DAY, purchased: now - DAY }, now)).toBe(false);
    // Bought before looking again.
    expect(inAudience(rule, { viewed: now - DAY, purchased: now - 2 * DAY }, now)).toBe(true);
  });

  it('reads only the kinds of its audience', () => {
    expect(inAudience(rule, { 'added-to-cart': now - DAY }, now)).toBe(false);
    expect(inAudience(lowInventory(1, 'product'), { 'added-to-cart': now - DAY }, now)).toBe(true);
    expect(inAudience(rule, { 'checkout-started': now - DAY, viewed: now - 40 * DAY }, now)).toBe(
      true,
    );
  });
});
