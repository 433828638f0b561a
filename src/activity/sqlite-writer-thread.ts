// The script of a SQLite activity store's writer thread (see SqliteWriterThread): inserts
// block for as long as they take, so they run here, off the event loop that runs the trigger
// and delivery. One connection, one transaction per batch, answered in order.

import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { ingestWriter, tuneConnection, type WriteReply, type WriteRequest } from './sqlite-writes';

const port = parentPort;
if (!port)
  throw new Error('sqlite-writer-thread.js runs as the worker thread of an activity store');
const db = new Database((workerData as { file: string }).file);
tuneConnection(db);
const write = ingestWriter(db);

port.on('message', (request: WriteRequest) => {
  let reply: WriteReply;
  try {
    reply = { id: request.id, added: write(request.batch) };
  } catch (err) {
    reply = { id: request.id, error: (err as Error).message };
  }
  port.postMessage(reply);
});
port.on('close', () => db.close());
