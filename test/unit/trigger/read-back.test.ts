import { readBackMismatches } from '../../../src/trigger/role';

const counts: Record<string, number> = { events: 6, orders: 6, small: 1, outcomes: 6, entries: 3 };
const count = (t: string) => counts[t] ?? 0;

describe('readBackMismatches', () => {
  it('accepts read-back topics as wide as every event topic', () => {
    expect(readBackMismatches(count, ['events', 'orders'], ['outcomes'])).toEqual([]);
  });

  it('names each read-back topic whose width differs, and the event topics it differs from', () => {
    expect(readBackMismatches(count, ['events', 'small'], ['outcomes', 'entries'])).toEqual([
      { topic: 'outcomes', partitions: 6, events: 'small (1)' },
      { topic: 'entries', partitions: 3, events: 'events (6), small (1)' },
    ]);
  });

  it('skips read-back topics that do not exist (yet)', () => {
    expect(readBackMismatches(count, ['small'], ['missing'])).toEqual([]);
  });
});
