import { FlowTable } from '../../../src/flows/flow-table';
import type { ItemTriggerSpec, ValidateOptions } from '../../../src/flows/types';
import { validateFlow } from '../../../src/flows/validate';
import { walkFlow } from '../../../src/trigger/walk';
import { conditions, flowDoc, triggerSplit, webhook } from './builders';

const priceDrop = (over: Record<string, unknown> = {}) => ({
  type: 'price-drop',
  trigger_filter: null,
  price_drop_amount_value: 5,
  audience: ['viewed'],
  ...over,
});
const lowInventory = (over: Record<string, unknown> = {}) => ({
  type: 'low-inventory',
  product_level: 'variant',
  trigger_filter: null,
  inventory_count: 3,
  audience: ['added-to-cart'],
  ...over,
});
const filter = (type: string, field: string, f: Record<string, unknown>) => ({
  condition_groups: [{ conditions: [{ type, metric_id: null, field, filter: f }] }],
});

function compile(trigger: Record<string, unknown>, options: Partial<ValidateOptions> = {}) {
  return validateFlow(flowDoc({}, { triggers: [trigger] }), { allowHttp: false, ...options });
}

function spec(trigger: Record<string, unknown>): ItemTriggerSpec {
  const r = compile(trigger);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  if (r.flow.trigger.type !== 'item') throw new Error('not an item trigger');
  return r.flow.trigger.item;
}

function problems(trigger: Record<string, unknown>, options: Partial<ValidateOptions> = {}) {
  const r = compile(trigger, options);
  return r.ok ? [] : r.problems;
}

describe('price-drop and low-inventory triggers', () => {
  it("compiles a price drop with Klaviyo's defaults (currency, 30 days) and re-enters always", () => {
    const r = compile(priceDrop());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.flow.trigger).toMatchObject({
      type: 'item',
      item: {
        kind: 'price-drop',
        metric: 'Price Drop',
        amount: 5,
        unit: 'currency',
        audience: ['viewed'],
        timeframeDays: 30,
        filter: null,
      },
    });
    expect(r.flow.reentry).toEqual({ duration: 0, unit: 'alltime' });
  });

  it('compiles a low-inventory trigger at variant level', () => {
    expect(spec(lowInventory({ timeframe_days: 7 }))).toMatchObject({
      kind: 'low-inventory',
      metric: 'Low Inventory',
      threshold: 3,
      level: 'variant',
      timeframeDays: 7,
    });
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['price drop: no audience', priceDrop({ audience: [] }), 'audience', /non-empty/],
    [
      'price drop: added-to-cart (not in its audience)',
      priceDrop({ audience: ['added-to-cart'] }),
      'audience',
      /must be one of|not an audience/,
    ],
    [
      'price drop: percent above 100',
      priceDrop({ price_drop_amount_unit: 'percent', price_drop_amount_value: 120 }),
      'price_drop_amount_value',
      /at most 100/,
    ],
    ['price drop: euros', priceDrop({ currency_type: 'eur' }), 'currency_type', /usd/],
    [
      'a timeframe above the retention',
      priceDrop({ timeframe_days: 91 }),
      'timeframe_days',
      /1 to 90/,
    ],
    [
      'low inventory: no level',
      lowInventory({ product_level: 'sku' }),
      'product_level',
      /must be one of|product/,
    ],
    [
      'low inventory: a fractional count',
      lowInventory({ inventory_count: 2.5 }),
      'inventory_count',
      /integer|whole/,
    ],
  ])('refuses %s', (_what, trigger, field, message) => {
    const found = problems(trigger).filter((p) =>
      p.path.startsWith(`$.definition.triggers[0].${field}`),
    );
    expect(found.map((p) => p.message)).toContainEqual(expect.stringMatching(message));
  });

  it('refuses them when the catalog is off', () => {
    expect(
      problems(priceDrop(), { catalog: { enabled: false, audienceRetentionDays: 90 } }),
    ).toContainEqual({
      path: '$.definition.triggers[0].type',
      message: expect.stringContaining('FLOWHOOK_CATALOG=false') as string,
    });
  });

  it('compiles trigger filters on the event properties of its own kind', () => {
    const s = spec(
      priceDrop({
        trigger_filter: filter('price-drop-property', 'price_drop_percent', {
          type: 'numeric',
          operator: 'greater-than-or-equal',
          value: 20,
        }),
      }),
    );
    const ctx = (percent: number) => ({
      event: {
        id: 'x',
        metric: 'Price Drop',
        time: '2026-01-01T00:00:00Z',
        profile: {},
        properties: { price_drop_percent: percent },
      },
      profile: {},
      now: new Date(),
      flowId: 'flow-1',
      previousEntryAt: null,
    });
    expect(s.filter?.(ctx(25))).toBe(true);
    expect(s.filter?.(ctx(10))).toBe(false);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'an unknown field',
      priceDrop({
        trigger_filter: filter('price-drop-property', 'Brand', {
          type: 'string',
          operator: 'equals',
          value: 'x',
        }),
      }),
      /'Brand' is not a property of the price-drop event/,
    ],
    [
      'a low-inventory condition in a price-drop flow',
      priceDrop({
        trigger_filter: filter('low-inventory-property', 'title', {
          type: 'existence',
          operator: 'is-set',
        }),
      }),
      /need a low-inventory trigger/,
    ],
  ])('refuses a trigger filter with %s', (_what, trigger, message) => {
    expect(problems(trigger).map((p) => p.message)).toContainEqual(expect.stringMatching(message));
  });

  it('refuses item conditions in a metric flow', () => {
    const r = validateFlow(
      flowDoc(
        {},
        {
          triggers: [
            {
              type: 'metric',
              id: 'Placed Order',
              trigger_filter: filter('price-drop-property', 'price', {
                type: 'numeric',
                operator: 'less-than',
                value: 3,
              }),
            },
          ],
        },
      ),
      { allowHttp: false },
    );
    expect(r.ok ? [] : r.problems.map((p) => p.message)).toContainEqual(
      expect.stringMatching(/need a price-drop trigger/),
    );
  });

  it('are indexed apart from metric flows: no event enters them by its metric', () => {
    const table = new FlowTable({ allowHttp: false });
    const doc = flowDoc({}, { triggers: [priceDrop()] });
    expect(table.apply('flow-1', doc).outcome).toBe('accepted');
    expect(table.itemFlows().map((f) => f.id)).toEqual(['flow-1']);
    expect(
      table.candidates({
        id: 'e',
        metric: 'Price Drop',
        time: '2026-01-01T00:00:00Z',
        profile: { id: 'p' },
        properties: {},
      }),
    ).toEqual([]);
    expect(table.dateFlows()).toEqual([]);
    table.apply('flow-1', null);
    expect(table.itemFlows()).toEqual([]);
  });
});

describe('trigger splits in price-drop flows', () => {
  const splitFlow = (split: Record<string, unknown>) =>
    flowDoc(
      {},
      {
        triggers: [priceDrop()],
        entry_action_id: 'split',
        actions: [split, webhook('big', null), webhook('small', null)],
      },
    );
  const bigDrop = {
    type: 'price-drop-property',
    metric_id: null,
    field: 'price_drop_percent',
    filter: { type: 'numeric', operator: 'greater-than-or-equal', value: 30 },
  };

  it('split on the Price Drop event', () => {
    const r = validateFlow(splitFlow(triggerSplit('split', 'big', 'small', bigDrop)), {
      allowHttp: false,
    });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const walk = (percent: number) =>
      walkFlow({
        flow: r.flow,
        event: {
          id: 'price-drop:MUG:catalog:0:1:p1',
          metric: 'Price Drop',
          time: '2026-06-01T00:00:00Z',
          profile: { id: 'p1' },
          properties: { item_id: 'MUG', price_drop_percent: percent },
        },
        organization: { name: '', url: '' },
        now: new Date('2026-06-01T00:00:01Z'),
      }).jobs.map((j) => j.action_id);
    expect(walk(40)).toEqual(['big']);
    expect(walk(10)).toEqual(['small']);
  });

  it('refuse a metric trigger type or a metric condition, and exist in no low-inventory flow', () => {
    const wrongType = {
      ...triggerSplit('split', 'big', 'small', bigDrop),
      data: { trigger_filter: conditions(bigDrop), trigger_type: 'metric' },
    };
    const messages = (doc: unknown) => {
      const r = validateFlow(doc, { allowHttp: false });
      return r.ok ? [] : r.problems.map((p) => p.message);
    };
    expect(messages(splitFlow(wrongType))).toContainEqual(
      expect.stringContaining("must be 'price-drop'"),
    );
    const lowStock = flowDoc(
      {},
      {
        triggers: [lowInventory()],
        entry_action_id: 'split',
        actions: [
          triggerSplit('split', 'big', 'small', bigDrop),
          webhook('big', null),
          webhook('small', null),
        ],
      },
    );
    expect(messages(lowStock)).toContainEqual(
      expect.stringContaining('trigger splits exist only in metric-triggered and price-drop flows'),
    );
  });
});
