import { computeDelay, zonedTimeToUtc } from '../../../src/trigger/delay';

const at = (iso: string): Date => new Date(iso);

describe('computeDelay', () => {
  it.each<[string, Parameters<typeof computeDelay>[0], number]>([
    ['minutes', { unit: 'minutes', value: 15 }, 15 * 60_000],
    ['hours', { unit: 'hours', value: 2 }, 2 * 3_600_000],
    ['days (default unit) as 24 h', { value: 3 }, 3 * 86_400_000],
    ['zero', { unit: 'hours', value: 0 }, 0],
    [
      'hours ignore delay_until_time',
      { unit: 'hours', value: 1, delay_until_time: '15:00' },
      3_600_000,
    ],
  ])('%s', (_d, data, waitMs) => {
    const now = at('2024-03-05T10:20:30Z');
    const r = computeDelay(data, now);
    expect(r.waitMs).toBe(waitMs);
    expect(r.resumeAt.getTime()).toBe(now.getTime() + waitMs);
  });

  it('"1 day until 15:00" resumes at 15:00 the next day, whether entry was 14:00 or 16:00', () => {
    const data = { unit: 'days' as const, value: 1, delay_until_time: '15:00', timezone: 'UTC' };
    expect(computeDelay(data, at('2024-03-05T14:00:00Z')).resumeAt.toISOString()).toBe(
      '2024-03-06T15:00:00.000Z',
    );
    expect(computeDelay(data, at('2024-03-05T16:00:00Z')).resumeAt.toISOString()).toBe(
      '2024-03-06T15:00:00.000Z',
    );
  });

  it('"0 days until 15:00" is today, or tomorrow once 15:00 has passed', () => {
    const data = { unit: 'days' as const, value: 0, delay_until_time: '15:00:00', timezone: 'UTC' };
    expect(computeDelay(data, at('2024-03-05T14:00:00Z')).resumeAt.toISOString()).toBe(
      '2024-03-05T15:00:00.000Z',
    );
    expect(computeDelay(data, at('2024-03-05T16:00:00Z')).resumeAt.toISOString()).toBe(
      '2024-03-06T15:00:00.000Z',
    );
  });

  it("uses the profile's time zone by default", () => {
    const data = { unit: 'days' as const, value: 1, delay_until_time: '09:00' };
    const r = computeDelay(data, at('2024-07-01T12:00:00Z'), 'America/New_York');
    expect(r.timeZone).toBe('America/New_York');
    expect(r.resumeAt.toISOString()).toBe('2024-07-02T13:00:00.000Z'); // 09:00 EDT
  });

  it('falls back to UTC (or the given zone) when the profile zone is missing or invalid', () => {
    const data = {
      unit: 'days' as const,
      value: 1,
      delay_until_time: '09:00',
      timezone: 'profile',
    };
    expect(
      computeDelay(data, at('2024-07-01T12:00:00Z'), 'Mars/Olympus').resumeAt.toISOString(),
    ).toBe('2024-07-02T09:00:00.000Z');
    expect(
      computeDelay(data, at('2024-07-01T12:00:00Z'), null, 'Europe/Paris').resumeAt.toISOString(),
    ).toBe('2024-07-02T07:00:00.000Z');
  });

  it('counts calendar days across a daylight-saving change', () => {
    // Europe/Paris springs forward on 2024-03-31: 10:00 local is 09:00Z before, 08:00Z after.
    const data = {
      unit: 'days' as const,
      value: 2,
      delay_until_time: '10:00',
      timezone: 'Europe/Paris',
    };
    expect(computeDelay(data, at('2024-03-30T12:00:00Z')).resumeAt.toISOString()).toBe(
      '2024-04-01T08:00:00.000Z',
    );
  });

  it('moves to the next allowed weekday', () => {
    // 2024-03-08 is a Friday.
    const data = {
      unit: 'days' as const,
      value: 1,
      delay_until_time: '09:00',
      delay_until_weekdays: ['monday' as const, 'tuesday' as const],
      timezone: 'UTC',
    };
    expect(computeDelay(data, at('2024-03-08T12:00:00Z')).resumeAt.toISOString()).toBe(
      '2024-03-11T09:00:00.000Z',
    );
    const noTime = {
      unit: 'days' as const,
      value: 0,
      delay_until_weekdays: ['wednesday' as const],
      timezone: 'UTC',
    };
    expect(computeDelay(noTime, at('2024-03-08T12:34:56Z')).resumeAt.toISOString()).toBe(
      '2024-03-13T12:34:56.000Z',
    );
  });
});

describe('zonedTimeToUtc', () => {
  it('converts wall-clock times, including normalised day overflow', () => {
    expect(new Date(zonedTimeToUtc(2024, 1, 15, 9, 0, 0, 'America/New_York')).toISOString()).toBe(
      '2024-01-15T14:00:00.000Z',
    );
    expect(new Date(zonedTimeToUtc(2024, 1, 32, 0, 0, 0, 'UTC')).toISOString()).toBe(
      '2024-02-01T00:00:00.000Z',
    );
    expect(new Date(zonedTimeToUtc(2024, 6, 1, 12, 0, 0, 'Asia/Kolkata')).toISOString()).toBe(
      '2024-06-01T06:30:00.000Z',
    );
  });
});
