// State stores: the kernel's key-value state, Kafka Streams style.
//
// A store has a name, a codec and a compacted changelog topic. Each input partition p owns
// store partition p (co-partitioning: the member that processes input partition p is the only
// writer of changelog partition p). The local copy of store partition p is an LMDB database on
// disk, so memory stays bounded whatever the number of keys; beside the data, the same LMDB
// environment keeps a checkpoint: the changelog offset the local copy reflects.
//
// Writes made while processing go to an overlay (this commit interval's changes) and are
// produced to the changelog in the same Kafka transaction as the outputs and input offsets
// they follow from. Only once that transaction commits does the overlay reach LMDB, together
// with the new checkpoint, in one LMDB transaction: the local copy never holds anything the
// changelog does not, and never claims more than its checkpoint. An aborted transaction just
// drops the overlay.

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { Message } from 'kafkajs';

/** Turns a store's values into bytes and back (the changelog and LMDB hold the bytes). */
export interface Codec<T> {
  encode(value: T): Buffer;
  /** Must not keep `bytes`: a store read hands over a buffer the next read overwrites. */
  decode(bytes: Buffer): T;
}

export function jsonCodec<T>(): Codec<T> {
  return {
    encode: (value) => Buffer.from(JSON.stringify(value)),
    decode: (bytes) => JSON.parse(bytes.toString('utf8')) as T,
  };
}

/** A store as a processor sees it for the partition of the record at hand. */
export interface KeyValueStore<T> {
  get(key: string): T | undefined;
  put(key: string, value: T): void;
  delete(key: string): void;
  /** Entries with start <= key < end in key order (strings compare by UTF-8 bytes). */
  range(options: { start?: string; end?: string; limit?: number }): IterableIterator<[string, T]>;
}

export interface StoreSpec<T> {
  name: string;
  /** Compacted topic, as many partitions as the inputs. */
  changelogTopic: string;
  codec: Codec<T>;
}

/**
 * The on-disk side of a processor's stores: one LMDB environment per processor (consumer
 * group) under the state directory, one database per store partition, one for checkpoints.
 */
export class LocalStateDirectory {
  private readonly root: RootDatabase<Buffer, string>;
  private readonly checkpoints: Database<string, string>;
  private readonly databases = new Map<string, Database<Buffer, string>>();
  private closed = false;

  constructor(readonly path: string) {
    mkdirSync(path, { recursive: true });
    this.root = open<Buffer, string>({
      path: join(path, 'stores.lmdb'),
      maxDbs: 4096,
      encoding: 'binary',
      // The changelog is the source of truth and the checkpoint commits atomically with the
      // data, so a lost LMDB tail after a machine crash only means a longer restore.
      noSync: true,
    });
    this.checkpoints = this.root.openDB<string, string>({
      name: '__checkpoints',
      encoding: 'string',
    });
  }

  database(store: string, partition: number): Database<Buffer, string> {
    const name = `${store}.${partition}`;
    let db = this.databases.get(name);
    if (!db) {
      db = this.root.openDB<Buffer, string>({ name, encoding: 'binary' });
      this.databases.set(name, db);
    }
    return db;
  }

  /** Next changelog offset the local copy of (store, partition) lacks; undefined: none kept. */
  checkpoint(store: string, partition: number): bigint | undefined {
    const text = this.checkpoints.get(`${store}.${partition}`);
    return text === undefined ? undefined : BigInt(text);
  }

  /** Applies changes and moves the checkpoint in one LMDB transaction. */
  apply(
    store: string,
    partition: number,
    changes: Iterable<[string, Buffer | null]>,
    checkpoint: bigint,
  ): void {
    const db = this.database(store, partition);
    this.root.transactionSync(() => {
      for (const [key, value] of changes) {
        if (value === null) db.removeSync(key);
        else db.putSync(key, value);
      }
      this.checkpoints.putSync(`${store}.${partition}`, checkpoint.toString());
    });
  }

  /** Forgets the local copy of (store, partition): it is then restored from the changelog. */
  wipe(store: string, partition: number): void {
    const db = this.database(store, partition);
    this.root.transactionSync(() => {
      db.clearSync();
      this.checkpoints.removeSync(`${store}.${partition}`);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.root.close().catch(() => undefined);
  }

  /** Removes a state directory (tests, or an operator's reset). */
  static remove(path: string): void {
    rmSync(path, { recursive: true, force: true });
  }
}

/**
 * One store partition inside a task: reads see this interval's writes first, then the writes
 * of the transaction being committed (sealed), then LMDB. Writes go to the current interval;
 * seal() hands them to a commit while the task goes on processing into a new interval, and
 * they reach LMDB when that transaction has committed.
 */
export class StorePartition<T> implements KeyValueStore<T> {
  private overlay = new Map<string, Buffer | null>();
  private sealed = new Map<string, Buffer | null>();

  constructor(
    readonly spec: StoreSpec<T>,
    readonly partition: number,
    private readonly local: LocalStateDirectory,
  ) {}

  get dirty(): boolean {
    return this.overlay.size > 0;
  }

  /** Keys written in this interval (each one changelog record at the next commit). */
  get pendingWrites(): number {
    return this.overlay.size;
  }

  private pending(key: string): Buffer | null | undefined {
    const current = this.overlay.get(key);
    return current !== undefined ? current : this.sealed.get(key);
  }

  get(key: string): T | undefined {
    const pending = this.pending(key);
    if (pending !== undefined)
      return pending === null ? undefined : this.spec.codec.decode(pending);
    // LMDB's reused read buffer, not a copy: the codec decodes it at once and keeps nothing.
    const bytes = this.local.database(this.spec.name, this.partition).getBinaryFast(key);
    return bytes === undefined ? undefined : this.spec.codec.decode(bytes);
  }

  put(key: string, value: T): void {
    this.overlay.set(key, this.spec.codec.encode(value));
  }

  delete(key: string): void {
    this.overlay.set(key, null);
  }

  *range(options: { start?: string; end?: string; limit?: number }): IterableIterator<[string, T]> {
    const { start, end } = options;
    const limit = options.limit ?? Infinity;
    const inRange = (k: string) =>
      (start === undefined || k >= start) && (end === undefined || k < end);
    const pending = [...new Set([...this.overlay.keys(), ...this.sealed.keys()])]
      .filter(inRange)
      .sort(compareKeys);
    const db = this.local.database(this.spec.name, this.partition);
    const stored = db.getRange({ start, end })[Symbol.iterator]();
    let next = stored.next();
    let i = 0;
    let count = 0;
    while (count < limit) {
      const storedKey = next.done ? undefined : next.value.key;
      const pendingKey = pending[i];
      if (storedKey === undefined && pendingKey === undefined) return;
      let key: string;
      let bytes: Buffer | null;
      if (
        pendingKey !== undefined &&
        (storedKey === undefined || compareKeys(pendingKey, storedKey) <= 0)
      ) {
        key = pendingKey;
        bytes = this.pending(pendingKey) ?? null;
        i += 1;
        if (storedKey === pendingKey) next = stored.next();
      } else {
        key = storedKey as string;
        bytes = (next.value as { value: Buffer }).value;
        next = stored.next();
      }
      if (bytes === null) continue;
      count += 1;
      yield [key, this.spec.codec.decode(bytes)];
    }
  }

  /**
   * This interval's changes as changelog records (one per key: the last write wins), handed to
   * the commit about to start. One commit at a time: the previous one has settled.
   */
  seal(): Message[] {
    if (this.sealed.size > 0) throw new Error(`store ${this.spec.name}: a commit is in flight`);
    this.sealed = this.overlay;
    this.overlay = new Map();
    return [...this.sealed].map(([key, value]) => ({ key, value, partition: this.partition }));
  }

  /** The sealed changes committed: they become the local copy, at the new checkpoint. */
  committed(checkpoint: bigint | undefined): void {
    const sealed = this.sealed;
    this.sealed = new Map();
    if (sealed.size === 0 && checkpoint === undefined) return;
    const current = this.local.checkpoint(this.spec.name, this.partition) ?? 0n;
    this.local.apply(this.spec.name, this.partition, sealed, checkpoint ?? current);
  }

  /** Back to the last commit (an abort, or the work was handed back): forget what is pending. */
  discard(): void {
    this.overlay = new Map();
    this.sealed = new Map();
  }
}

/** LMDB orders string keys by their UTF-8 bytes; so must the overlay merge. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
