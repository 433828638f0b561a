// The admin role's view of flowhook.flows: every current document (valid or not) by id, kept
// current by following the compacted topic, with the offset each came from so that a write can
// wait until the view shows it (read-your-writes for the API's answers and version checks).

import type { Kafka } from 'kafkajs';
import { CompactedTopicReader } from '../kafka/compacted-reader';
import type { Logger } from '../observability/logger';

export class FlowView {
  private readonly docs = new Map<string, unknown>();
  private readonly reader: CompactedTopicReader;
  /** Next offset not yet applied. */
  private position = 0n;
  private waiters: { offset: bigint; resolve: () => void }[] = [];
  private started: Promise<void> | undefined;

  constructor(kafka: Kafka, topic: string, logger: Logger) {
    this.reader = new CompactedTopicReader(
      kafka,
      { topic, groupPrefix: 'flowhook-admin-flows' },
      logger,
    );
  }

  /** Resolves once the topic has been read to its end. */
  start(): Promise<void> {
    this.started ??= this.reader.start((record) => {
      if (record.key !== null) {
        if (record.value === null || record.value.length === 0) this.docs.delete(record.key);
        else {
          try {
            this.docs.set(record.key, JSON.parse(record.value.toString('utf8')) as unknown);
          } catch {
            this.docs.set(record.key, null); // not JSON: shown as invalid
          }
        }
      }
      this.position = BigInt(record.offset) + 1n;
      this.waiters = this.waiters.filter((w) => {
        if (w.offset >= this.position) return true;
        w.resolve();
        return false;
      });
    });
    return this.started;
  }

  get(id: string): unknown {
    return this.docs.get(id);
  }

  has(id: string): boolean {
    return this.docs.has(id);
  }

  entries(): [string, unknown][] {
    return [...this.docs];
  }

  /** Resolves once the record at `offset` has been applied (or after `timeoutMs`, false). */
  waitFor(offset: bigint, timeoutMs = 15_000): Promise<boolean> {
    if (offset < this.position) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push({
        offset,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      });
    });
  }

  isCaughtUp(): boolean {
    return this.reader.isCaughtUp();
  }

  stop(): Promise<void> {
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
    return this.reader.stop();
  }
}
