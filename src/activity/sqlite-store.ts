// The embedded backend: one SQLite file (better-sqlite3, synchronous, WAL) per replica.

import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { ActivityStoreError } from '../errors';
import {
  fromRow,
  listQuery,
  pageOf,
  reviewFromRow,
  reviewQuery,
  schemaStatements,
  statusCountsQuery,
  type ActivityRow,
  type CountRow,
  countsOf,
  type ReviewRow,
} from './sql';
import { checkFilter, decodeCursor, pageSize, type ActivityStore, type IngestWrite } from './store';
import { ingestWriter, tuneConnection, type WriteReply, type WriteRequest } from './sqlite-writes';
import type { ActivityFilter, ActivityPage, ReviewItem, StatusCounts } from './types';

/** Records per SQLite transaction of an ingest write (about 5 ms of blocking each). */
const WRITE_CHUNK = 100;

export interface SqliteStoreOptions {
  /** A file path, or `:memory:`. */
  file: string;
  /** Leave the secondary indexes out (bulk loads create them afterwards with createIndexes). */
  withoutIndexes?: boolean;
  /** Write on this thread instead of a writer thread (bench/activity.ts measures both). */
  writerThread?: boolean;
}

export class SqliteActivityStore implements ActivityStore {
  readonly kind = 'sqlite' as const;
  readonly storeId: string;
  readonly db: Database.Database;
  /** Runs the ingest's writes off the event loop (files only; `:memory:` is per connection). */
  private readonly writer: SqliteWriterThread | undefined;
  private readonly writeHere: (batch: IngestWrite) => number;
  private closed = false;

  constructor(options: SqliteStoreOptions) {
    if (options.file !== ':memory:') mkdirSync(dirname(options.file), { recursive: true });
    try {
      this.db = new Database(options.file);
    } catch (err) {
      throw new ActivityStoreError(`cannot open ${options.file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.db.pragma('journal_mode = WAL');
    tuneConnection(this.db);
    const schema = schemaStatements('sqlite');
    for (const s of schema.tables) this.db.exec(s);
    if (options.withoutIndexes !== true) this.createIndexes();
    this.db
      .prepare(
        `INSERT INTO activity_meta (key, value) VALUES ('store_id', ?) ON CONFLICT DO NOTHING`,
      )
      .run(randomUUID());
    this.storeId = (
      this.db.prepare(`SELECT value FROM activity_meta WHERE key = 'store_id'`).get() as {
        value: string;
      }
    ).value;
    this.writer =
      options.file === ':memory:' || options.writerThread === false
        ? undefined
        : new SqliteWriterThread(options.file);
    this.writeHere = ingestWriter(this.db);
  }

  createIndexes(): void {
    for (const s of schemaStatements('sqlite').indexes) this.db.exec(s);
    this.db.exec('ANALYZE');
  }

  /**
   * SQLite writes block the thread they run on, and this process's event loop also runs the
   * trigger and delivery: a file store writes on its writer thread. A `:memory:` store writes
   * here, in transactions of WRITE_CHUNK records with a turn of the loop between them (rows are
   * idempotent and the ingest commits its offsets after the whole batch, so a crash between
   * chunks only writes some rows twice).
   */
  async write(batch: IngestWrite): Promise<number> {
    if (this.writer) return this.writer.write(batch);
    const { records } = batch;
    let added = 0;
    let from = 0;
    while (records.length - from > WRITE_CHUNK) {
      added += this.writeHere({ records: records.slice(from, from + WRITE_CHUNK), review: [] });
      from += WRITE_CHUNK;
      await setImmediate();
    }
    return added + this.writeHere({ records: records.slice(from), review: batch.review });
  }

  // async: a bad filter is a rejected promise, as with PostgreSQL.
  async list(filter: ActivityFilter): Promise<ActivityPage> {
    const f = checkFilter(filter);
    const q = listQuery('sqlite', f);
    const rows = this.db.prepare(q.text).all(...q.params) as ActivityRow[];
    const page = pageOf(rows, f.limit, (r) => ({ timeMs: Number(r.time_ms), id: String(r.id) }));
    return { items: page.rows.map(fromRow), next_cursor: page.next_cursor };
  }

  async review(filter: { flow_id?: string; cursor?: string; limit?: number }): Promise<{
    items: ReviewItem[];
    next_cursor: string | null;
  }> {
    const limit = pageSize(filter.limit);
    const q = reviewQuery('sqlite', {
      ...(filter.flow_id ? { flowId: filter.flow_id } : {}),
      ...(filter.cursor ? { after: decodeCursor(filter.cursor) } : {}),
      limit,
    });
    const rows = this.db.prepare(q.text).all(...q.params) as ReviewRow[];
    const page = pageOf(rows, limit, (r) => ({ timeMs: Number(r.held_at_ms), id: r.id }));
    return { items: page.rows.map(reviewFromRow), next_cursor: page.next_cursor };
  }

  reviewItem(id: string): Promise<ReviewItem | undefined> {
    const row = this.db
      .prepare(
        'SELECT id, flow_id, action_id, profile_id, event_id, held_at_ms, job FROM review WHERE id = ?',
      )
      .get(id) as ReviewRow | undefined;
    return Promise.resolve(row === undefined ? undefined : reviewFromRow(row));
  }

  async statusCounts(flowIds: readonly string[], since: Date): Promise<StatusCounts> {
    if (flowIds.length === 0) return {};
    const q = statusCountsQuery('sqlite', flowIds, since.getTime());
    const rows = this.db.prepare(q.text).all(...q.params) as CountRow[];
    return countsOf(rows);
  }

  prune(before: Date, limit: number): Promise<number> {
    const result = this.db
      .prepare(
        'DELETE FROM activity WHERE rowid IN (SELECT rowid FROM activity WHERE time_ms < ? ORDER BY time_ms LIMIT ?)',
      )
      .run(before.getTime(), limit);
    return Promise.resolve(result.changes);
  }

  count(): Promise<number> {
    const row = this.db.prepare('SELECT count(*) AS n FROM activity').get() as { n: number };
    return Promise.resolve(row.n);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer?.close();
    this.db.close();
  }
}

/** The compiled thread script: beside this file in dist/, or dist/'s copy under ts-jest. */
function writerScript(): string {
  const beside = join(__dirname, 'sqlite-writer-thread.js');
  if (existsSync(beside)) return beside;
  const built = resolve(__dirname, '../../dist/src/activity/sqlite-writer-thread.js');
  if (existsSync(built)) return built;
  throw new Error(`activity writer script not found at ${beside} or ${built}; run npm run build`);
}

/** The ingest's writes on a thread of their own (sqlite-writer-thread.ts), answered in order. */
class SqliteWriterThread {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<
    number,
    { resolve(added: number): void; reject(err: Error): void }
  >();
  private readonly inFlight = new Set<Promise<number>>();

  constructor(private readonly file: string) {}

  write(batch: IngestWrite): Promise<number> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    const written = new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, batch } satisfies WriteRequest);
    });
    this.inFlight.add(written);
    const forget = () => this.inFlight.delete(written);
    written.then(forget, forget);
    return written;
  }

  private start(): Worker {
    const worker = new Worker(writerScript(), { workerData: { file: this.file } });
    worker.on('message', (reply: WriteReply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if ('error' in reply) waiting.reject(new ActivityStoreError(`write failed: ${reply.error}`));
      else waiting.resolve(reply.added);
    });
    worker.on('error', (err) => this.lost(worker, err));
    // A thread that died is replaced at the next write; the writes it had are failed (the
    // ingest processes their batches again).
    worker.on('exit', (code) =>
      this.lost(worker, new ActivityStoreError(`activity writer thread exited (code ${code})`)),
    );
    this.worker = worker;
    return worker;
  }

  private lost(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    for (const waiting of this.pending.values()) waiting.reject(err);
    this.pending.clear();
  }

  /** Writes already handed over finish first, then the thread ends. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }
}
