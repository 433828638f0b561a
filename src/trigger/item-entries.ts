// Price-drop and low-inventory flows on the kernel: the catalog, the per-item audience, and the
// fan-out of a catalog change to that audience, in bounded memory and exactly once.
//
// Three hops, each co-partitioned as the kernel requires (task p owns partition p of every
// input and store):
//   1. Events are keyed by profile. At the profile's task, an event of an audience metric
//      (src/catalog/audience.ts) becomes one record per item it names on flowhook.item-audience,
//      keyed by item id.
//   2. Catalog records (FLOWHOOK_CATALOG_TOPICS) and flowhook.item-audience are keyed by item id
//      and have the same partition count (checked at start), so the item's task holds both the
//      `catalog` store (the item's last record) and the `item-audience` store (one row per item
//      and profile). A catalog record that is a change for a loaded flow (src/trigger/
//      item-trigger.ts) schedules a fan-out timer, in the same transaction as the new record.
//      Each firing scans at most FANOUT_CHUNK audience rows of the item after its cursor, emits
//      one record per qualifying profile and flow on flowhook.item-entries (keyed by profile),
//      drops rows older than the audience retention, and sets itself again with the new
//      cursor: what a firing emits commits with the cursor that moved past it.
//   3. At the profile's task, an item-entries record enters its one flow like any event: entry
//      state (dedup by the event's id, re-entry), profile filter and the profile store apply.

import type { FlowhookEvent, JsonObject } from '../documents';
import { EventDecodeError, FlowhookError } from '../errors';
import type { SchemaRegistryDecoder } from '../events/decode';
import type { CompiledFlow, ItemTriggerSpec } from '../flows/types';
import type { ProcessorContext, ProcessorRecord } from '../kafka/processor';
import { jsonCodec, type StoreSpec } from '../kafka/store';
import type { Timer } from '../kafka/timers';
import type { FlowhookMetrics } from '../observability/metrics';
import { profileKey } from '../profile-key';
import type { ProfileRecord } from '../profiles/record';
import {
  applyAudienceRecord,
  audienceKey,
  audienceRange,
  audienceRecords,
  lastActivity,
  parseAudienceRecord,
  profileFromKey,
  profileKeyOf,
  type AudienceEntry,
} from '../catalog/audience';
import {
  decodeCatalogItem,
  decodeCatalogRecord,
  encodeCatalogRecord,
  type CatalogItem,
  type CatalogRecord,
} from '../catalog/item';
import type { EntryContext } from './entry';
import { inAudience, itemChange } from './item-trigger';

/** Value of a flowhook.item-entries record (key = profile key). */
export interface ItemEntryRecord {
  flow_id: string;
  event: FlowhookEvent;
}

/** One flow a fan-out enters, with the properties of its event. */
interface FanoutFlow {
  flow_id: string;
  metric: string;
  properties: JsonObject;
}

/** Payload of a fan-out timer. */
export interface FanoutTimerPayload {
  kind: 'item-fanout';
  item_id: string;
  /** The catalog record that changed: `<topic>:<partition>:<offset>` (part of the event ids). */
  source: string;
  /** When the change happened (the catalog record's timestamp, ISO-8601): the events' time. */
  time: string;
  flows: FanoutFlow[];
  /** The last audience row scanned; null: from the start. */
  after: string | null;
}

/** Audience rows scanned per firing (each firing is its own commit). */
export const FANOUT_CHUNK = 1000;

export function catalogStore(changelogTopic: string): StoreSpec<CatalogRecord | null> {
  return {
    name: 'catalog',
    changelogTopic,
    codec: { encode: (r) => encodeCatalogRecord(r as CatalogRecord), decode: decodeCatalogRecord },
  };
}

export function itemAudienceStore(changelogTopic: string): StoreSpec<AudienceEntry> {
  return { name: 'item-audience', changelogTopic, codec: jsonCodec<AudienceEntry>() };
}

export interface ItemEntriesDeps {
  topics: {
    catalogStore: string;
    itemAudience: string;
    itemAudienceStore: string;
    itemEntries: string;
  };
  catalogTopics: readonly string[];
  /** How long audience rows are kept (FLOWHOOK_CATALOG_AUDIENCE_RETENTION). */
  retentionMs: number;
  registry(): SchemaRegistryDecoder | undefined;
  /** The profile store, when it is on (the profile an entry renders with). */
  profiles: StoreSpec<ProfileRecord> | undefined;
  itemFlows(): readonly CompiledFlow[];
  flow(id: string): CompiledFlow | undefined;
  metrics: Pick<
    FlowhookMetrics,
    'catalogUpdates' | 'itemAudienceRecords' | 'itemFanouts' | 'itemEntriesEmitted' | 'flowSkips'
  >;
  deadLetter(
    context: ProcessorContext,
    record: ProcessorRecord,
    reason: string,
    error: string,
  ): void;
  partitionCount(topic: string): Promise<number>;
  /** Enters `flow` with the event (the trigger's entry decision and walk). */
  enter(
    event: FlowhookEvent,
    key: string,
    entry: EntryContext,
    context: ProcessorContext,
    record: ProcessorRecord,
    flow: CompiledFlow,
  ): void;
}

const fanoutTimerId = (source: string) => `item-fanout|${source}`;
const itemSpec = (flow: CompiledFlow | undefined): ItemTriggerSpec | null =>
  flow !== undefined && flow.trigger.type === 'item' ? flow.trigger.item : null;
const live = (flow: CompiledFlow) => flow.status === 'live' || flow.status === 'manual';

export class ItemEntries {
  readonly catalog: StoreSpec<CatalogRecord | null>;
  readonly audience: StoreSpec<AudienceEntry>;
  private readonly catalogTopics: ReadonlySet<string>;

  constructor(private readonly deps: ItemEntriesDeps) {
    this.catalog = catalogStore(deps.topics.catalogStore);
    this.audience = itemAudienceStore(deps.topics.itemAudienceStore);
    this.catalogTopics = new Set(deps.catalogTopics);
  }

  /** The input topics this module reads. */
  topics(): string[] {
    return [...this.catalogTopics, this.deps.topics.itemAudience, this.deps.topics.itemEntries];
  }

  /**
   * The co-partitioning this module needs: catalog topics as wide as flowhook.item-audience (both
   * keyed by item id, so an item's records and its audience meet in one task). Throws otherwise.
   */
  checkPartitions(count: (topic: string) => number, present: readonly string[]): void {
    const audience = count(this.deps.topics.itemAudience);
    const wrong = [...this.catalogTopics].filter(
      (t) => present.includes(t) && count(t) !== audience,
    );
    if (wrong.length > 0) {
      throw new Error(
        `catalog topics ${wrong.map((t) => `${t} (${count(t)})`).join(', ')} must have as many partitions as ` +
          `${this.deps.topics.itemAudience} (${audience}): both are keyed by item id, and an item's catalog records ` +
          'and audience must reach the same task',
      );
    }
  }

  handles(topic: string): boolean {
    return (
      this.catalogTopics.has(topic) ||
      topic === this.deps.topics.itemAudience ||
      topic === this.deps.topics.itemEntries
    );
  }

  async process(record: ProcessorRecord, context: ProcessorContext): Promise<void> {
    if (record.topic === this.deps.topics.itemAudience) this.applyAudience(record, context);
    else if (record.topic === this.deps.topics.itemEntries) this.enterFromFanout(record, context);
    else await this.applyCatalog(record, context);
  }

  /** At the profile's task: the event's views, carts, checkouts, purchases, towards the items. */
  recordAudience(context: ProcessorContext, event: FlowhookEvent, profileKey: string): void {
    for (const r of audienceRecords(event, profileKey)) {
      context.emit(this.deps.topics.itemAudience, { key: r.item_id, value: JSON.stringify(r) });
    }
  }

  /** At the item's task: one audience record into the item's audience store. */
  private applyAudience(record: ProcessorRecord, context: ProcessorContext): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(record.value?.toString('utf8') ?? '');
    } catch {
      parsed = null;
    }
    const audience = parseAudienceRecord(parsed);
    if (audience === null) {
      this.deps.deadLetter(
        context,
        record,
        'unreadable_item_audience',
        'not an item-audience record',
      );
      return;
    }
    const at = Date.parse(audience.time);
    if (at < context.now() - this.deps.retentionMs) return;
    const store = context.store(this.audience);
    const key = audienceKey(audience.item_id, audience.profile_key);
    const next = applyAudienceRecord(store.get(key), audience);
    if (next === null) return;
    store.put(key, next);
    this.deps.metrics.itemAudienceRecords.inc();
  }

  /** At the item's task: a catalog record; a change for a loaded flow starts a fan-out. */
  private async applyCatalog(record: ProcessorRecord, context: ProcessorContext): Promise<void> {
    const { metrics } = this.deps;
    const recordKey = record.key?.toString('utf8') ?? null;
    const store = context.store(this.catalog);
    if (record.value === null || record.value.length === 0) {
      // A tombstone: the item is gone (its audience rows expire with the retention).
      if (recordKey !== null && store.get(recordKey) !== undefined) {
        store.delete(recordKey);
        metrics.catalogUpdates.inc({ change: 'deleted' });
      }
      return;
    }
    let item: CatalogItem;
    try {
      item = await decodeCatalogItem(record.value, { registry: this.deps.registry() });
    } catch (err) {
      if (err instanceof FlowhookError && err.retriable) throw err;
      const reason = err instanceof EventDecodeError ? err.reason : 'undecodable';
      this.deps.deadLetter(context, record, `catalog_${reason}`, (err as Error).message);
      return;
    }
    if (recordKey !== item.id && (await this.deps.partitionCount(record.topic)) > 1) {
      this.deps.deadLetter(
        context,
        record,
        'catalog_wrong_key',
        `record key ${recordKey === null ? 'null' : `'${recordKey}'`} is not the item id '${item.id}': ` +
          `${record.topic} has several partitions, so catalog records must be keyed by the item id (its external_id)`,
      );
      return;
    }
    const before = store.get(item.id)?.item ?? null;
    const unchanged = before !== null && JSON.stringify(before) === JSON.stringify(item);
    metrics.catalogUpdates.inc({
      change: before === null ? 'new' : unchanged ? 'unchanged' : 'changed',
    });
    if (unchanged) return;
    const now = context.now();
    store.put(item.id, { v: 1, item, at: now });
    if (before === null) return;
    const time = new Date(Math.min(record.timestamp, now)).toISOString();
    const flows: FanoutFlow[] = [];
    for (const flow of this.deps.itemFlows()) {
      const spec = itemSpec(flow) as ItemTriggerSpec;
      const properties = itemChange(spec, before, item);
      if (properties === null) continue;
      // The trigger filter reads only the item: checked once here, not per profile.
      const probe: FlowhookEvent = { id: '', metric: spec.metric, time, profile: {}, properties };
      if (
        spec.filter !== null &&
        !spec.filter({
          event: probe,
          profile: {},
          now: new Date(now),
          flowId: flow.id,
          previousEntryAt: null,
        })
      ) {
        metrics.flowSkips.inc({ flow_id: flow.id, reason: 'trigger_filter' });
        continue;
      }
      metrics.itemFanouts.inc({ flow_id: flow.id });
      flows.push({ flow_id: flow.id, metric: spec.metric, properties });
    }
    if (flows.length === 0) return;
    const source = `${record.topic}:${record.partition}:${record.offset}`;
    const payload: FanoutTimerPayload = {
      kind: 'item-fanout',
      item_id: item.id,
      source,
      time,
      flows,
      after: null,
    };
    context.timers.schedule({ id: fanoutTimerId(source), due: now, key: item.id, payload });
  }

  /** A timer of this module fired (true), or not one of its timers (false). */
  onTimer(timer: Timer, context: ProcessorContext): boolean {
    const payload = timer.payload as Partial<FanoutTimerPayload> | undefined;
    if (payload?.kind !== 'item-fanout') return false;
    this.fanOut(payload as FanoutTimerPayload, context);
    return true;
  }

  /** One chunk of a fan-out: audience rows after the cursor, then the next chunk's timer. */
  private fanOut(payload: FanoutTimerPayload, context: ProcessorContext): void {
    const { metrics, topics } = this.deps;
    const flows = payload.flows.flatMap((f) => {
      const flow = this.deps.flow(f.flow_id);
      const spec = itemSpec(flow);
      return flow && spec && live(flow) ? [{ ...f, spec }] : [];
    });
    if (flows.length === 0) return;
    const store = context.store(this.audience);
    const now = context.now();
    const expired = now - this.deps.retentionMs;
    const range = audienceRange(payload.item_id);
    const start = payload.after === null ? range.start : `${payload.after}\u0000`;
    let last: string | null = null;
    let scanned = 0;
    for (const [key, entry] of store.range({ start, end: range.end, limit: FANOUT_CHUNK })) {
      scanned += 1;
      last = key;
      if (lastActivity(entry) < expired) {
        store.delete(key);
        continue;
      }
      const profileKey = profileKeyOf(key, payload.item_id);
      for (const f of flows) {
        if (!inAudience(f.spec, entry, now)) continue;
        const event: FlowhookEvent = {
          id: `${f.spec.kind}:${payload.item_id}:${payload.source}:${profileKey}`,
          metric: f.metric,
          time: payload.time,
          profile: profileFromKey(profileKey),
          properties: f.properties,
        };
        const value: ItemEntryRecord = { flow_id: f.flow_id, event };
        context.emit(topics.itemEntries, { key: profileKey, value: JSON.stringify(value) });
        metrics.itemEntriesEmitted.inc({ flow_id: f.flow_id });
      }
    }
    if (scanned < FANOUT_CHUNK) return;
    context.timers.schedule({
      id: fanoutTimerId(payload.source),
      due: now,
      key: payload.item_id,
      payload: { ...payload, after: last },
    });
  }

  /** At the profile's task: a fan-out's entry into its flow. */
  private enterFromFanout(record: ProcessorRecord, context: ProcessorContext): void {
    let entry: ItemEntryRecord;
    try {
      entry = JSON.parse(record.value?.toString('utf8') ?? '') as ItemEntryRecord;
      if (typeof entry.flow_id !== 'string' || typeof entry.event?.id !== 'string')
        throw new Error('not an item-entries record');
    } catch (err) {
      this.deps.deadLetter(context, record, 'unreadable_item_entry', (err as Error).message);
      return;
    }
    const flow = this.deps.flow(entry.flow_id);
    if (!flow || itemSpec(flow) === null) {
      this.deps.metrics.flowSkips.inc({ flow_id: entry.flow_id, reason: 'flow_gone' });
      return;
    }
    const key = record.key?.toString('utf8') ?? '';
    const stored = this.deps.profiles
      ? (context.store(this.deps.profiles).get(key) ?? null)
      : undefined;
    // The profile as the store has it (the body renders with it), when the store knows it
    // under this key.
    const profile =
      stored && profileKey(stored.profile) === key ? stored.profile : entry.event.profile;
    this.deps.enter(
      { ...entry.event, profile },
      key,
      { profile, stored: stored ?? null },
      context,
      record,
      flow,
    );
  }
}
