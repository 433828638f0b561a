// The embedded backend: one SQLite file (better-sqlite3, synchronous, WAL) per replica.

import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { ActivityStoreError } from '../errors';
import {
  ACTIVITY_COLUMNS,
  fromRow,
  listQuery,
  pageOf,
  reviewFromRow,
  reviewQuery,
  schemaStatements,
  statusCountsQuery,
  toRow,
  type ActivityRow,
  type CountRow,
  countsOf,
  type ReviewRow,
} from './sql';
import { checkFilter, decodeCursor, pageSize, type ActivityStore, type IngestWrite } from './store';
import type { ActivityFilter, ActivityPage, ReviewItem, StatusCounts } from './types';

/** Records per SQLite transaction of an ingest write (about 5 ms of blocking each). */
const WRITE_CHUNK = 100;

export interface SqliteStoreOptions {
  /** A file path, or `:memory:`. */
  file: string;
  /** Leave the secondary indexes out (bulk loads create them afterwards with createIndexes). */
  withoutIndexes?: boolean;
}

export class SqliteActivityStore implements ActivityStore {
  readonly kind = 'sqlite' as const;
  readonly storeId: string;
  readonly db: Database.Database;
  private readonly insertRecord: Database.Statement;
  private readonly insertReview: Database.Statement;
  private readonly deleteReview: Database.Statement;
  private readonly writeTx: (batch: IngestWrite) => number;
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
    this.db.pragma('synchronous = NORMAL');
    // Inserts touch six indexes: a 64 MiB page cache keeps their upper levels in memory.
    this.db.pragma('cache_size = -65536');
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
    this.insertRecord = this.db.prepare(
      `INSERT INTO activity (${ACTIVITY_COLUMNS.join(', ')}) VALUES (${ACTIVITY_COLUMNS.map((c) => `@${c}`).join(', ')}) ON CONFLICT (id) DO NOTHING`,
    );
    this.insertReview = this.db.prepare(
      `INSERT INTO review (id, flow_id, action_id, profile_id, event_id, held_at_ms, job)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    );
    this.deleteReview = this.db.prepare('DELETE FROM review WHERE id = ?');
    this.writeTx = this.db.transaction((batch: IngestWrite): number => {
      let added = 0;
      for (const r of batch.records) added += this.insertRecord.run(toRow(r)).changes;
      for (const change of batch.review) {
        if (change.kind === 'decided') {
          this.deleteReview.run(change.id);
        } else {
          const i = change.item;
          this.insertReview.run(
            i.id,
            i.flow_id,
            i.action_id,
            i.profile_id,
            i.event_id,
            Date.parse(i.held_at),
            JSON.stringify(i.job),
          );
        }
      }
      return added;
    });
  }

  createIndexes(): void {
    for (const s of schemaStatements('sqlite').indexes) this.db.exec(s);
    this.db.exec('ANALYZE');
  }

  /**
   * SQLite writes block the event loop that also runs the trigger and delivery: a batch goes in
   * transactions of WRITE_CHUNK records, with a turn of the loop between them, so no write holds
   * Kafka work up for more than a few milliseconds. Rows are idempotent (ON CONFLICT DO NOTHING)
   * and the ingest commits its offsets after the whole batch, so a crash between chunks only
   * writes some rows twice.
   */
  async write(batch: IngestWrite): Promise<number> {
    const { records } = batch;
    let added = 0;
    let from = 0;
    while (records.length - from > WRITE_CHUNK) {
      added += this.writeTx({ records: records.slice(from, from + WRITE_CHUNK), review: [] });
      from += WRITE_CHUNK;
      await setImmediate();
    }
    return added + this.writeTx({ records: records.slice(from), review: batch.review });
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

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.db.close();
    }
    return Promise.resolve();
  }
}
