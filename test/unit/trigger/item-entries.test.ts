import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KafkaMessage, Message } from 'kafkajs';
import type { AudienceRecord } from '../../../src/catalog/audience';
import { FlowTable } from '../../../src/flows/flow-table';
import type { CompiledFlow } from '../../../src/flows/types';
import type { ProcessorContext, ProcessorRecord } from '../../../src/kafka/processor';
import { LocalStateDirectory, StorePartition, type StoreSpec } from '../../../src/kafka/store';
import { TimerService, timerStoreSpec } from '../../../src/kafka/timers';
import { topicNames } from '../../../src/kafka/topics';
import { FlowhookMetrics } from '../../../src/observability/metrics';
import { FANOUT_CHUNK, ItemEntries, type ItemEntryRecord } from '../../../src/trigger/item-entries';
import { flowDoc } from '../flows/builders';

// The fan-out on real store partitions (LMDB in a temporary directory), one "commit" between
// timer firings: chunks of FANOUT_CHUNK rows, the cursor carried by the timer, the audience rule.

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-01T12:00:00Z');
const topics = topicNames('t.');
let dir: string;
let local: LocalStateDirectory;
let emitted: { topic: string; message: Message }[];
let dead: string[];
let entered: { event: ItemEntryRecord['event']; key: string; flow: string }[];
let items: ItemEntries;
let context: ProcessorContext;
let partitions: StorePartition<unknown>[];
let offset = 0;

function record(topic: string, key: string, value: unknown): ProcessorRecord {
  offset += 1;
  const bytes = value === null ? null : Buffer.from(JSON.stringify(value));
  return {
    topic,
    partition: 0,
    offset: String(offset),
    key: Buffer.from(key),
    value: bytes,
    headers: {},
    timestamp: NOW,
    message: { key: Buffer.from(key), value: bytes } as KafkaMessage,
  };
}

/** What the kernel does after a commit: this interval's writes reach LMDB. */
function commit(): void {
  for (const p of partitions) {
    // Kernels that seal an interval's writes before committing them (seal, then committed).
    (p as unknown as { seal?: () => unknown }).seal?.();
    p.committed(undefined);
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flowhook-items-'));
  local = new LocalStateDirectory(dir);
  emitted = [];
  dead = [];
  entered = [];
  const table = new FlowTable({ allowHttp: false });
  table.apply(
    'drop',
    flowDoc(
      { id: 'drop' },
      {
        triggers: [
          {
            type: 'price-drop',
            trigger_filter: null,
            price_drop_amount_value: 1,
            audience: ['viewed'],
          },
        ],
      },
    ),
  );
  items = new ItemEntries({
    topics,
    catalogTopics: ['catalog'],
    retentionMs: 90 * DAY,
    registry: () => undefined,
    profiles: undefined,
    itemFlows: () => table.itemFlows(),
    flow: (id) => table.get(id),
    metrics: new FlowhookMetrics({ defaultMetrics: false }),
    deadLetter: (_c, _r, reason) => dead.push(reason),
    partitionCount: () => Promise.resolve(3),
    enter: (event, key, _entry, _c, _r, flow: CompiledFlow) =>
      entered.push({ event, key, flow: flow.id }),
  });
  const byName = new Map<string, StorePartition<unknown>>();
  for (const spec of [items.catalog, items.audience, timerStoreSpec('t.timers')])
    byName.set(spec.name, new StorePartition(spec as StoreSpec<unknown>, 0, local));
  partitions = [...byName.values()];
  const timers = new TimerService(byName.get('timers') as never);
  context = {
    partition: 0,
    now: () => NOW,
    store: <T>(spec: StoreSpec<T>) => byName.get(spec.name) as unknown as StorePartition<T>,
    timers,
    emit: (topic, message) => emitted.push({ topic, message }),
    pauseUntil: () => undefined,
  };
});

afterEach(() => {
  local.close();
  LocalStateDirectory.remove(dir);
});

const audience = (profile: string, kind: AudienceRecord['kind'], ago: number) =>
  record(topics.itemAudience, 'MUG', {
    item_id: 'MUG',
    profile_key: profile,
    kind,
    time: new Date(NOW - ago).toISOString(),
    event_id: `${profile}-${kind}`,
  });
const mug = (price: number) => record('catalog', 'MUG', { external_id: 'MUG', price });

/** Fires due timers until none is left, one commit each; returns how many fired. */
async function fireAll(): Promise<number> {
  let fired = 0;
  for (;;) {
    const due = context.timers.due(NOW, 10);
    if (due.length === 0) return fired;
    for (const timer of due) {
      context.timers.cancel(timer.id);
      expect(items.onTimer(timer, context)).toBe(true);
      fired += 1;
    }
    commit();
  }
}

it('fans a price drop out to every viewer in chunks, skipping buyers and stale rows', async () => {
  const viewers = 2 * FANOUT_CHUNK + 500;
  for (let i = 0; i < viewers; i++)
    await items.process(audience(`p${String(i).padStart(5, '0')}`, 'viewed', DAY), context);
  await items.process(audience('buyer', 'viewed', 2 * DAY), context);
  await items.process(audience('buyer', 'purchased', DAY), context);
  await items.process(audience('old', 'viewed', 40 * DAY), context);
  await items.process(audience('ancient', 'viewed', 100 * DAY), context); // beyond retention
  await items.process(mug(40), context);
  commit();
  expect(context.timers.due(NOW, 10)).toEqual([]); // a first sighting is not a drop
  emitted = [];
  const drop = mug(30);
  await items.process(drop, context);
  commit();
  expect(await fireAll()).toBe(3);
  const entries = emitted.filter((e) => e.topic === topics.itemEntries);
  expect(entries).toHaveLength(viewers);
  const keys = entries.map((e) => String(e.message.key));
  expect(new Set(keys).size).toBe(viewers);
  expect(keys).not.toContain('buyer');
  expect(keys).not.toContain('old');
  const first = JSON.parse(String(entries[0]?.message.value)) as ItemEntryRecord;
  expect(first).toEqual({
    flow_id: 'drop',
    event: {
      id: `price-drop:MUG:catalog:0:${drop.offset}:p00000`,
      metric: 'Price Drop',
      time: new Date(NOW).toISOString(),
      profile: { id: 'p00000' },
      properties: {
        item_id: 'MUG',
        price: 30,
        old_price: 40,
        new_price: 30,
        price_drop_amount: 10,
        price_drop_percent: 25,
      },
    },
  });
  // The same price again: nothing to fan out.
  emitted = [];
  await items.process(mug(30), context);
  commit();
  expect(await fireAll()).toBe(0);
  expect(emitted).toEqual([]);
  expect(dead).toEqual([]);
});

it('dead-letters bad catalog records, enters from an item-entries record', async () => {
  await items.process(record('catalog', 'X', { title: 'no id' }), context);
  await items.process(record('catalog', 'OTHER', { external_id: 'MUG', price: 3 }), context);
  await items.process(record(topics.itemAudience, 'MUG', { nope: true }), context);
  expect(dead).toEqual(['catalog_schema_invalid', 'catalog_wrong_key', 'unreadable_item_audience']);
  const event = {
    id: 'price-drop:MUG:catalog:0:9:email:ann@example.com',
    metric: 'Price Drop',
    time: new Date(NOW).toISOString(),
    profile: { email: 'ann@example.com' },
    properties: { item_id: 'MUG' },
  };
  await items.process(
    record(topics.itemEntries, 'email:ann@example.com', { flow_id: 'drop', event }),
    context,
  );
  expect(entered).toEqual([{ event, key: 'email:ann@example.com', flow: 'drop' }]);
});
