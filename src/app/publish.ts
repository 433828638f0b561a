// Writes flow changes to flowhook.flows together with their audit entries on flowhook.audit,
// in one Kafka transaction: either both are visible (to read_committed readers such as the
// trigger's flow table) or neither is.

import type { Producer, RecordMetadata } from 'kafkajs';
import { auditMessage, type AuditEntry } from './audit';
import type { AppDeps } from './deps';
import { ensureFlowsTopic, flowMessage, type FlowRecord } from './flows';

export interface FlowChange {
  record: FlowRecord;
  audit: AuditEntry;
}

export interface PublishResult {
  /** Offset of each flow record on flowhook.flows, in the order given. */
  offsets: bigint[];
}

export class FlowPublisher {
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;
  /** kafkajs runs one transaction at a time per producer: changes queue here. */
  private queue: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly deps: AppDeps,
    /** Unique per live writer; a restarted writer with the same id fences its predecessor. */
    private readonly transactionalId: string,
  ) {}

  private connect(): Promise<Producer> {
    this.connecting ??= (async () => {
      await ensureFlowsTopic(this.deps);
      const producer = this.deps.kafka.producer({
        transactionalId: this.transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
      });
      await producer.connect();
      this.producer = producer;
      return producer;
    })();
    this.connecting.catch(() => (this.connecting = undefined));
    return this.connecting;
  }

  publish(changes: FlowChange[]): Promise<PublishResult> {
    if (this.closing) return Promise.reject(new Error('publisher is closed'));
    const run = this.queue.then(() => this.publishNow(changes));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Audit entries of changes made elsewhere (review decisions, DLQ replays). */
  publishAudit(entries: AuditEntry[]): Promise<void> {
    if (this.closing) return Promise.reject(new Error('publisher is closed'));
    const run = this.queue.then(() => this.transaction([], entries)).then(() => undefined);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private publishNow(changes: FlowChange[]): Promise<PublishResult> {
    return this.transaction(
      changes.map((c) => c.record),
      changes.map((c) => c.audit),
    );
  }

  private async transaction(records: FlowRecord[], audit: AuditEntry[]): Promise<PublishResult> {
    const producer = await this.connect();
    const { topics } = this.deps;
    const tx = await producer.transaction();
    let flowMeta: RecordMetadata[] = [];
    try {
      if (records.length > 0) {
        flowMeta = await tx.send({
          topic: topics.flows,
          acks: -1,
          messages: records.map(flowMessage),
        });
      }
      await tx.send({ topic: topics.audit, acks: -1, messages: audit.map(auditMessage) });
      await tx.commit();
    } catch (err) {
      await tx.abort().catch(() => undefined);
      throw err;
    }
    // One partition, one batch: the records got consecutive offsets from the base offset.
    const base = BigInt(flowMeta[0]?.baseOffset ?? flowMeta[0]?.offset ?? '0');
    return { offsets: records.map((_r, i) => base + BigInt(i)) };
  }

  /** Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.queue;
      await this.connecting?.catch(() => undefined);
      await this.producer?.disconnect();
    })();
    return this.closing;
  }
}
