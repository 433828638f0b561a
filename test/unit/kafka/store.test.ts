import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  jsonCodec,
  LocalStateDirectory,
  StorePartition,
  type StoreSpec,
} from '../../../src/kafka/store';

const spec: StoreSpec<{ n: number }> = {
  name: 'counts',
  changelogTopic: 'x.changelog',
  codec: jsonCodec<{ n: number }>(),
};

let dir: string;
let local: LocalStateDirectory;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flowhook-store-'));
  local = new LocalStateDirectory(dir);
});
afterEach(() => {
  local.close();
  LocalStateDirectory.remove(dir);
});

describe('StorePartition', () => {
  it('reads its own uncommitted writes, and drops them on discard', () => {
    const store = new StorePartition(spec, 0, local);
    store.put('a', { n: 1 });
    expect(store.get('a')).toEqual({ n: 1 });
    expect(store.dirty).toBe(true);
    store.discard();
    expect(store.get('a')).toBeUndefined();
    expect(local.checkpoint('counts', 0)).toBeUndefined();
  });

  it('writes one changelog record per key (the last write) to its own partition', () => {
    const store = new StorePartition(spec, 3, local);
    store.put('a', { n: 1 });
    store.put('a', { n: 2 });
    store.put('b', { n: 1 });
    store.delete('b');
    const records = store.seal();
    expect(records).toEqual([
      { key: 'a', value: Buffer.from('{"n":2}'), partition: 3 },
      { key: 'b', value: null, partition: 3 },
    ]);
  });

  it('reads sealed writes while their commit is in flight, under writes made since', () => {
    const store = new StorePartition(spec, 0, local);
    store.put('a', { n: 1 });
    store.put('b', { n: 1 });
    store.put('b', { n: 1 });
    expect(store.pendingWrites).toBe(2);
    expect(store.seal()).toHaveLength(2);
    expect(store.dirty).toBe(false);
    expect(store.pendingWrites).toBe(0);
    store.put('b', { n: 2 });
    store.delete('a');
    store.put('c', { n: 2 });
    expect(store.get('a')).toBeUndefined();
    expect(store.get('b')).toEqual({ n: 2 });
    expect([...store.range({})]).toEqual([
      ['b', { n: 2 }],
      ['c', { n: 2 }],
    ]);
    // Only one commit at a time.
    expect(() => store.seal()).toThrow('a commit is in flight');
    store.committed(2n);
    // The sealed writes are on disk; the later ones are still this interval's.
    expect(local.database('counts', 0).getBinary('a')?.toString()).toBe('{"n":1}');
    expect(store.seal()).toEqual([
      { key: 'b', value: Buffer.from('{"n":2}'), partition: 0 },
      { key: 'a', value: null, partition: 0 },
      { key: 'c', value: Buffer.from('{"n":2}'), partition: 0 },
    ]);
    store.discard();
    expect(store.get('b')).toEqual({ n: 1 });
    expect(store.get('c')).toBeUndefined();
  });

  it('keeps committed writes on disk with their checkpoint, across a reopen', () => {
    const store = new StorePartition(spec, 1, local);
    store.put('a', { n: 1 });
    store.put('b', { n: 2 });
    store.seal();
    store.committed(42n);
    expect(store.dirty).toBe(false);
    local.close();
    local = new LocalStateDirectory(dir);
    const again = new StorePartition(spec, 1, local);
    expect(again.get('a')).toEqual({ n: 1 });
    expect(again.get('b')).toEqual({ n: 2 });
    expect(local.checkpoint('counts', 1)).toBe(42n);
    expect(local.checkpoint('counts', 0)).toBeUndefined();
    // Partitions are apart.
    expect(new StorePartition(spec, 0, local).get('a')).toBeUndefined();
  });

  it('ranges over disk and overlay in key order, with deletes and overwrites applied', () => {
    const store = new StorePartition(spec, 0, local);
    for (const k of ['b', 'd', 'f']) store.put(k, { n: 1 });
    store.seal();
    store.committed(3n);
    store.put('a', { n: 2 });
    store.put('d', { n: 2 });
    store.delete('f');
    store.put('e', { n: 2 });
    expect([...store.range({})]).toEqual([
      ['a', { n: 2 }],
      ['b', { n: 1 }],
      ['d', { n: 2 }],
      ['e', { n: 2 }],
    ]);
    expect([...store.range({ start: 'b', end: 'e' })].map(([k]) => k)).toEqual(['b', 'd']);
    expect([...store.range({ limit: 1 })].map(([k]) => k)).toEqual(['a']);
  });

  it('wipe forgets the data and the checkpoint', () => {
    const store = new StorePartition(spec, 0, local);
    store.put('a', { n: 1 });
    store.seal();
    store.committed(7n);
    local.wipe('counts', 0);
    expect(store.get('a')).toBeUndefined();
    expect(local.checkpoint('counts', 0)).toBeUndefined();
  });
});
