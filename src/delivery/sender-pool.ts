// Webhook requests made on worker threads. got, the HTTP parser and TLS are most of a
// delivery's CPU; on the main thread they compete with the Kafka consumer, the bookkeeping
// and the group heartbeats. A SenderPool runs a WebhookSender (same guard, timeouts and limits)
// in each of its threads and hands requests to the least busy one; everything else — signing,
// secrets, the circuit breaker, host limits — stays on the main thread, so a request crosses
// the thread boundary already resolved and signed and its AttemptResult comes back.
//
// A thread that dies with requests in hand (it should not: WebhookSender.send never throws)
// answers them with FLOWHOOK_ERR_SENDER_THREAD, a retriable error: the jobs are retried with
// the same webhook-id, and the next request starts a new thread.

import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { SenderThreadError } from '../errors';
import type { AttemptResult, Sender, SendRequest, WebhookSenderOptions } from './http-sender';

/**
 * What a thread needs to build its WebhookSender, structured-clone safe: the policy travels as
 * its settings (FLOWHOOK_DESTINATION_ALLOWLIST entries, FLOWHOOK_ALLOW_HTTP).
 */
export type SenderThreadOptions = Omit<WebhookSenderOptions, 'policy'> & {
  allowlist: readonly string[];
  allowHttp: boolean;
};

export type SenderPoolOptions = SenderThreadOptions & {
  /** Threads; at least 1. */
  threads: number;
};

/** main → thread */
export interface SendMessage {
  id: number;
  request: SendRequest;
}

/** thread → main */
export interface ResultMessage {
  id: number;
  result: AttemptResult;
}

interface SenderThread {
  worker: Worker;
  pending: Map<number, (result: AttemptResult) => void>;
}

/**
 * The compiled thread script: beside this file in dist/, or dist/'s copy when this file runs
 * from src/ under ts-jest (`npm test` builds first).
 */
function threadScript(): string {
  const beside = path.join(__dirname, 'sender-thread.js');
  if (fs.existsSync(beside)) return beside;
  const built = path.resolve(__dirname, '../../dist/src/delivery/sender-thread.js');
  if (fs.existsSync(built)) return built;
  throw new Error(`sender thread script not found at ${beside} or ${built}; run npm run build`);
}

function lostResult(message: string): AttemptResult {
  const error = new SenderThreadError(message);
  return {
    error: { code: error.code, message: error.message },
    durationMs: 0,
    responseBody: '',
    responseTruncated: false,
  };
}

export class SenderPool implements Sender {
  /** A slot per thread; empty until its first request, and again after its thread died. */
  private readonly threads: (SenderThread | undefined)[];
  private readonly threadOptions: SenderThreadOptions;
  private readonly script = threadScript();
  private nextId = 0;
  private closing: Promise<void> | undefined;

  constructor({ threads, ...threadOptions }: SenderPoolOptions) {
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError('a SenderPool needs at least one thread');
    }
    this.threads = Array.from({ length: threads }, () => undefined);
    this.threadOptions = threadOptions;
  }

  send(request: SendRequest): Promise<AttemptResult> {
    if (this.closing) return Promise.resolve(lostResult('the sender pool is closed'));
    const thread = this.leastBusy();
    const id = this.nextId++;
    return new Promise<AttemptResult>((resolve) => {
      if (thread.pending.size === 0) thread.worker.ref();
      thread.pending.set(id, resolve);
      thread.worker.postMessage({ id, request } satisfies SendMessage);
    });
  }

  /** Requests handed to threads and not answered yet. */
  inFlight(): number {
    let n = 0;
    for (const thread of this.threads) n += thread?.pending.size ?? 0;
    return n;
  }

  private leastBusy(): SenderThread {
    let best: SenderThread | undefined;
    for (let i = 0; i < this.threads.length; i++) {
      const thread = this.threads[i] ?? this.spawn(i);
      if (best === undefined || thread.pending.size < best.pending.size) best = thread;
    }
    return best as SenderThread;
  }

  private spawn(slot: number): SenderThread {
    const worker = new Worker(this.script, { workerData: this.threadOptions });
    worker.unref(); // referenced only while it has requests in hand
    const thread: SenderThread = { worker, pending: new Map() };
    worker.on('message', (message: ResultMessage) => {
      const resolve = thread.pending.get(message.id);
      if (!resolve) return;
      thread.pending.delete(message.id);
      if (thread.pending.size === 0) worker.unref();
      resolve(message.result);
    });
    const lost = (why: string): void => {
      if (this.threads[slot] === thread) this.threads[slot] = undefined;
      for (const resolve of thread.pending.values()) resolve(lostResult(why));
      thread.pending.clear();
    };
    worker.on('error', (error) => lost(`sender thread failed: ${error.message}`));
    worker.on('exit', (code) => lost(`sender thread exited with code ${code}`));
    this.threads[slot] = thread;
    return thread;
  }

  /** Stops every thread; requests still in hand are answered as lost. Idempotent. */
  close(): Promise<void> {
    this.closing ??= Promise.all(this.threads.map((thread) => thread?.worker.terminate())).then(
      () => undefined,
    );
    return this.closing;
  }
}
