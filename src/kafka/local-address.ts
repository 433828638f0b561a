// Where `flowhook run` says which local broker it started, so that one-shot commands in another
// terminal (`flowhook flows apply`, `events send`, …) find it without KAFKA_BROKERS:
// FLOWHOOK_LOCAL_BROKER_FILE, default `<cache dir>/local-broker.json` (FLOWHOOK_CACHE_DIR,
// default ~/.cache/flowhook; mode 0600)
// holds `{ brokers, pid, signing_secret }`: the secret that instance signs webhooks with, for
// `flowhook receive` to verify. A file whose `flowhook run` process is gone is ignored.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export function localAddressFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FLOWHOOK_LOCAL_BROKER_FILE) return env.FLOWHOOK_LOCAL_BROKER_FILE;
  return join(env.FLOWHOOK_CACHE_DIR ?? join(homedir(), '.cache', 'flowhook'), 'local-broker.json');
}

/** Records the brokers this process started; returns a function that removes the record. */
export interface LocalAddress {
  brokers: string[];
  pid: number;
  signing_secret?: string;
}

export function writeLocalAddress(
  address: Omit<LocalAddress, 'pid'>,
  env: NodeJS.ProcessEnv = process.env,
): () => void {
  const file = localAddressFile(env);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ ...address, pid: process.pid }), { mode: 0o600 });
  return () => {
    if (readLocalAddress(env, () => true)?.pid === process.pid) rmSync(file, { force: true });
  };
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The brokers of a running `flowhook run` on this machine, if it started a local one. */
export function readLocalAddress(
  env: NodeJS.ProcessEnv = process.env,
  isRunning: (pid: number) => boolean = running,
): LocalAddress | undefined {
  try {
    const doc = JSON.parse(readFileSync(localAddressFile(env), 'utf8')) as {
      brokers?: unknown;
      pid?: unknown;
      signing_secret?: unknown;
    };
    if (
      !Array.isArray(doc.brokers) ||
      doc.brokers.length === 0 ||
      !doc.brokers.every((b) => typeof b === 'string') ||
      typeof doc.pid !== 'number' ||
      !isRunning(doc.pid)
    ) {
      return undefined;
    }
    const secret = typeof doc.signing_secret === 'string' ? doc.signing_secret : undefined;
    return {
      brokers: doc.brokers as string[],
      pid: doc.pid,
      ...(secret === undefined ? {} : { signing_secret: secret }),
    };
  } catch {
    return undefined;
  }
}
