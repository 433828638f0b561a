import type { FlowhookEvent } from '../../../src/documents';
import { applyEvent, applyUpdate } from '../../../src/profiles/apply';
import {
  decodeProfileRecord,
  emptyProfileRecord,
  encodeProfileRecord,
  mergeProfile,
  patchProperties,
  recordMetric,
  seriesTotals,
  type HistoryLimits,
} from '../../../src/profiles/record';
import { profileUpdateFromValue } from '../../../src/profiles/update';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-06-01T12:00:00Z');
const origin = { topic: 'profiles', partition: 0, offset: '7', timestampMs: T0 };

function event(metric: string, atMs: number, properties: FlowhookEvent['properties'] = {}) {
  return {
    id: `e-${metric}-${atMs}`,
    metric,
    time: new Date(atMs).toISOString(),
    profile: { id: 'p1' },
    properties,
  };
}

describe('profile fields: newer wins, by time', () => {
  it('overwrites with a newer update, only fills gaps with an older one, and clears nulls', () => {
    let r = mergeProfile(emptyProfileRecord(), { id: 'p1', first_name: 'Ann' }, T0);
    r = mergeProfile(r, { first_name: 'Old', last_name: 'Lee' }, T0 - HOUR);
    expect(r.profile).toEqual({ id: 'p1', first_name: 'Ann', last_name: 'Lee' });
    r = mergeProfile(r, { properties: { tier: 'gold', city: 'X' } }, T0 + HOUR);
    r = mergeProfile(r, {}, T0 + 2 * HOUR, ['first_name', 'properties.city']);
    expect(r.profile).toEqual({ id: 'p1', last_name: 'Lee', properties: { tier: 'gold' } });
    expect(r.at).toBe(T0 + 2 * HOUR);
  });

  it('applies Klaviyo patch_properties: append, unappend, unset', () => {
    let r = mergeProfile(emptyProfileRecord(), { id: 'p1', properties: { tags: ['a'], x: 1 } }, T0);
    r = patchProperties(r, { append: { tags: 'b' }, unappend: { tags: 'a' }, unset: ['x'] }, T0);
    expect(r.profile.properties).toEqual({ tags: ['b'] });
  });

  it('round-trips through the store codec and refuses foreign bytes', () => {
    const r = applyEvent(null, event('Placed Order', T0, { $value: 10 }), []).record;
    expect(decodeProfileRecord(encodeProfileRecord(r))).toEqual(r);
    expect(decodeProfileRecord(Buffer.from('{"v":2}'))).toBeNull();
    expect(decodeProfileRecord(Buffer.from('not json'))).toBeNull();
  });
});

describe('metric history', () => {
  const limits: HistoryLimits = { recentPerSeries: 3, maxSeries: 2, retentionMs: 30 * DAY };

  it('counts and sums exactly within the recent events, whole days beyond', () => {
    let r = emptyProfileRecord();
    const times = [T0 - 10 * DAY, T0 - 5 * DAY, T0 - 2 * HOUR, T0 - HOUR, T0];
    for (const t of times) r = recordMetric(r, 'Placed Order', t, 5, limits, T0);
    const s = r.metrics['Placed Order'];
    expect(s?.recent.map(([t]) => t)).toEqual([T0 - 2 * HOUR, T0 - HOUR, T0]);
    expect(seriesTotals(s, -Infinity, Infinity)).toEqual({ count: 5, sum: 25 });
    expect(seriesTotals(s, T0 - 90 * 60_000, Infinity)).toEqual({ count: 2, sum: 10 });
    expect(seriesTotals(s, T0 - 7 * DAY, T0)).toEqual({ count: 4, sum: 20 });
    expect(seriesTotals(undefined, 0, T0)).toEqual({ count: 0, sum: 0 });
  });

  it('drops history older than the retention but keeps the lifetime totals', () => {
    let r = recordMetric(emptyProfileRecord(), 'm', T0 - 40 * DAY, 1, limits, T0 - 40 * DAY);
    r = recordMetric(r, 'm', T0, 1, limits, T0);
    expect(seriesTotals(r.metrics.m, T0 - 365 * DAY, T0)).toEqual({ count: 1, sum: 1 });
    expect(seriesTotals(r.metrics.m, -Infinity, Infinity)).toEqual({ count: 2, sum: 2 });
  });

  it('keeps at most maxSeries series, dropping the least recently active', () => {
    let r = recordMetric(emptyProfileRecord(), 'a', T0 - 2 * HOUR, 0, limits, T0);
    r = recordMetric(r, 'b', T0 - HOUR, 0, limits, T0);
    r = recordMetric(r, 'c', T0, 0, limits, T0);
    expect(Object.keys(r.metrics).sort()).toEqual(['b', 'c']);
  });
});

describe('applyEvent', () => {
  it('merges the snapshot, records history (backfilled too) and the property-filtered series', () => {
    const big = {
      key: 'Placed Order|big',
      matches: (p: Record<string, unknown>) => Number(p.$value) > 100,
    };
    let r = applyEvent(null, event('Placed Order', T0, { $value: 500 }), [big]).record;
    r = applyEvent(r, { ...event('Placed Order', T0 + 1, { $value: 5 }), backfill: true }, [
      big,
    ]).record;
    expect(r.metrics['Placed Order']?.n).toBe(2);
    expect(r.metrics['Placed Order|big']?.n).toBe(1);
    expect(r.metrics['Placed Order']?.s).toBe(505);
    expect(r.profile.id).toBe('p1');
  });

  it('says whether a list or segment join is new, and applies leaves and consent', () => {
    const join = applyEvent(null, event('Subscribed to List', T0, { list_id: 'L1' }), []);
    expect(join.newMembership).toBe(true);
    const again = applyEvent(join.record, event('Added to List', T0 + 1, { list_id: 'L1' }), []);
    expect(again.newMembership).toBe(false);
    const left = applyEvent(
      again.record,
      event('Unsubscribed from List', T0 + 2, { list_id: 'L1' }),
      [],
    );
    expect(left.record.lists).toEqual({});
    expect(left.newMembership).toBeUndefined();
    const seg = applyEvent(left.record, event('Entered Segment', T0, { segment_id: 'VIP' }), []);
    expect(seg.record.segments).toEqual({ VIP: T0 });
    const unsub = applyEvent(seg.record, event('Unsubscribed from Email Marketing', T0, {}), []);
    expect(unsub.record.consent.email).toEqual({ status: 'unsubscribed', at: T0 });
  });
});

describe('profile updates', () => {
  it('decodes the canonical form and applies fields, consent and lists; reports new joins only', () => {
    const update = profileUpdateFromValue(
      {
        profile: {
          id: 'p1',
          first_name: 'Ann',
          title: null,
          properties: { tier: 'gold', x: null },
        },
        time: '2026-06-01T13:00:00Z',
        consent: { email: 'subscribed' },
        lists: { add: ['L1', 'L2'], remove: ['L0'] },
      },
      origin,
    );
    expect(update.id).toBe('profile-update:profiles:0:7');
    expect(update.cleared).toEqual(['title', 'properties.x']);
    const before = applyEvent(null, event('Subscribed to List', T0, { list_id: 'L1' }), []).record;
    const r = applyUpdate(before, update);
    expect(r.joined).toEqual([{ kind: 'lists', id: 'L2' }]);
    expect(Object.keys(r.record.lists).sort()).toEqual(['L1', 'L2']);
    expect(r.record.consent.email?.status).toBe('subscribed');
    expect(r.record.profile).toMatchObject({ first_name: 'Ann', properties: { tier: 'gold' } });
  });

  it("decodes Klaviyo's profile-import body: nulls clear, locale and image become properties, subscriptions set consent", () => {
    const update = profileUpdateFromValue(
      {
        data: {
          type: 'profile',
          id: '01KLAVIYOID',
          attributes: {
            email: 'ann@example.com',
            first_name: null,
            locale: 'en-US',
            properties: { plan: 'pro' },
            subscriptions: { sms: { marketing: { consent: 'UNSUBSCRIBED' } } },
          },
          meta: { patch_properties: { append: { tags: 'vip' }, unset: 'old' } },
        },
      },
      origin,
    );
    expect(update.profile).toEqual({
      id: '01KLAVIYOID',
      email: 'ann@example.com',
      properties: { plan: 'pro', $locale: 'en-US' },
    });
    expect(update.cleared).toEqual(['first_name']);
    expect(update.consent).toEqual({ sms: 'unsubscribed' });
    expect(update.patch).toEqual({ append: { tags: 'vip' }, unset: ['old'] });
    expect(update.timeMs).toBe(T0);
  });

  it.each([
    [{ profile: { first_name: 'No id' } }, /\$.profile: Needs at least one identifier/],
    [{ profile: { id: 'p1' }, consent: { email: 'maybe' } }, /\$.consent.email: must be one of/],
    [{ data: { type: 'event', attributes: {} } }, /must be 'profile'/],
    [{ data: { type: 'profile', attributes: { email: 5 } } }, /email: must be a string or null/],
    [[1, 2], /not a flowhook profile update/],
  ])('refuses %j with a clear reason', (value, message) => {
    expect(() => profileUpdateFromValue(value, origin)).toThrow(message);
  });
});
