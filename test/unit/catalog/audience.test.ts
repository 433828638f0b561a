import {
  applyAudienceRecord,
  audienceKey,
  audienceOf,
  audienceRange,
  audienceRecords,
  lastActivity,
  parseAudienceRecord,
  profileFromKey,
  profileKeyOf,
} from '../../../src/catalog/audience';
import type { FlowhookEvent } from '../../../src/documents';
import { profileKey } from '../../../src/profile-key';

const event = (metric: string, properties: FlowhookEvent['properties']): FlowhookEvent => ({
  id: 'e1',
  metric,
  time: '2026-05-01T10:00:00Z',
  profile: { id: 'p1' },
  properties,
});

describe('item audience', () => {
  it.each<[string, FlowhookEvent['properties'], string, string[]]>([
    ['Viewed Product', { ProductID: 1111 }, 'viewed', ['1111']],
    [
      'Added to Cart',
      { AddedItemProductID: 'A', AddedItem: { ProductID: 'B' }, Items: [{ ProductID: 'C' }] },
      'added-to-cart',
      ['A', 'B', 'C'],
    ],
    [
      'Started Checkout',
      { Items: [{ ProductID: 'A' }, { ProductID: 'A' }, { SKU: 'x' }] },
      'checkout-started',
      ['A'],
    ],
    ['Placed Order', { Items: [{ ProductID: 'A' }, { ProductID: 2 }] }, 'purchased', ['A', '2']],
    ['Ordered Product', { ProductID: 'A', Items: [{ ProductID: 'Z' }] }, 'purchased', ['A']],
  ])('reads %s', (metric, properties, kind, items) => {
    expect(audienceOf(event(metric, properties))).toEqual({ kind, items });
  });

  it('ignores other metrics and events that name no item', () => {
    expect(audienceOf(event('Opened Email', { ProductID: 'A' }))).toBeNull();
    expect(audienceOf(event('Viewed Product', { ProductID: '' }))).toBeNull();
    expect(audienceOf(event('Viewed Product', { Items: [{ ProductID: 'A' }] }))).toBeNull();
  });

  it('makes one record per item, keyed by item, and keeps the latest time per kind', () => {
    const [record] = audienceRecords(event('Viewed Product', { ProductID: 'A' }), 'p1');
    expect(record).toEqual({
      item_id: 'A',
      profile_key: 'p1',
      kind: 'viewed',
      time: '2026-05-01T10:00:00Z',
      event_id: 'e1',
    });
    expect(parseAudienceRecord(JSON.parse(JSON.stringify(record)))).toEqual(record);
    expect(parseAudienceRecord({ ...record, kind: 'clicked' })).toBeNull();
    const first = applyAudienceRecord(undefined, record!);
    expect(first).toEqual({ viewed: Date.parse('2026-05-01T10:00:00Z') });
    expect(applyAudienceRecord(first!, record!)).toBeNull();
    const bought = applyAudienceRecord(first!, {
      ...record!,
      kind: 'purchased',
      time: '2026-05-02T10:00:00Z',
    });
    expect(lastActivity(bought!)).toBe(Date.parse('2026-05-02T10:00:00Z'));
  });

  it('keys rows by item then profile, and one item never ranges over another', () => {
    const key = audienceKey('A', 'email:ann@example.com');
    const { start, end } = audienceRange('A');
    expect(key >= start && key < end).toBe(true);
    const other = audienceKey('AB', 'p');
    expect(other >= start && other < end).toBe(false);
    expect(profileKeyOf(key, 'A')).toBe('email:ann@example.com');
  });

  it.each(['p1', 'external:x-1', 'email:ann@example.com', 'phone:+4412', 'anonymous:a', 'kx:k'])(
    'turns the profile key %s back into a profile with that key',
    (key) => {
      expect(profileKey(profileFromKey(key))).toBe(key);
    },
  );
});
