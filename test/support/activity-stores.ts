// The activity-store backends every store test runs against: SQLite always, PostgreSQL from
// FLOWHOOK_TEST_DATABASE_URL (started by .ci/run with scripts/test-postgres.sh). In CI
// (CI=true) a missing URL fails the run rather than quietly testing one backend.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { PostgresActivityStore } from '../../src/activity/postgres-store';
import { SqliteActivityStore } from '../../src/activity/sqlite-store';
import type { ActivityStore } from '../../src/activity/store';

export interface TestStore {
  store: ActivityStore;
  /** Another connection to (or handle on) the same store, closed by the caller. */
  reopen(): Promise<ActivityStore>;
  /** Closes the store and drops its file or database. */
  drop(): Promise<void>;
}

export type Backend = 'sqlite' | 'postgres';

const PG_URL = process.env.FLOWHOOK_TEST_DATABASE_URL;
if (PG_URL === undefined && process.env.CI === 'true') {
  throw new Error(
    'FLOWHOOK_TEST_DATABASE_URL is not set: in CI the activity store is tested against PostgreSQL too (see scripts/test-postgres.sh)',
  );
}

/** The backends to run: both when PostgreSQL is available (always in CI). */
export const BACKENDS: Backend[] = PG_URL === undefined ? ['sqlite'] : ['sqlite', 'postgres'];
if (PG_URL === undefined) {
  process.stderr.write(
    'activity-store tests: FLOWHOOK_TEST_DATABASE_URL unset, PostgreSQL not tested (eval "$(bash scripts/test-postgres.sh start)")\n',
  );
}

async function withAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database on the test cluster; its URL. */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `flowhook_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(PG_URL as string);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () =>
      withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(
        () => undefined,
      ),
  };
}

export async function openTestStore(backend: Backend): Promise<TestStore> {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'flowhook-activity-'));
    const file = join(dir, 'activity.sqlite');
    const store = new SqliteActivityStore({ file });
    return {
      store,
      reopen: () => Promise.resolve(new SqliteActivityStore({ file })),
      drop: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const db = await freshDatabase();
  const store = await PostgresActivityStore.open({ url: db.url, poolSize: 4 });
  return {
    store,
    reopen: () => PostgresActivityStore.open({ url: db.url, poolSize: 2 }),
    drop: async () => {
      await store.close();
      await db.drop();
    },
  };
}
