// The audit log: one record per control-plane change on the append-only flowhook.audit topic
// (who, what, when, from where). Flow changes write it in the same Kafka transaction as the
// flow record (see publish.ts), so a change is never visible without its audit entry.
//
// AuditLog tails the topic and keeps every entry in memory, indexed by flow id. Entries are
// small (~400 bytes) and changes are made by people, so a million entries (~0.5 GB) is years of
// a busy team; past that, a store with an index (the activity store's database) is the way.

import { randomUUID } from 'node:crypto';
import type { Kafka, Message } from 'kafkajs';
import { CompactedTopicReader } from '../kafka/compacted-reader';
import type { Logger } from '../observability/logger';

export interface AuditActor {
  subject: string;
  email: string | null;
  role: string;
  amr: string[];
}

export type AuditAction =
  | 'flow.create'
  | 'flow.update'
  | 'flow.status'
  | 'flow.delete'
  | 'review.release'
  | 'review.discard'
  | 'dlq.replay';

export interface AuditEntry {
  id: string;
  time: string;
  actor: AuditActor;
  /** The client's address as the admin API saw it (null for the CLI). */
  address: string | null;
  action: AuditAction;
  flow_id: string | null;
  /** The flow version the change produced (the deleted version for a delete). */
  version: number | null;
  /** What changed, for people: e.g. "webhook send-crm: url changed". */
  summary: string;
  /** Ids the change concerns besides the flow (review item, replayed jobs). */
  targets?: string[];
}

export function auditEntry(fields: Omit<AuditEntry, 'id' | 'time'>, now = new Date()): AuditEntry {
  return { id: randomUUID(), time: now.toISOString(), ...fields };
}

export function auditMessage(entry: AuditEntry): Message {
  return { key: entry.flow_id ?? entry.action, value: JSON.stringify(entry) };
}

export interface AuditQuery {
  flow_id?: string;
  /** ISO-8601; entries at or after it. */
  since?: string;
  limit?: number;
}

/** The audit topic, followed live, held in memory (see the header for how far that goes). */
export class AuditLog {
  private readonly entries: AuditEntry[] = [];
  private readonly byFlow = new Map<string, AuditEntry[]>();
  private readonly reader: CompactedTopicReader;
  private started: Promise<void> | undefined;

  constructor(
    kafka: Kafka,
    topic: string,
    private readonly logger: Logger,
  ) {
    this.reader = new CompactedTopicReader(kafka, { topic, groupPrefix: 'flowhook-audit' }, logger);
  }

  /** Resolves once the topic has been read to its end. */
  start(): Promise<void> {
    this.started ??= this.reader.start((record) => {
      if (record.value === null) return;
      try {
        this.add(JSON.parse(record.value.toString('utf8')) as AuditEntry);
      } catch (err) {
        this.logger.warn({ err, offset: record.offset }, 'audit record is not JSON; skipped');
      }
    });
    return this.started;
  }

  private add(entry: AuditEntry): void {
    this.entries.push(entry);
    if (entry.flow_id !== null) {
      const list = this.byFlow.get(entry.flow_id) ?? [];
      list.push(entry);
      this.byFlow.set(entry.flow_id, list);
    }
  }

  /** Newest first. */
  query(q: AuditQuery): AuditEntry[] {
    const source = q.flow_id === undefined ? this.entries : (this.byFlow.get(q.flow_id) ?? []);
    const since = q.since === undefined ? undefined : Date.parse(q.since);
    const limit = Math.min(q.limit ?? 100, 1000);
    const out: AuditEntry[] = [];
    for (let i = source.length - 1; i >= 0 && out.length < limit; i--) {
      const e = source[i] as AuditEntry;
      if (since !== undefined && Date.parse(e.time) < since) break; // the topic is in time order
      out.push(e);
    }
    return out;
  }

  get size(): number {
    return this.entries.length;
  }

  stop(): Promise<void> {
    return this.reader.stop();
  }
}
