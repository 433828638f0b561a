// The shared backend: one PostgreSQL database for every admin replica. Batches insert with a
// single INSERT … SELECT FROM unnest(arrays) (one round trip whatever the batch size).

import { randomUUID } from 'node:crypto';
import { Pool, type PoolClient } from 'pg';
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

const COLUMN_TYPES: Record<(typeof ACTIVITY_COLUMNS)[number], string> = {
  id: 'text',
  time_ms: 'bigint',
  status: 'text',
  flow_id: 'text',
  flow_version: 'integer',
  action_id: 'text',
  profile_id: 'text',
  email: 'text',
  event_id: 'text',
  job_id: 'text',
  attempt: 'integer',
  http_status: 'integer',
  duration_ms: 'integer',
  error: 'text',
  response_excerpt: 'text',
  reason: 'text',
  due_at: 'text',
  actor: 'text',
};

const INSERT_ACTIVITY =
  `INSERT INTO activity (${ACTIVITY_COLUMNS.join(', ')}) SELECT * FROM unnest(` +
  ACTIVITY_COLUMNS.map((c, i) => `$${i + 1}::${COLUMN_TYPES[c]}[]`).join(', ') +
  ') ON CONFLICT (id) DO NOTHING';

/** The batch as one array per column, for INSERT_ACTIVITY. */
function activityColumns(batch: IngestWrite): unknown[] {
  const rows = batch.records.map(toRow);
  return ACTIVITY_COLUMNS.map((c) => rows.map((r) => r[c]));
}

export interface PostgresStoreOptions {
  url: string;
  /** Connections in the pool. */
  poolSize?: number;
  withoutIndexes?: boolean;
}

function storeError(what: string, err: unknown): ActivityStoreError {
  return new ActivityStoreError(`activity database: ${what}: ${(err as Error).message}`, {
    cause: err,
  });
}

export class PostgresActivityStore implements ActivityStore {
  readonly kind = 'postgres' as const;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly pool: Pool,
    readonly storeId: string,
  ) {}

  /** Connects, creates the schema when missing and reads (or makes) the store id. */
  static async open(options: PostgresStoreOptions): Promise<PostgresActivityStore> {
    const pool = new Pool({ connectionString: options.url, max: options.poolSize ?? 10 });
    // An idle client that loses its connection emits here; the next query reconnects.
    pool.on('error', () => undefined);
    try {
      const schema = schemaStatements('postgres');
      const client = await pool.connect();
      try {
        // Several replicas may start at once: one creates the schema, the others wait for it.
        await client.query('SELECT pg_advisory_lock(745120001)');
        for (const s of schema.tables) await client.query(s);
        if (options.withoutIndexes !== true) for (const s of schema.indexes) await client.query(s);
        await client.query(
          `INSERT INTO activity_meta (key, value) VALUES ('store_id', $1) ON CONFLICT DO NOTHING`,
          [randomUUID()],
        );
        await client.query('SELECT pg_advisory_unlock(745120001)');
      } finally {
        client.release();
      }
      const id = await pool.query<{ value: string }>(
        `SELECT value FROM activity_meta WHERE key = 'store_id'`,
      );
      return new PostgresActivityStore(pool, id.rows[0]?.value ?? '');
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw storeError('cannot open', err);
    }
  }

  async createIndexes(): Promise<void> {
    for (const s of schemaStatements('postgres').indexes) await this.pool.query(s);
    await this.pool.query('ANALYZE activity');
  }

  async write(batch: IngestWrite): Promise<number> {
    if (batch.records.length === 0 && batch.review.length === 0) return 0;
    // Records alone are one statement, atomic by itself: no transaction round trips.
    if (batch.review.length === 0) {
      const result = await this.pool
        .query(INSERT_ACTIVITY, activityColumns(batch))
        .catch((err: unknown) => {
          throw storeError('write failed', err);
        });
      return result.rowCount ?? 0;
    }
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw storeError('cannot connect', err);
    }
    try {
      await client.query('BEGIN');
      let added = 0;
      if (batch.records.length > 0) {
        added = (await client.query(INSERT_ACTIVITY, activityColumns(batch))).rowCount ?? 0;
      }
      for (const change of batch.review) {
        if (change.kind === 'decided') {
          await client.query('DELETE FROM review WHERE id = $1', [change.id]);
        } else {
          const i = change.item;
          await client.query(
            `INSERT INTO review (id, flow_id, action_id, profile_id, event_id, held_at_ms, job)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
            [
              i.id,
              i.flow_id,
              i.action_id,
              i.profile_id,
              i.event_id,
              Date.parse(i.held_at),
              JSON.stringify(i.job),
            ],
          );
        }
      }
      await client.query('COMMIT');
      return added;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw storeError('write failed', err);
    } finally {
      client.release();
    }
  }

  async list(filter: ActivityFilter): Promise<ActivityPage> {
    const f = checkFilter(filter);
    const q = listQuery('postgres', f);
    const result = await this.query<ActivityRow>(q.text, q.params);
    const page = pageOf(result, f.limit, (r) => ({ timeMs: Number(r.time_ms), id: String(r.id) }));
    return { items: page.rows.map(fromRow), next_cursor: page.next_cursor };
  }

  async review(filter: { flow_id?: string; cursor?: string; limit?: number }): Promise<{
    items: ReviewItem[];
    next_cursor: string | null;
  }> {
    const limit = pageSize(filter.limit);
    const q = reviewQuery('postgres', {
      ...(filter.flow_id ? { flowId: filter.flow_id } : {}),
      ...(filter.cursor ? { after: decodeCursor(filter.cursor) } : {}),
      limit,
    });
    const rows = await this.query<ReviewRow>(q.text, q.params);
    const page = pageOf(rows, limit, (r) => ({ timeMs: Number(r.held_at_ms), id: r.id }));
    return { items: page.rows.map(reviewFromRow), next_cursor: page.next_cursor };
  }

  async reviewItem(id: string): Promise<ReviewItem | undefined> {
    const rows = await this.query<ReviewRow>(
      'SELECT id, flow_id, action_id, profile_id, event_id, held_at_ms, job FROM review WHERE id = $1',
      [id],
    );
    return rows[0] === undefined ? undefined : reviewFromRow(rows[0]);
  }

  async statusCounts(flowIds: readonly string[], since: Date): Promise<StatusCounts> {
    if (flowIds.length === 0) return {};
    const q = statusCountsQuery('postgres', flowIds, since.getTime());
    return countsOf(await this.query<CountRow>(q.text, q.params));
  }

  async prune(before: Date, limit: number): Promise<number> {
    const result = await this.pool
      .query(
        'DELETE FROM activity WHERE id IN (SELECT id FROM activity WHERE time_ms < $1 ORDER BY time_ms LIMIT $2)',
        [before.getTime(), limit],
      )
      .catch((err: unknown) => {
        throw storeError('prune failed', err);
      });
    return result.rowCount ?? 0;
  }

  async count(): Promise<number> {
    const rows = await this.query<{ n: string }>('SELECT count(*) AS n FROM activity', []);
    return Number(rows[0]?.n ?? 0);
  }

  private async query<T extends object>(text: string, params: unknown[]): Promise<T[]> {
    try {
      return (await this.pool.query<T>(text, params)).rows;
    } catch (err) {
      throw storeError('query failed', err);
    }
  }

  close(): Promise<void> {
    this.closing ??= this.pool.end();
    return this.closing;
  }
}
