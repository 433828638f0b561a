import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from 'kafkajs';
import { Kafka, logLevel } from '../src/kafka/kafkajs';
import { startKafka } from '../src/kafka/local-broker';
import {
  counter,
  createBenchTopics,
  MemoryPeaks,
  mib,
  oneWebhookFlow,
  startBenchTrigger,
  until,
  writeBenchResult,
} from './support';
import { FlowhookService } from '../src/service/service';

// npm run bench:price-drop — a price drop reaching BENCH_VIEWERS (default 100,000) viewers of one
// item, through the trigger role on the local broker (3 partitions):
//   1. load: one Viewed Product event per viewer (each its own profile), the item's first
//      catalog record; the trigger records the per-item audience (flowhook.item-audience);
//   2. the drop: one catalog record with a lower price; measured from producing it to the
//      fan-out having emitted every entry (flowhook.item-entries), and to the last job being
//      committed on flowhook.jobs (read by a read_committed consumer in this process);
//   3. memory: peak JS heap and RSS of this process (flowhook and the reader) during the drop.
// Results go to bench/results/price-drop.json (price-drop-<viewers>.json for another count).

const VIEWERS = Number(process.env.BENCH_VIEWERS ?? 100_000);
const PARTITIONS = 3;
const ITEM = 'HOT-ITEM';

function priceDropFlow(): Record<string, unknown> {
  return oneWebhookFlow(
    'price-drop',
    {
      type: 'price-drop',
      trigger_filter: null,
      price_drop_amount_value: 10,
      price_drop_amount_unit: 'percent',
      audience: ['viewed', 'checkout-started'],
      timeframe_days: 30,
    },
    {
      url: 'https://crm.example.com/price-drops',
      body: '{"email": "{{ email }}", "item": "{{ event.item_id }}", "was": {{ event.old_price }}, "now": {{ event.new_price }}}',
    },
  );
}

const catalogRecord = (price: number): Message => ({
  key: ITEM,
  value: JSON.stringify({
    external_id: ITEM,
    title: 'A popular item',
    url: 'https://shop.example.com/hot',
    price,
  }),
});

async function main(): Promise<void> {
  const cluster = await startKafka({ log: (l) => console.error(l) });
  const kafka = new Kafka({
    brokers: cluster.brokers,
    logLevel: logLevel.NOTHING,
    clientId: 'bench',
  });
  const prefix = `bench-${randomUUID().slice(0, 8)}.`;
  const stateDir = join(tmpdir(), `flowhook-bench-price-drop-${randomUUID().slice(0, 8)}`);
  let service: FlowhookService | undefined;
  try {
    await createBenchTopics(kafka, prefix, ['events', 'catalog'], PARTITIONS);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: `${prefix}flows`,
      messages: [{ key: 'price-drop', value: JSON.stringify(priceDropFlow()) }],
    });
    const now = Date.now();
    for (let i = 0; i < VIEWERS; i += 2000) {
      const batch: Message[] = [];
      for (let k = i; k < Math.min(VIEWERS, i + 2000); k++) {
        const profileId = `viewer-${k}`;
        batch.push({
          key: profileId,
          value: JSON.stringify({
            id: `view-${k}`,
            metric: 'Viewed Product',
            time: new Date(now - 86_400_000 + k).toISOString(),
            profile: { id: profileId, email: `${profileId}@example.com` },
            properties: { ProductID: ITEM, ProductName: 'A popular item' },
          }),
        });
      }
      await producer.send({ topic: `${prefix}events`, messages: batch, acks: -1 });
    }
    await producer.send({ topic: `${prefix}catalog`, messages: [catalogRecord(100)], acks: -1 });

    const loadStart = Date.now();
    const started = await startBenchTrigger({
      brokers: cluster.brokers,
      prefix,
      partitions: PARTITIONS,
      instanceId: 'bench-price-drop',
      stateDir,
    });
    service = started.service;
    const { metrics } = started;
    await until(() => service?.isReady() ?? false, 5);
    await until(
      async () =>
        (await counter(metrics.itemAudienceRecords)) >= VIEWERS &&
        (await counter(metrics.catalogUpdates)) >= 1,
      50,
    );
    const loadSeconds = (Date.now() - loadStart) / 1000;

    // Reads flowhook.jobs as committed; started before the drop so it is assigned by then.
    const reader = kafka.consumer({
      groupId: `bench-reader-${randomUUID()}`,
      readUncommitted: false,
    });
    await reader.connect();
    await reader.subscribe({ topic: `${prefix}jobs`, fromBeginning: true });
    let jobs = 0;
    let lastJobAt = 0;
    await reader.run({
      eachBatch: async ({ batch }) => {
        jobs += batch.messages.length;
        if (jobs >= VIEWERS && lastJobAt === 0) lastJobAt = Date.now();
      },
    });

    global.gc?.();
    const base = process.memoryUsage();
    const memory = new MemoryPeaks().start();
    const dropAt = Date.now();
    await producer.send({ topic: `${prefix}catalog`, messages: [catalogRecord(80)], acks: -1 });
    let fannedOutAt = 0;
    await until(async () => {
      if (fannedOutAt === 0 && (await counter(metrics.itemEntriesEmitted)) >= VIEWERS)
        fannedOutAt = Date.now();
      return lastJobAt !== 0;
    }, 20);
    const peaks = memory.stop();
    await reader.disconnect();
    await producer.disconnect();

    const result = {
      date: new Date().toISOString(),
      node: process.version,
      partitions: PARTITIONS,
      viewers: VIEWERS,
      audienceLoadSeconds: loadSeconds,
      audienceLoadEventsPerSecond: VIEWERS / loadSeconds,
      fanOutSeconds: (fannedOutAt - dropAt) / 1000,
      lastJobSeconds: (lastJobAt - dropAt) / 1000,
      entriesPerSecond: VIEWERS / ((lastJobAt - dropAt) / 1000),
      jobs,
      baseHeapMb: mib(base.heapUsed),
      peakHeapMb: peaks.peakHeapMb,
      baseRssMb: mib(base.rss),
      peakRssMb: peaks.peakRssMb,
    };
    console.log(
      `price drop to ${VIEWERS} viewers: fan-out done in ${result.fanOutSeconds.toFixed(2)} s, ` +
        `last job committed after ${result.lastJobSeconds.toFixed(2)} s (${Math.round(result.entriesPerSecond)} entries/s); ` +
        `peak JS heap ${result.peakHeapMb} MiB (before the drop ${result.baseHeapMb}), peak RSS ${result.peakRssMb} MiB ` +
        `(before ${result.baseRssMb}); audience load ${Math.round(result.audienceLoadEventsPerSecond)} events/s`,
    );
    writeBenchResult(
      VIEWERS === 100_000 ? 'price-drop.json' : `price-drop-${VIEWERS}.json`,
      result,
    );
  } finally {
    await service?.stop();
    await cluster.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
