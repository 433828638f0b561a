import type { DateTriggerSpec } from '../../../src/flows/types';
import { nextDateEntry, parseDateValue, triggerZone } from '../../../src/trigger/date-trigger';

const spec = (over: Partial<DateTriggerSpec> = {}): DateTriggerSpec => ({
  property: 'birthday',
  read: (p) => p.properties?.birthday,
  leadUnit: 'days',
  leadValue: 0,
  recurrence: 'annually',
  timezone: 'UTC',
  triggerTime: [10, 0, 0],
  triggerDays: null,
  ...over,
});
const at = (iso: string) => Date.parse(iso);
const next = (s: DateTriggerSpec, value: unknown, after: string, zone = 'UTC') => {
  const t = nextDateEntry(s, value, zone, at(after));
  return t === null ? null : new Date(t).toISOString();
};

describe('parseDateValue', () => {
  it.each([
    ['1990-07-14', { year: 1990, month: 7, day: 14 }],
    ['1990-07-14T23:30:00-05:00', { year: 1990, month: 7, day: 14 }],
    [647913600, { year: 1990, month: 7, day: 14 }],
    ['14/07/1990', null],
    ['1990-02-30', null],
    [null, null],
  ])('%j → %j', (value, expected) => {
    expect(parseDateValue(value)).toEqual(expected);
  });
});

describe('nextDateEntry', () => {
  it('annually: this year at trigger time, or next year once it has passed; never back-filled', () => {
    expect(next(spec(), '1990-07-14', '2026-07-14T09:00:00Z')).toBe('2026-07-14T10:00:00.000Z');
    expect(next(spec(), '1990-07-14', '2026-07-14T10:00:00Z')).toBe('2027-07-14T10:00:00.000Z');
  });

  it('in the profile zone: 10:00 local in Tokyo and in Los Angeles', () => {
    const s = spec({ timezone: 'profile' });
    expect(next(s, '1990-07-14', '2026-07-01T00:00:00Z', triggerZone(s, 'Asia/Tokyo'))).toBe(
      '2026-07-14T01:00:00.000Z',
    );
    expect(
      next(s, '1990-07-14', '2026-07-01T00:00:00Z', triggerZone(s, 'America/Los_Angeles')),
    ).toBe('2026-07-14T17:00:00.000Z');
    expect(triggerZone(s, 'Not/AZone')).toBe('UTC');
  });

  it('29 February is 28 February in a year without one', () => {
    expect(next(spec(), '2000-02-29', '2027-01-01T00:00:00Z')).toBe('2027-02-28T10:00:00.000Z');
    expect(next(spec(), '2000-02-29', '2028-01-01T00:00:00Z')).toBe('2028-02-29T10:00:00.000Z');
  });

  it('leads: a week before, a month before (clamped), two days after', () => {
    expect(
      next(spec({ leadUnit: 'weeks', leadValue: 1 }), '1990-07-14', '2026-01-01T00:00:00Z'),
    ).toBe('2026-07-07T10:00:00.000Z');
    expect(
      next(spec({ leadUnit: 'months', leadValue: 1 }), '1990-03-31', '2026-01-01T00:00:00Z'),
    ).toBe('2026-02-28T10:00:00.000Z');
    expect(next(spec({ leadValue: -2 }), '1990-12-31', '2026-06-01T00:00:00Z')).toBe(
      '2027-01-02T10:00:00.000Z',
    );
  });

  it('monthly clamps the day; weekly keeps the weekday; never fires once', () => {
    expect(next(spec({ recurrence: 'monthly' }), '2020-01-31', '2026-04-01T00:00:00Z')).toBe(
      '2026-04-30T10:00:00.000Z',
    );
    // 2026-12-04 is a Friday; 1990-07-13 was a Friday.
    expect(next(spec({ recurrence: 'weekly' }), '1990-07-13', '2026-12-01T00:00:00Z')).toBe(
      '2026-12-04T10:00:00.000Z',
    );
    expect(next(spec({ recurrence: 'never' }), '2026-12-25', '2026-12-01T00:00:00Z')).toBe(
      '2026-12-25T10:00:00.000Z',
    );
    expect(next(spec({ recurrence: 'never' }), '2026-11-25', '2026-12-01T00:00:00Z')).toBeNull();
  });

  it('trigger_days keeps only entry days on those weekdays', () => {
    const fridays = spec({ recurrence: 'monthly', triggerDays: ['friday'] });
    // The 4th of each month: December 2026 (Friday) qualifies; January 2027 (Monday) does not.
    expect(next(fridays, '2020-01-04', '2026-11-05T00:00:00Z')).toBe('2026-12-04T10:00:00.000Z');
    expect(next(fridays, '2020-01-04', '2026-12-05T00:00:00Z')).toBe('2027-06-04T10:00:00.000Z');
  });

  it('no date, no entry', () => {
    expect(next(spec(), undefined, '2026-01-01T00:00:00Z')).toBeNull();
    expect(next(spec(), 'soon', '2026-01-01T00:00:00Z')).toBeNull();
  });
});
