// The activity log: records (records.ts, held.ts), the store (SQLite or PostgreSQL) and the
// ingest that keeps it up to date from Kafka. The admin role wires them:
//   const store = await createActivityStore(config.activity, { logger });
//   const ingest = new ActivityIngest({ store, kafka, topics, topicPrefix: config.topicPrefix,
//     retentionMs: config.activity.retentionMs, pruneIntervalMs: config.activity.pruneIntervalMs,
//     logger, metrics });
//   await ingest.start();   …   await ingest.stop(); await store.close();

import type { FlowhookConfig } from '../config/load';
import type { Logger } from '../observability/logger';
import { PostgresActivityStore } from './postgres-store';
import { SqliteActivityStore } from './sqlite-store';
import type { ActivityStore } from './store';

export { heldWebhookMessage, parseHeldWebhook, type HeldWebhook } from './held';
export { ActivityIngest, type ActivityIngestOptions } from './ingest';
export { activityFromMessage } from './records';
export type { ActivityStore, IngestWrite, ReviewChange } from './store';
export type * from './types';
export { ACTIVITY_STATUSES } from './types';
export { PostgresActivityStore, SqliteActivityStore };

/** PostgreSQL when FLOWHOOK_ACTIVITY_DATABASE_URL is set, else the embedded SQLite file. */
export async function createActivityStore(
  config: FlowhookConfig['activity'],
  deps: { logger: Logger },
): Promise<ActivityStore> {
  if (config.databaseUrl !== undefined) {
    const store = await PostgresActivityStore.open({ url: config.databaseUrl });
    deps.logger.info({ store: 'postgres', store_id: store.storeId }, 'activity store open');
    return store;
  }
  const store = new SqliteActivityStore({ file: config.sqliteFile });
  deps.logger.info(
    { store: 'sqlite', file: config.sqliteFile, store_id: store.storeId },
    'activity store open',
  );
  return store;
}
