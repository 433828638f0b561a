import {
  delayedMessage,
  delayTierFor,
  NOT_BEFORE_HEADER,
  parseNotBefore,
  readDelayHeaders,
  TARGET_HEADER,
  withoutDelayHeaders,
} from '../../../src/delay/message';
import { DELAY_TIERS, topicNames } from '../../../src/kafka/topics';
import { RETRY_TIERS } from '../../../src/delivery/retry-schedule';

const topics = topicNames('flowhook.');

describe('delay tiers', () => {
  it('are the retry tiers', () => {
    expect(RETRY_TIERS.map((t) => t.name)).toEqual([...DELAY_TIERS]);
  });

  it.each([
    [-5000, '1s'],
    [0, '1s'],
    [4999, '1s'],
    [5000, '5s'],
    [59_999, '5s'],
    [60_000, '1m'],
    [3_599_999, '10m'],
    [3_600_000, '1h'],
    [6 * 3_600_000, '6h'],
    [30 * 86_400_000, '6h'],
  ])('a wait of %d ms goes to the %s tier', (wait, tier) => {
    expect(delayTierFor(wait)).toBe(tier);
  });
});

describe('delayedMessage', () => {
  const now = Date.parse('2025-01-01T00:00:00.000Z');

  it('picks the tier from the wait and adds the two delay headers', () => {
    const d = delayedMessage(
      {
        target: topics.jobs,
        notBefore: now + 90_000,
        key: 'k',
        value: 'v',
        headers: { 'trace-id': 't1', [TARGET_HEADER]: 'stale' },
      },
      topics.retry,
      undefined,
      now,
    );
    expect(d.topic).toBe('flowhook.retry.1m');
    expect(d.tier).toBe('1m');
    expect(d.message).toEqual({
      key: 'k',
      value: 'v',
      headers: {
        'trace-id': 't1',
        [NOT_BEFORE_HEADER]: '2025-01-01T00:01:30.000Z',
        [TARGET_HEADER]: 'flowhook.jobs',
      },
    });
  });

  it('uses a given tier, ignores an unknown one, and accepts ISO and Date times', () => {
    const input = { target: topics.jobs, value: null };
    expect(
      delayedMessage({ ...input, notBefore: new Date(now + 1000) }, topics.delays, '1h', now).topic,
    ).toBe('flowhook.delays.1h');
    expect(
      delayedMessage({ ...input, notBefore: '2025-01-01T00:10:00Z' }, topics.delays, '7s', now)
        .topic,
    ).toBe('flowhook.delays.10m');
    expect(() => delayedMessage({ ...input, notBefore: 'soon' }, topics.delays)).toThrow(
      RangeError,
    );
  });
});

describe('reading delay headers', () => {
  it('parses ISO and epoch-ms not-before values', () => {
    expect(parseNotBefore('2025-01-01T00:00:00Z')).toBe(Date.parse('2025-01-01T00:00:00Z'));
    expect(parseNotBefore(' 1735689600000 ')).toBe(1735689600000);
    expect(parseNotBefore('tomorrow')).toBeUndefined();
    expect(parseNotBefore(undefined)).toBeUndefined();
  });

  it('reads the target and not-before (any case, Buffer values)', () => {
    expect(
      readDelayHeaders({
        'Flowhook-Target': Buffer.from('flowhook.jobs'),
        [NOT_BEFORE_HEADER]: '1000',
      }),
    ).toEqual({ ok: true, target: 'flowhook.jobs', notBefore: 1000, rawNotBefore: '1000' });
    expect(readDelayHeaders({ [NOT_BEFORE_HEADER]: '1000' })).toMatchObject({
      ok: false,
      reason: 'target_missing',
    });
    expect(readDelayHeaders({ [TARGET_HEADER]: 'x', [NOT_BEFORE_HEADER]: 'bad' })).toMatchObject({
      ok: true,
      notBefore: undefined,
    });
  });

  it('forwards every other header', () => {
    expect(
      withoutDelayHeaders({ a: '1', [TARGET_HEADER]: 't', [NOT_BEFORE_HEADER]: '2', b: 'x' }),
    ).toEqual({ a: '1', b: 'x' });
  });
});
