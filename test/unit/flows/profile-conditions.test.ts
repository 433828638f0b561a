import { compileConditionFilter, type FilterLocation } from '../../../src/flows/conditions';
import type { Condition, ConditionContext, MetricSeriesSpec } from '../../../src/flows/types';
import { applyEvent } from '../../../src/profiles/apply';
import { emptyProfileRecord, type ProfileRecord } from '../../../src/profiles/record';

const HOUR = 3_600_000;
const NOW = new Date('2026-06-10T12:00:00Z');

function compile(condition: unknown, location: FilterLocation = 'profile-filter') {
  const series: MetricSeriesSpec[] = [];
  const r = compileConditionFilter(
    { condition_groups: [{ conditions: [condition as Condition] }] },
    {
      location,
      path: '$.f',
      triggerMetric: 'Started Checkout',
      metricName: (id) => (id === 'XyZ9aB' ? 'Placed Order' : id),
      series,
    },
  );
  return { ...r, series };
}

function ctx(stored: ProfileRecord | null, flowStartAt: Date | null = null): ConditionContext {
  return {
    event: null,
    profile: { id: 'p1' },
    now: NOW,
    flowId: 'f',
    previousEntryAt: null,
    stored,
    flowStartAt,
  };
}

function withEvents(
  events: [string, number, Record<string, unknown>?][],
  series: MetricSeriesSpec[] = [],
) {
  let r: ProfileRecord | null = null;
  for (const [metric, at, properties] of events) {
    const seriesOf = series.filter((s) => s.metric === metric);
    r = applyEvent(
      r,
      {
        id: `${metric}-${at}`,
        metric,
        time: new Date(at).toISOString(),
        profile: { id: 'p1' },
        properties: (properties ?? {}) as never,
      },
      seriesOf,
      undefined,
      NOW.getTime(),
    ).record;
  }
  return r ?? emptyProfileRecord();
}

const placedOrderZero = (timeframe: unknown) => ({
  type: 'profile-metric',
  metric_id: 'XyZ9aB',
  measurement: 'count',
  measurement_filter: { type: 'numeric', operator: 'equals', value: 0 },
  timeframe_filter: timeframe,
});

describe('profile-metric', () => {
  it('"placed order zero times since starting this flow" (the abandoned cart), by metric id', () => {
    const { predicate, problems } = compile(
      placedOrderZero({ type: 'date', operator: 'flow-start' }),
    );
    expect(problems).toEqual([]);
    const start = new Date(NOW.getTime() - 4 * HOUR);
    const before = withEvents([['Placed Order', start.getTime() - HOUR]]);
    const during = withEvents([['Placed Order', start.getTime() + HOUR]]);
    expect(predicate?.(ctx(before, start))).toBe(true);
    expect(predicate?.(ctx(during, start))).toBe(false);
    expect(predicate?.(ctx(null, start))).toBe(true);
  });

  it('counts all time, in the last N days, and sums $value', () => {
    const r = withEvents([
      ['Placed Order', NOW.getTime() - 40 * 24 * HOUR, { $value: 10 }],
      ['Placed Order', NOW.getTime() - HOUR, { $value: 32.5 }],
    ]);
    const once = compile({
      ...placedOrderZero({ type: 'date', operator: 'alltime' }),
      measurement_filter: { type: 'numeric', operator: 'equals', value: 2 },
    }).predicate;
    const recent = compile({
      ...placedOrderZero({ type: 'date', operator: 'in-the-last', quantity: 30, unit: 'day' }),
      measurement_filter: { type: 'numeric', operator: 'equals', value: 1 },
    }).predicate;
    const spent = compile({
      ...placedOrderZero({ type: 'date', operator: 'alltime' }),
      measurement: 'sum',
      measurement_filter: { type: 'numeric', operator: 'greater-than', value: 42 },
    }).predicate;
    expect([once?.(ctx(r)), recent?.(ctx(r)), spent?.(ctx(r))]).toEqual([true, true, true]);
  });

  it('compiles metric_filters into a series of their own that only matching events count in', () => {
    const condition = {
      ...placedOrderZero({ type: 'date', operator: 'alltime' }),
      measurement_filter: { type: 'numeric', operator: 'greater-than-or-equal', value: 1 },
      metric_filters: [
        { property: 'Category', filter: { type: 'string', operator: 'equals', value: 'Shoes' } },
      ],
    };
    const { predicate, series } = compile(condition);
    expect(series).toHaveLength(1);
    expect(series[0]?.metric).toBe('Placed Order');
    const hats = withEvents([['Placed Order', NOW.getTime() - HOUR, { Category: 'Hats' }]], series);
    const shoes = withEvents(
      [['Placed Order', NOW.getTime() - HOUR, { Category: 'Shoes' }]],
      series,
    );
    expect(predicate?.(ctx(hats))).toBe(false);
    expect(predicate?.(ctx(shoes))).toBe(true);
  });

  it.each([
    [
      { type: 'date', operator: 'in-the-next', quantity: 1, unit: 'day' },
      '$.f.condition_groups[0].conditions[0].timeframe_filter.operator',
    ],
    [
      { type: 'date', operator: 'anniversary-last', quantity: 1, unit: 'day' },
      '$.f.condition_groups[0].conditions[0].timeframe_filter.operator',
    ],
  ])('refuses the timeframe %j with its path', (timeframe, path) => {
    const r = compile(placedOrderZero(timeframe));
    expect(r.predicate).toBeNull();
    expect(r.problems.map((p) => p.path)).toEqual([path]);
  });

  it('is refused in a trigger filter and a trigger split', () => {
    for (const where of ['trigger-filter', 'trigger-split'] as const) {
      expect(
        compile(placedOrderZero({ type: 'date', operator: 'alltime' }), where).problems[0]?.message,
      ).toMatch(/not allowed/);
    }
  });
});

describe('profile-group-membership', () => {
  const r = withEvents([
    ['Subscribed to List', NOW.getTime() - 48 * HOUR, { list_id: 'L1' }],
    ['Entered Segment', NOW.getTime() - HOUR, { segment_id: 'VIP' }],
  ]);

  it('is true for a member of any of the groups (lists and segments), and its negation', () => {
    const member = compile(
      { type: 'profile-group-membership', is_member: true, group_ids: ['X', 'VIP'] },
      'conditional-split',
    ).predicate;
    const notMember = compile({
      type: 'profile-group-membership',
      is_member: false,
      group_ids: ['L1'],
    }).predicate;
    expect(member?.(ctx(r))).toBe(true);
    expect(notMember?.(ctx(r))).toBe(false);
    expect(notMember?.(ctx(null))).toBe(true);
  });

  it('checks when the profile joined with a timeframe', () => {
    const lastDay = compile({
      type: 'profile-group-membership',
      is_member: true,
      group_ids: ['L1'],
      timeframe_filter: { type: 'date', operator: 'in-the-last', quantity: 1, unit: 'day' },
    }).predicate;
    expect(lastDay?.(ctx(r))).toBe(false);
  });
});

describe('profile-marketing-consent', () => {
  const subscribed = withEvents([['Subscribed to Email Marketing', NOW.getTime() - HOUR]]);
  const consent = (channel: string, can: boolean, subscription: string, filters?: unknown[]) =>
    compile({
      type: 'profile-marketing-consent',
      consent: { channel, can_receive_marketing: can, consent_status: { subscription, filters } },
    });

  it('reads the stored status per channel; unknown means never subscribed', () => {
    expect(consent('email', true, 'subscribed').predicate?.(ctx(subscribed))).toBe(true);
    expect(consent('email', false, 'any').predicate?.(ctx(subscribed))).toBe(false);
    expect(consent('sms', false, 'never_subscribed').predicate?.(ctx(subscribed))).toBe(true);
    expect(consent('email', true, 'subscribed').predicate?.(ctx(null))).toBe(false);
  });

  it('refuses push and consent filters it does not keep', () => {
    expect(consent('push', true, 'any').problems[0]?.path).toMatch(/consent\.channel$/);
    expect(
      consent('email', true, 'subscribed', [{ type: 'double-optin' }]).problems[0]?.path,
    ).toMatch(/filters$/);
  });
});

it('"since starting this flow" does not count the event that triggered it (win-back flows)', () => {
  const { predicate } = compile(placedOrderZero({ type: 'date', operator: 'flow-start' }));
  const start = new Date(NOW.getTime() - 90 * 24 * HOUR);
  expect(predicate?.(ctx(withEvents([['Placed Order', start.getTime()]]), start))).toBe(true);
});
