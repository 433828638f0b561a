import { formatDuration, parseDuration } from '../../../src/duration';
import {
  DEFAULT_RETRY_DELAYS_MS,
  DEFAULT_RETRY_SCHEDULE,
  parseRetryAfter,
  RETRY_TIERS,
  retryTopic,
  RetrySchedule,
  tierFor,
  tiersFrom,
} from '../../../src/delivery/retry-schedule';
import { DELAY_TIERS } from '../../../src/kafka/topics';
import { ConfigError } from '../../../src/errors';

const S = 1000;
const H = 3_600_000;

describe('default schedule', () => {
  const schedule = RetrySchedule.parse(undefined);

  test('is 17 retries doubling from 10 s, capped at 2 h', () => {
    expect(DEFAULT_RETRY_SCHEDULE).toBe(
      '10s,20s,40s,80s,160s,320s,640s,1280s,2560s,5120s,2h,2h,2h,2h,2h,2h,2h',
    );
    expect(schedule.delaysMs).toEqual(DEFAULT_RETRY_DELAYS_MS);
    expect(schedule.maxRetries).toBe(17);
    expect(schedule.jitter).toBe(0.2);
  });

  test('fits in 24 h even when every jitter draw is +20 %', () => {
    const nominal = DEFAULT_RETRY_DELAYS_MS.reduce((a, b) => a + b, 0);
    expect(nominal).toBe(60_630 * S);
    let worst = 0;
    for (let n = 1; n <= 17; n += 1) worst += schedule.delayFor(n, () => 0.999999) as number;
    expect(worst).toBeLessThanOrEqual(24 * H);
  });

  test('is exhausted after the last entry', () => {
    expect(schedule.isExhausted(17)).toBe(false);
    expect(schedule.isExhausted(18)).toBe(true);
    expect(schedule.isExhausted(0)).toBe(true);
    expect(schedule.delayFor(18)).toBeUndefined();
    expect(schedule.nextDelay(18, { retryAfter: '5' })).toBeUndefined();
  });
});

describe('parsing FLOWHOOK_RETRY_SCHEDULE', () => {
  test('reads a comma list with units ms, s, m, h, d', () => {
    expect(RetrySchedule.parse('10s,1m,10m,1h').delaysMs).toEqual([10 * S, 60 * S, 600 * S, H]);
    expect(RetrySchedule.parse(' 250ms , 1.5h, 2d ').delaysMs).toEqual([250, 1.5 * H, 48 * H]);
    expect(RetrySchedule.parse(DEFAULT_RETRY_SCHEDULE).delaysMs).toEqual(DEFAULT_RETRY_DELAYS_MS);
  });

  test('blank means the default, none means no retries', () => {
    expect(RetrySchedule.parse('  ').maxRetries).toBe(17);
    const none = RetrySchedule.parse('none');
    expect(none.maxRetries).toBe(0);
    expect(none.nextDelay(1)).toBeUndefined();
  });

  test.each(['10', '10x', 'abc', '10s,,1m', '1m,', '-5s', '1 h 2m'])('rejects %j', (text) => {
    let caught: unknown;
    try {
      RetrySchedule.parse(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems[0]).toMatchObject({
      name: 'FLOWHOOK_RETRY_SCHEDULE',
      value: text,
    });
  });

  test('durations format back with the largest exact unit', () => {
    expect([10 * S, 90 * S, 120 * S, 2 * H, 48 * H, 1500].map(formatDuration)).toEqual([
      '10s',
      '90s',
      '2m',
      '2h',
      '2d',
      '1500ms',
    ]);
    expect(parseDuration('7m')).toBe(420 * S);
    expect(parseDuration('7')).toBeUndefined();
  });
});

describe('jitter', () => {
  const schedule = RetrySchedule.parse('10s,1m');

  test('spans ±20 % of the scheduled delay', () => {
    expect(schedule.delayFor(1, () => 0)).toBe(8 * S);
    expect(schedule.delayFor(1, () => 0.5)).toBe(10 * S);
    expect(schedule.delayFor(2, () => 0.75)).toBe(66 * S);
    expect(schedule.delayFor(1, () => 0.999999)).toBeLessThanOrEqual(12 * S);
  });

  test('random draws always stay within the bounds', () => {
    for (let i = 0; i < 2000; i += 1) {
      const d = schedule.delayFor(2) as number;
      expect(d).toBeGreaterThanOrEqual(48 * S);
      expect(d).toBeLessThanOrEqual(72 * S);
    }
  });

  test('a zero-jitter schedule is exact', () => {
    expect(new RetrySchedule([5 * S], 0).delayFor(1, () => 0)).toBe(5 * S);
  });
});

describe('Retry-After', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');

  test('parses delta-seconds and HTTP-dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120 * S);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Sun, 01 Mar 2026 12:00:30 GMT', now)).toBe(30 * S);
    expect(parseRetryAfter('Sunday, 01-Mar-26 12:01:00 GMT', now)).toBe(60 * S);
    expect(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', now)).toBe(0); // in the past
  });

  test.each([undefined, '', '-5', '1.5', 'soon', '12abc'])('ignores %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });

  const schedule = RetrySchedule.parse('10s');
  const mid = (): number => 0.5; // scheduled delay exactly 10 s

  test.each([
    ['5', 10 * S], // shorter than the schedule: the schedule wins
    ['15', 15 * S], // inside [1x, 2x]: honoured
    ['3600', 20 * S], // beyond 2x: clamped
    ['Sun, 01 Mar 2026 12:00:17 GMT', 17 * S], // HTTP-date
    ['Sun, 01 Mar 2026 13:00:00 GMT', 20 * S],
    ['garbage', 10 * S],
  ])('Retry-After %j → %i ms', (retryAfter, expected) => {
    expect(schedule.nextDelay(1, { random: mid, retryAfter, now })?.delayMs).toBe(expected);
  });

  test('reports the scheduled and requested waits', () => {
    expect(schedule.nextDelay(1, { random: mid, retryAfter: '15', now })).toEqual({
      delayMs: 15 * S,
      scheduledMs: 10 * S,
      retryAfterMs: 15 * S,
    });
    expect(schedule.nextDelay(1, { random: mid })).toEqual({
      delayMs: 10 * S,
      scheduledMs: 10 * S,
    });
  });
});

describe('tiers', () => {
  test('are fixed, ascending, and the topics the Kafka layer creates', () => {
    expect(RETRY_TIERS.map((t) => t.name)).toEqual(['1s', '5s', '1m', '10m', '1h', '6h']);
    expect(RETRY_TIERS.map((t) => t.name)).toEqual([...DELAY_TIERS]);
    for (let i = 1; i < RETRY_TIERS.length; i += 1) {
      expect(RETRY_TIERS[i]?.ms).toBeGreaterThan(RETRY_TIERS[i - 1]?.ms as number);
    }
  });

  test.each([
    [0, '1s'],
    [4_999, '1s'],
    [5_000, '5s'],
    [10 * S, '5s'],
    [59 * S, '5s'],
    [60 * S, '1m'],
    [600 * S - 1, '1m'],
    [600 * S, '10m'],
    [2 * H, '1h'],
    [6 * H, '6h'],
    [30 * H, '6h'],
  ])('tierFor(%i) = %s', (delay, tier) => {
    expect(tierFor(delay)).toBe(tier);
  });

  test('a tier never holds a job longer than it wants (tier delay ≤ delay)', () => {
    const schedule = RetrySchedule.parse(undefined);
    for (let n = 1; n <= 17; n += 1) {
      for (const r of [0, 0.5, 0.999]) {
        const delay = schedule.delayFor(n, () => r) as number;
        const tier = RETRY_TIERS.find((t) => t.name === tierFor(delay));
        expect(tier?.ms).toBeLessThanOrEqual(delay);
      }
    }
  });

  test('another tier list can be used', () => {
    const fine = tiersFrom(['30s', '10s', '1m', '2m']);
    expect(fine.map((t) => t.name)).toEqual(['10s', '30s', '1m', '2m']);
    expect(tierFor(45 * S, fine)).toBe('30s');
    expect(tierFor(5 * H, fine)).toBe('2m');
    expect(() => tiersFrom(['10x'])).toThrow(RangeError);
    expect(() => tiersFrom([])).toThrow(RangeError);
  });

  test('topic names follow flowhook.retry.<tier> with the prefix', () => {
    expect(retryTopic('10m')).toBe('flowhook.retry.10m');
    expect(retryTopic('1h', 'staging.flowhook.')).toBe('staging.flowhook.retry.1h');
  });
});
