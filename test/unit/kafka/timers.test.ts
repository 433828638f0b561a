import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStateDirectory, StorePartition, type StoreSpec } from '../../../src/kafka/store';
import { TimerService, timerStoreSpec } from '../../../src/kafka/timers';

const DAY = 86_400_000;
let dir: string;
let local: LocalStateDirectory;
let store: StorePartition<unknown>;
let timers: TimerService;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flowhook-timers-'));
  local = new LocalStateDirectory(dir);
  store = new StorePartition(timerStoreSpec('t') as StoreSpec<unknown>, 0, local);
  timers = new TimerService(store as never);
});
afterEach(() => {
  local.close();
  LocalStateDirectory.remove(dir);
});

describe('TimerService', () => {
  it('a 1-day timer set after a 30-day one is due first (time compressed by the caller)', () => {
    const t0 = Date.UTC(2026, 0, 1);
    timers.schedule({ id: 'long', due: t0 + 30 * DAY, key: 'p1', payload: 'thirty days' });
    timers.schedule({ id: 'short', due: t0 + DAY, key: 'p1', payload: 'one day' });
    expect(timers.nextDue()).toBe(t0 + DAY);
    expect(timers.due(t0 + DAY, 10).map((t) => t.payload)).toEqual(['one day']);
    expect(timers.due(t0 + DAY - 1, 10)).toEqual([]);
    timers.cancel('short');
    expect(timers.nextDue()).toBe(t0 + 30 * DAY);
  });

  it('a 1-minute timer set after a 6-minute one fires at one minute', () => {
    const t0 = 1_000_000;
    timers.schedule({ id: 'six', due: t0 + 6 * 60_000, key: 'p', payload: 6 });
    timers.schedule({ id: 'one', due: t0 + 60_000, key: 'p', payload: 1 });
    expect(timers.due(t0 + 60_000, 10).map((t) => t.id)).toEqual(['one']);
  });

  it('orders timers from 1 s to 400 days by due time, whatever the order they were set in', () => {
    const t0 = Date.UTC(2026, 5, 1);
    const waits = [400 * DAY, 1000, 7 * DAY, 60_000, 3_600_000, 30 * DAY];
    waits.forEach((w, i) => timers.schedule({ id: `t${i}`, due: t0 + w, key: 'k', payload: w }));
    store.seal();
    store.committed(1n);
    const fired = timers.due(t0 + 400 * DAY, 100).map((t) => t.payload);
    expect(fired).toEqual([...waits].sort((a, b) => a - b));
  });

  it('rescheduling an id replaces it; cancel removes it and its index', () => {
    timers.schedule({ id: 'x', due: 5000, key: 'k', payload: 'a' });
    timers.schedule({ id: 'x', due: 9000, key: 'k', payload: 'b' });
    expect(timers.due(8000, 10)).toEqual([]);
    expect(timers.get('x')?.payload).toBe('b');
    expect(timers.cancel('x')).toBe(true);
    expect(timers.cancel('x')).toBe(false);
    expect(timers.nextDue()).toBeUndefined();
    expect([...store.range({})]).toEqual([]);
  });

  it('survives a reopen once committed (timers are on disk, not in a heap)', () => {
    timers.schedule({ id: 'x', due: 5000, key: 'k', payload: { flow: 'f' } });
    store.seal();
    store.committed(10n);
    local.close();
    local = new LocalStateDirectory(dir);
    const reopened = new TimerService(
      new StorePartition(timerStoreSpec('t') as StoreSpec<unknown>, 0, local) as never,
    );
    expect(reopened.due(5000, 10)).toEqual([
      { id: 'x', due: 5000, key: 'k', payload: { flow: 'f' } },
    ]);
  });
});
