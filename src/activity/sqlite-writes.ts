// The ingest's writes to a SQLite activity file: the same statements whether they run on the
// process's own connection or on the writer thread's (sqlite-writer-thread.ts).

import type Database from 'better-sqlite3';
import { ACTIVITY_COLUMNS, toRow } from './sql';
import type { IngestWrite } from './store';

/** One transaction per call: the batch's records (idempotent) and review queue changes. */
export function ingestWriter(db: Database.Database): (batch: IngestWrite) => number {
  const insertRecord = db.prepare(
    `INSERT INTO activity (${ACTIVITY_COLUMNS.join(', ')}) VALUES (${ACTIVITY_COLUMNS.map((c) => `@${c}`).join(', ')}) ON CONFLICT (id) DO NOTHING`,
  );
  const insertReview = db.prepare(
    `INSERT INTO review (id, flow_id, action_id, profile_id, event_id, held_at_ms, job)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
  );
  const deleteReview = db.prepare('DELETE FROM review WHERE id = ?');
  return db.transaction((batch: IngestWrite): number => {
    let added = 0;
    for (const r of batch.records) added += insertRecord.run(toRow(r)).changes;
    for (const change of batch.review) {
      if (change.kind === 'decided') {
        deleteReview.run(change.id);
      } else {
        const i = change.item;
        insertReview.run(
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

/** Per-connection settings of every connection to an activity file. */
export function tuneConnection(db: Database.Database): void {
  db.pragma('synchronous = NORMAL');
  // Inserts touch six indexes: a 64 MiB page cache keeps their upper levels in memory.
  db.pragma('cache_size = -65536');
  // The writer thread and the process's own connection (prune, schema) take turns.
  db.pragma('busy_timeout = 5000');
}

export interface WriteRequest {
  id: number;
  batch: IngestWrite;
}

export type WriteReply = { id: number; added: number } | { id: number; error: string };
