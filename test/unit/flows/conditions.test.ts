import type { FlowhookEvent, Profile } from '../../../src/documents';
import {
  compileConditionFilter,
  compileProfilePath,
  compilePropertyFilter,
  MAX_REGEX_SUBJECT,
  samplePercentile,
  type FilterLocation,
} from '../../../src/flows/conditions';
import type { ConditionContext, ConditionFilter, PropertyFilter } from '../../../src/flows/types';

const NOW = new Date('2024-06-15T12:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const iso = (ms: number): string => new Date(ms).toISOString();

function test(filter: unknown, value: unknown, now: Date = NOW): boolean {
  const compiled = compilePropertyFilter(filter as PropertyFilter, '$.f');
  expect(compiled.problems).toEqual([]);
  return compiled.test(value, now);
}

// [description, filter, value, expected]
type Row = [string, unknown, unknown, boolean];

const MISSING = undefined;

describe('property filters: string', () => {
  const s = (operator: string, value: unknown): unknown => ({ type: 'string', operator, value });
  const rows: Row[] = [
    ['equals match', s('equals', 'gold'), 'gold', true],
    ['equals is case-sensitive', s('equals', 'gold'), 'Gold', false],
    ['equals on a number compares its text', s('equals', '42'), 42, true],
    ['equals on missing', s('equals', 'gold'), MISSING, false],
    ['equals on null', s('equals', 'gold'), null, false],
    ['equals null means not set', s('equals', null), MISSING, true],
    ['equals null on a value', s('equals', null), 'x', false],
    ['equals on an object', s('equals', 'gold'), { a: 1 }, false],
    ['not-equals match', s('not-equals', 'gold'), 'silver', true],
    ['not-equals same', s('not-equals', 'gold'), 'gold', false],
    ['not-equals on missing', s('not-equals', 'gold'), MISSING, true],
    ['contains', s('contains', 'ol'), 'gold', true],
    ['contains no', s('contains', 'x'), 'gold', false],
    ['contains on missing', s('contains', 'ol'), MISSING, false],
    ['not-contains', s('not-contains', 'x'), 'gold', true],
    ['not-contains no', s('not-contains', 'ol'), 'gold', false],
    ['not-contains on missing', s('not-contains', 'ol'), MISSING, true],
    ['starts-with', s('starts-with', 'go'), 'gold', true],
    ['starts-with no', s('starts-with', 'ld'), 'gold', false],
    ['starts-with on missing', s('starts-with', 'go'), MISSING, false],
    ['not-starts-with', s('not-starts-with', 'ld'), 'gold', true],
    ['not-starts-with on missing', s('not-starts-with', 'go'), MISSING, true],
    ['ends-with', s('ends-with', 'ld'), 'gold', true],
    ['ends-with no', s('ends-with', 'go'), 'gold', false],
    ['ends-with on missing', s('ends-with', 'ld'), MISSING, false],
    ['not-ends-with', s('not-ends-with', 'go'), 'gold', true],
    ['not-ends-with on missing', s('not-ends-with', 'ld'), MISSING, true],
    ['regex (search semantics)', s('regex', '^SKU-\\d+$'), 'SKU-123', true],
    ['regex no', s('regex', '^SKU-\\d+$'), 'SKU-12a', false],
    ['regex on a number', s('regex', '^\\d+$'), 123, true],
    ['regex on missing', s('regex', 'x'), MISSING, false],
    ['regex on an over-long subject', s('regex', 'a'), 'a'.repeat(MAX_REGEX_SUBJECT + 1), false],
    ['nregex', s('nregex', '^SKU-'), 'ABC', true],
    ['nregex no', s('nregex', '^SKU-'), 'SKU-1', false],
    ['nregex on missing', s('nregex', 'x'), MISSING, true],
    ['in', s('in', ['gold', 'silver']), 'silver', true],
    ['in no', s('in', ['gold', 'silver']), 'bronze', false],
    ['in on a number', s('in', ['1', '2']), 2, true],
    ['in on missing', s('in', ['gold']), MISSING, false],
    ['in on an array value', s('in', ['gold']), ['gold'], false],
    ['not-in', s('not-in', ['gold']), 'bronze', true],
    ['not-in no', s('not-in', ['gold']), 'gold', false],
    ['not-in on missing', s('not-in', ['gold']), MISSING, true],
  ];
  it.each(rows)('%s', (_d, filter, value, expected) => {
    expect(test(filter, value)).toBe(expected);
  });

  it('refuses unsafe regexes and operators without a value, pointing at the value', () => {
    expect(compilePropertyFilter(s('regex', '(a+)+$') as PropertyFilter, '$.f').problems).toEqual([
      {
        path: '$.f.value',
        message: expect.stringMatching(/^unsafe or invalid regex: nested quantifiers/),
      },
    ]);
    expect(compilePropertyFilter(s('contains', null) as PropertyFilter, '$.f').problems).toEqual([
      { path: '$.f.value', message: "operator 'contains' needs a string value" },
    ]);
    expect(
      compilePropertyFilter(s('phone-country-code-in', ['US']) as PropertyFilter, '$.f').problems[0]
        ?.path,
    ).toBe('$.f.operator');
  });
});

describe('property filters: numeric, boolean, existence', () => {
  const n = (operator: string, value: number): unknown => ({ type: 'numeric', operator, value });
  const rows: Row[] = [
    ['equals', n('equals', 10), 10, true],
    ['equals on a numeric string', n('equals', 10), '10.0', true],
    ['equals no', n('equals', 10), 11, false],
    ['equals on text', n('equals', 10), 'ten', false],
    ['equals on missing', n('equals', 10), MISSING, false],
    ['equals on a boolean', n('equals', 1), true, false],
    ['not-equals', n('not-equals', 10), 11, true],
    ['not-equals no', n('not-equals', 10), 10, false],
    ['not-equals on missing', n('not-equals', 10), MISSING, true],
    ['greater-than', n('greater-than', 10), 10.5, true],
    ['greater-than no', n('greater-than', 10), 10, false],
    ['greater-than on missing', n('greater-than', 10), MISSING, false],
    ['greater-than-or-equal', n('greater-than-or-equal', 10), 10, true],
    ['greater-than-or-equal no', n('greater-than-or-equal', 10), 9, false],
    ['less-than', n('less-than', 10), '9.99', true],
    ['less-than no', n('less-than', 10), 10, false],
    ['less-than on missing', n('less-than', 10), null, false],
    ['less-than-or-equal', n('less-than-or-equal', 10), 10, true],
    ['less-than-or-equal no', n('less-than-or-equal', 10), 11, false],
    ['between', { type: 'numeric', operator: 'between', start: 5, end: 10 }, 5, true],
    ['between upper bound', { type: 'numeric', operator: 'between', start: 5, end: 10 }, 10, true],
    ['between no', { type: 'numeric', operator: 'between', start: 5, end: 10 }, 10.01, false],
    [
      'between reversed bounds',
      { type: 'numeric', operator: 'between', start: 10, end: 5 },
      7,
      true,
    ],
    [
      'between on missing',
      { type: 'numeric', operator: 'between', start: 5, end: 10 },
      MISSING,
      false,
    ],
    ['boolean equals true', { type: 'boolean', operator: 'equals', value: true }, true, true],
    ['boolean equals text', { type: 'boolean', operator: 'equals', value: true }, 'TRUE', true],
    ['boolean equals no', { type: 'boolean', operator: 'equals', value: true }, false, false],
    ['boolean equals false', { type: 'boolean', operator: 'equals', value: false }, false, true],
    ['boolean equals on 1', { type: 'boolean', operator: 'equals', value: true }, 1, false],
    [
      'boolean equals on missing',
      { type: 'boolean', operator: 'equals', value: false },
      MISSING,
      false,
    ],
    ['is-set', { type: 'existence', operator: 'is-set' }, 'x', true],
    ['is-set on 0', { type: 'existence', operator: 'is-set' }, 0, true],
    ['is-set on empty text', { type: 'existence', operator: 'is-set' }, '', false],
    ['is-set on null', { type: 'existence', operator: 'is-set' }, null, false],
    ['is-set on missing', { type: 'existence', operator: 'is-set' }, MISSING, false],
    ['not-set on missing', { type: 'existence', operator: 'not-set' }, MISSING, true],
    ['not-set on a value', { type: 'existence', operator: 'not-set' }, false, false],
  ];
  it.each(rows)('%s', (_d, filter, value, expected) => {
    expect(test(filter, value)).toBe(expected);
  });
});

describe('property filters: lists', () => {
  const l = (operator: string, value: unknown): unknown => ({ type: 'list', operator, value });
  const rows: Row[] = [
    ['contains', l('contains', 'Books'), ['Books', 'Kids'], true],
    ['contains no', l('contains', 'Toys'), ['Books'], false],
    ['contains an integer', l('contains', 3), [1, 2, 3], true],
    ['contains integer as text', l('contains', 3), ['3'], true],
    ['contains on a string', l('contains', 'Books'), 'Books', false],
    ['contains on missing', l('contains', 'Books'), MISSING, false],
    ['not-contains', l('not-contains', 'Toys'), ['Books'], true],
    ['not-contains no', l('not-contains', 'Books'), ['Books'], false],
    ['not-contains on missing', l('not-contains', 'Books'), MISSING, true],
    ['length-equals', l('length-equals', 2), [1, 2], true],
    ['length-equals no', l('length-equals', 2), [1], false],
    ['length-equals on missing', l('length-equals', 0), MISSING, false],
    ['length-greater-than', l('length-greater-than', 1), [1, 2], true],
    ['length-greater-than no', l('length-greater-than', 2), [1, 2], false],
    ['length-greater-than-or-equal', l('length-greater-than-or-equal', 2), [1, 2], true],
    ['length-less-than', l('length-less-than', 2), [1], true],
    ['length-less-than no', l('length-less-than', 2), [1, 2], false],
    ['length-less-than-or-equal', l('length-less-than-or-equal', 2), [1, 2], true],
    ['length on text', l('length-less-than', 10), 'abc', false],
    ['contains-all', l('contains-all', ['a', 'b']), ['a', 'b', 'c'], true],
    ['contains-all no', l('contains-all', ['a', 'd']), ['a', 'b'], false],
    ['contains-any', l('contains-any', ['x', 'b']), ['a', 'b'], true],
    ['contains-any no', l('contains-any', ['x']), ['a'], false],
    ['not-contains-all', l('not-contains-all', ['a', 'd']), ['a'], true],
    ['not-contains-any', l('not-contains-any', ['x']), ['a'], true],
    ['not-contains-any on missing', l('not-contains-any', ['x']), MISSING, true],
    ['contains-substring', l('contains-substring', 'oo'), ['Book', 'Kid'], true],
    ['not-contains-substring', l('not-contains-substring', 'zz'), ['Book'], true],
  ];
  it.each(rows)('%s', (_d, filter, value, expected) => {
    expect(test(filter, value)).toBe(expected);
  });
});

describe('property filters: dates', () => {
  const d = (f: Record<string, unknown>): unknown => ({ type: 'date', ...f });
  const now = NOW.getTime();
  const rows: Row[] = [
    [
      'before',
      d({ operator: 'before', date: '2024-01-01T00:00:00Z' }),
      '2023-12-31T23:59:59Z',
      true,
    ],
    ['before no', d({ operator: 'before', date: '2024-01-01T00:00:00Z' }), '2024-01-02', false],
    ['before on missing', d({ operator: 'before', date: '2024-01-01T00:00:00Z' }), MISSING, false],
    ['after', d({ operator: 'after', date: '2024-01-01T00:00:00Z' }), '2024-01-01 00:00:01', true],
    [
      'after on unix seconds',
      d({ operator: 'after', date: '2024-01-01T00:00:00Z' }),
      1717000000,
      true,
    ],
    [
      'after on unix millis',
      d({ operator: 'after', date: '2024-01-01T00:00:00Z' }),
      1_600_000_000_000,
      false,
    ],
    ['after on text', d({ operator: 'after', date: '2024-01-01T00:00:00Z' }), 'yesterday', false],
    [
      'between-static',
      d({ operator: 'between-static', start: '2024-01-01T00:00:00Z', end: '2024-02-01T00:00:00Z' }),
      '2024-01-15',
      true,
    ],
    [
      'between-static no',
      d({ operator: 'between-static', start: '2024-01-01T00:00:00Z', end: '2024-02-01T00:00:00Z' }),
      '2024-03-01',
      false,
    ],
    [
      'in-the-last',
      d({ operator: 'in-the-last', unit: 'day', quantity: 7 }),
      iso(now - 6 * DAY),
      true,
    ],
    [
      'in-the-last no',
      d({ operator: 'in-the-last', unit: 'day', quantity: 7 }),
      iso(now - 8 * DAY),
      false,
    ],
    [
      'in-the-last future',
      d({ operator: 'in-the-last', unit: 'hour', quantity: 1 }),
      iso(now + HOUR),
      false,
    ],
    [
      'in-the-last weeks',
      d({ operator: 'in-the-last', unit: 'week', quantity: 2 }),
      iso(now - 13 * DAY),
      true,
    ],
    [
      'in-the-last on missing',
      d({ operator: 'in-the-last', unit: 'day', quantity: 7 }),
      MISSING,
      false,
    ],
    ['at-least', d({ operator: 'at-least', unit: 'day', quantity: 30 }), iso(now - 31 * DAY), true],
    [
      'at-least no',
      d({ operator: 'at-least', unit: 'day', quantity: 30 }),
      iso(now - 29 * DAY),
      false,
    ],
    [
      'in-the-next',
      d({ operator: 'in-the-next', unit: 'hour', quantity: 2 }),
      iso(now + HOUR),
      true,
    ],
    [
      'in-the-next no',
      d({ operator: 'in-the-next', unit: 'hour', quantity: 2 }),
      iso(now - HOUR),
      false,
    ],
    [
      'between (ago)',
      d({ operator: 'between', unit: 'day', start: 10, end: 20 }),
      iso(now - 15 * DAY),
      true,
    ],
    [
      'between (ago) no',
      d({ operator: 'between', unit: 'day', start: 10, end: 20 }),
      iso(now - 5 * DAY),
      false,
    ],
    ['anniversary', d({ operator: 'anniversary' }), '1990-06-15T08:00:00Z', true],
    ['anniversary no', d({ operator: 'anniversary' }), '1990-06-16', false],
    ['anniversary-month', d({ operator: 'anniversary-month' }), '1990-06-01', true],
    ['anniversary-month no', d({ operator: 'anniversary-month' }), '1990-07-01', false],
    [
      'anniversary-last',
      d({ operator: 'anniversary-last', unit: 'day', quantity: 7 }),
      '1990-06-10T12:00:00Z',
      true,
    ],
    [
      'anniversary-last no',
      d({ operator: 'anniversary-last', unit: 'day', quantity: 7 }),
      '1990-06-20',
      false,
    ],
    [
      'anniversary-next',
      d({ operator: 'anniversary-next', unit: 'week', quantity: 1 }),
      '1985-06-20',
      true,
    ],
    [
      'anniversary-next across years',
      d({ operator: 'anniversary-next', unit: 'week', quantity: 2 }),
      '1985-01-05',
      false,
    ],
    ['calendar-month', d({ operator: 'calendar-month', value: 6 }), '2020-06-30', true],
    ['calendar-month no', d({ operator: 'calendar-month', value: 1 }), '2020-06-30', false],
  ];
  it.each(rows)('%s', (_d, filter, value, expected) => {
    expect(test(filter, value)).toBe(expected);
  });

  it('anniversary-next looks into next year at the end of December', () => {
    const filter = d({ operator: 'anniversary-next', unit: 'week', quantity: 1 });
    expect(test(filter, '2000-01-02', new Date('2024-12-30T00:00:00Z'))).toBe(true);
  });

  it('refuses timeframe-only operators on properties', () => {
    expect(
      compilePropertyFilter(d({ operator: 'alltime' }) as PropertyFilter, '$.f').problems,
    ).toEqual([
      {
        path: '$.f.operator',
        message: "date operator 'alltime' only applies to metric timeframes",
      },
    ]);
  });
});

// ---- condition filters ---------------------------------------------------------------------------

const event = (properties: Record<string, unknown>): FlowhookEvent =>
  ({
    id: 'e1',
    metric: 'Placed Order',
    time: NOW.toISOString(),
    profile: { id: 'p1' },
    properties,
  }) as FlowhookEvent;

const ctx = (over: Partial<ConditionContext> = {}): ConditionContext => ({
  event: event({}),
  profile: { id: 'p1' },
  now: NOW,
  flowId: 'flow-1',
  previousEntryAt: null,
  ...over,
});

const metricCond = (field: string, filter: unknown): unknown => ({
  type: 'metric-property',
  metric_id: 'Placed Order',
  field,
  filter,
});
const profileCond = (property: string, filter: unknown): unknown => ({
  type: 'profile-property',
  property,
  filter,
});
const groups = (...gs: unknown[][]): ConditionFilter =>
  ({ condition_groups: gs.map((conditions) => ({ conditions })) }) as ConditionFilter;

function compile(
  filter: ConditionFilter | null,
  location: FilterLocation = 'trigger-filter',
  triggerMetric: string | null = 'Placed Order',
) {
  return compileConditionFilter(filter, { location, path: '$.x', triggerMetric });
}

describe('condition filters', () => {
  const gt = (v: number): unknown => ({ type: 'numeric', operator: 'greater-than', value: v });
  const eq = (v: string): unknown => ({ type: 'string', operator: 'equals', value: v });

  it('ANDs conditions inside a group and ORs groups', () => {
    const r = compile(
      groups(
        [metricCond('$value', gt(100)), metricCond('Country', eq('US'))],
        [metricCond('VIP', { type: 'boolean', operator: 'equals', value: true })],
      ),
    );
    expect(r.problems).toEqual([]);
    const p = r.predicate as NonNullable<typeof r.predicate>;
    expect(p(ctx({ event: event({ $value: 150, Country: 'US' }) }))).toBe(true);
    expect(p(ctx({ event: event({ $value: 150, Country: 'FR' }) }))).toBe(false);
    expect(p(ctx({ event: event({ $value: 50, Country: 'US' }) }))).toBe(false);
    expect(p(ctx({ event: event({ $value: 50, VIP: true }) }))).toBe(true);
    expect(p(ctx({ event: null }))).toBe(false);
  });

  it('treats a missing or empty filter as no filter', () => {
    expect(compile(null)).toEqual({ predicate: null, problems: [] });
    expect(compile({ condition_groups: [] })).toEqual({ predicate: null, problems: [] });
  });

  it('refuses an empty group', () => {
    expect(compile(groups([])).problems).toEqual([
      {
        path: '$.x.condition_groups[0].conditions',
        message: 'a condition group needs at least one condition',
      },
    ]);
  });

  it('reads only top-level event properties, by literal name', () => {
    const p = compile(groups([metricCond('Item.Count', gt(1))])).predicate as NonNullable<
      ReturnType<typeof compile>['predicate']
    >;
    expect(p(ctx({ event: event({ 'Item.Count': 2 }) }))).toBe(true);
    expect(p(ctx({ event: event({ Item: { Count: 2 } }) }))).toBe(false);
  });

  it('requires metric_id to be the trigger metric', () => {
    const r = compile(
      groups([{ ...(metricCond('$value', gt(1)) as object), metric_id: 'Viewed Product' }]),
    );
    expect(r.problems).toEqual([
      {
        path: '$.x.condition_groups[0].conditions[0].metric_id',
        message: expect.stringContaining("must be the trigger metric 'Placed Order'"),
      },
    ]);
  });

  it.each<[FilterLocation, unknown, string]>([
    [
      'trigger-filter',
      profileCond('email', eq('x')),
      "condition type 'profile-property' is not allowed in a trigger filter",
    ],
    [
      'profile-filter',
      metricCond('$value', gt(1)),
      "condition type 'metric-property' is not allowed in a profile filter",
    ],
    [
      'conditional-split',
      { type: 'profile-not-in-flow', timeframe_filter: { type: 'date', operator: 'alltime' } },
      'not allowed in a conditional split',
    ],
    [
      'trigger-split',
      { type: 'profile-metric', metric_id: 'x' },
      "condition type 'profile-metric' is not allowed in a trigger split",
    ],
    [
      'multi-branch-split',
      { type: 'profile-group-membership', is_member: true, group_ids: ['L1'] },
      'not allowed in a multi-branch split',
    ],
    ['profile-filter', { type: 'profile-postal-code-distance' }, 'not supported'],
  ])('in %s refuses %j', (location, condition, message) => {
    const r = compile(groups([condition]), location);
    expect(r.predicate).toBeNull();
    expect(r.problems).toEqual([
      {
        path: '$.x.condition_groups[0].conditions[0].type',
        message: expect.stringContaining(message),
      },
    ]);
  });

  it('refuses metric conditions in flows without a metric trigger', () => {
    const r = compile(groups([metricCond('$value', gt(1))]), 'multi-branch-split', null);
    expect(r.problems[0]?.message).toBe('metric-property conditions need a metric trigger');
  });
});

describe('profile conditions', () => {
  const profile: Profile = {
    id: 'p1',
    email: 'sarah@example.com',
    first_name: 'Sarah',
    location: { city: 'Paris', country: 'FR', timezone: 'Europe/Paris' },
    properties: {
      'Favorite Color': 'blue',
      tier: 'gold',
      $source: 'pos',
      address: { city: 'Lyon' },
    },
  };
  const eq = (v: string): unknown => ({ type: 'string', operator: 'equals', value: v });

  it.each([
    ['email', 'sarah@example.com'],
    ['$email', 'sarah@example.com'],
    ['first_name', 'Sarah'],
    ['location.city', 'Paris'],
    ["location['city']", 'Paris'],
    ['$city', 'Paris'],
    ["properties['Favorite Color']", 'blue'],
    ['properties["Favorite Color"]', 'blue'],
    ['properties.tier', 'gold'],
    ['Favorite Color', 'blue'],
    ['tier', 'gold'],
    ['$source', 'pos'],
    ["properties['address'].city", 'Lyon'],
  ])('reads %s', (property, expected) => {
    const read = compileProfilePath(property);
    expect(typeof read).toBe('function');
    expect((read as (p: Profile) => unknown)(profile)).toBe(expected);
    const r = compile(groups([profileCond(property, eq(expected))]), 'profile-filter');
    expect(r.predicate?.(ctx({ profile }))).toBe(true);
  });

  it('reads missing paths as missing, never throwing', () => {
    const read = compileProfilePath("properties['address'].zip.code") as (p: Profile) => unknown;
    expect(read(profile)).toBeUndefined();
    expect(read({})).toBeUndefined();
    const notSet = compile(
      groups([profileCond('last_name', { type: 'existence', operator: 'not-set' })]),
      'profile-filter',
    );
    expect(notSet.predicate?.(ctx({ profile }))).toBe(true);
  });

  it.each(["properties['unterminated", 'location.planet', 'properties'])(
    'refuses the path %s',
    (property) => {
      const r = compile(groups([profileCond(property, eq('x'))]), 'profile-filter');
      expect(r.problems).toEqual([
        { path: '$.x.condition_groups[0].conditions[0].property', message: expect.any(String) },
      ]);
    },
  );

  it('evaluates profile-region from location.country; unknown matches neither side', () => {
    const region = (in_region: boolean, r = 'european_union') =>
      compile(groups([{ type: 'profile-region', in_region, region: r }]), 'profile-filter')
        .predicate as NonNullable<ReturnType<typeof compile>['predicate']>;
    expect(region(true)(ctx({ profile }))).toBe(true);
    expect(region(false)(ctx({ profile }))).toBe(false);
    expect(
      region(true, 'united_states')(ctx({ profile: { location: { country: 'United States' } } })),
    ).toBe(true);
    expect(region(true)(ctx({ profile: { location: { country: 'Germany' } } }))).toBe(true);
    expect(region(true)(ctx({ profile: { id: 'x' } }))).toBe(false);
    expect(region(false)(ctx({ profile: { id: 'x' } }))).toBe(false);
  });

  it('samples a stable share of profiles per flow', () => {
    const pred = compile(groups([{ type: 'profile-sample', percentage: 30 }]), 'profile-filter')
      .predicate as NonNullable<ReturnType<typeof compile>['predicate']>;
    let inSample = 0;
    for (let i = 0; i < 2000; i++) {
      const p = { id: `profile-${i}` };
      const first = pred(ctx({ profile: p }));
      expect(pred(ctx({ profile: p }))).toBe(first);
      if (first) inSample++;
    }
    expect(inSample / 2000).toBeGreaterThan(0.25);
    expect(inSample / 2000).toBeLessThan(0.35);
    expect(samplePercentile('a', { id: 'x' })).not.toBe(samplePercentile('b', { id: 'x' }));
  });

  it('evaluates profile-not-in-flow from the previous entry', () => {
    const alltime = compile(
      groups([
        { type: 'profile-not-in-flow', timeframe_filter: { type: 'date', operator: 'alltime' } },
      ]),
      'profile-filter',
    ).predicate as NonNullable<ReturnType<typeof compile>['predicate']>;
    expect(alltime(ctx({ previousEntryAt: null }))).toBe(true);
    expect(alltime(ctx({ previousEntryAt: new Date('2020-01-01T00:00:00Z') }))).toBe(false);
    const lastWeek = compile(
      groups([
        {
          type: 'profile-not-in-flow',
          timeframe_filter: { type: 'date', operator: 'in-the-last', unit: 'week', quantity: 1 },
        },
      ]),
      'profile-filter',
    ).predicate as NonNullable<ReturnType<typeof compile>['predicate']>;
    expect(lastWeek(ctx({ previousEntryAt: new Date(NOW.getTime() - 3 * DAY) }))).toBe(false);
    expect(lastWeek(ctx({ previousEntryAt: new Date(NOW.getTime() - 8 * DAY) }))).toBe(true);
  });
});
