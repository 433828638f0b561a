// Durable timers ("wake key K at time T"), kept in a state store so they are on disk (not in a
// heap of millions), restored with the rest of the state, and changed in the same transaction
// as what set them or what they cause.
//
// Layout in the store (one store partition per input partition, like every store):
//   d:<due ms, 15 digits>:<timer id>  → the timer        (ordered by due time: the next one
//                                                          due is the first key, so a short
//                                                          wait never waits behind a long one)
//   i:<timer id>                      → the due key above (to cancel or reschedule by id)

import type { KeyValueStore, StoreSpec } from './store';
import { jsonCodec } from './store';

export interface Timer<P = unknown> {
  /** Caller-chosen id, unique within the partition: scheduling it again replaces it. */
  id: string;
  /** Epoch ms. */
  due: number;
  /** The record key the timer belongs to (e.g. the profile key). */
  key: string;
  payload: P;
}

type TimerRow = Timer | { index: string };

export function timerStoreSpec(changelogTopic: string): StoreSpec<TimerRow> {
  return { name: 'timers', changelogTopic, codec: jsonCodec<TimerRow>() };
}

const DUE_DIGITS = 15;
const dueKey = (due: number, id: string) =>
  `d:${Math.max(0, Math.floor(due)).toString().padStart(DUE_DIGITS, '0')}:${id}`;
const indexKey = (id: string) => `i:${id}`;

/** The changelog record scheduling `timer` writes (to measure it before it is set). */
export function timerChangelogRecord(timer: Timer): { key: string; value: Buffer } {
  return { key: dueKey(timer.due, timer.id), value: jsonCodec<Timer>().encode(timer) };
}

/** Timer operations over one store partition. */
export class TimerService {
  constructor(private readonly store: KeyValueStore<TimerRow>) {}

  schedule<P>(timer: Timer<P>): void {
    this.cancel(timer.id);
    const key = dueKey(timer.due, timer.id);
    this.store.put(key, timer as Timer);
    this.store.put(indexKey(timer.id), { index: key });
  }

  cancel(id: string): boolean {
    const row = this.store.get(indexKey(id));
    if (!row || !('index' in row)) return false;
    this.store.delete(row.index);
    this.store.delete(indexKey(id));
    return true;
  }

  get(id: string): Timer | undefined {
    const row = this.store.get(indexKey(id));
    if (!row || !('index' in row)) return undefined;
    const timer = this.store.get(row.index);
    return timer && !('index' in timer) ? timer : undefined;
  }

  /** Due time of the earliest timer, or undefined when none is set. */
  nextDue(): number | undefined {
    for (const [, row] of this.store.range({ start: 'd:', end: 'd;', limit: 1 })) {
      if (!('index' in row)) return row.due;
    }
    return undefined;
  }

  /** Timers due at or before `now`, earliest first, at most `limit`. */
  due(now: number, limit: number): Timer[] {
    const out: Timer[] = [];
    const end = dueKey(now + 1, '');
    for (const [, row] of this.store.range({ start: 'd:', end, limit })) {
      if (!('index' in row)) out.push(row);
    }
    return out;
  }
}
