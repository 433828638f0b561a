import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { Kafka } from 'kafkajs';
import { BatchConsumer, type BatchHandler } from '../../src/kafka/batch-consumer';
import { CompactedTopicReader, type CompactedRecord } from '../../src/kafka/compacted-reader';
import { installCoordinatorCache } from '../../src/kafka/coordinator-cache';
import { FlowhookMetrics } from '../../src/observability/metrics';
import {
  brokers,
  createTopic,
  readTopic,
  silentLogger,
  testKafka,
  uniqueName,
  withAdmin,
} from '../support/kafka';
import { waitFor } from '../support/wait';

// The shared Kafka adapter against the real broker: batch consumption with manual offsets,
// consume→produce in one transaction, and reading a compacted topic to its end.

let kafka: Kafka;
const open: { stop(): Promise<void> }[] = [];

beforeAll(() => {
  kafka = testKafka();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.stop()));
});

function consumer(options: ConstructorParameters<typeof BatchConsumer>[0]): BatchConsumer {
  const c = new BatchConsumer(options, {
    kafka,
    logger: silentLogger,
    metrics: new FlowhookMetrics({ defaultMetrics: false }),
  });
  open.push(c);
  return c;
}

async function produce(
  topic: string,
  values: string[],
  key?: (i: number) => string,
): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({
    topic,
    messages: values.map((value, i) => ({ key: key?.(i) ?? null, value })),
  });
  await producer.disconnect();
}

async function committedOffset(groupId: string, topic: string): Promise<number> {
  return withAdmin(kafka, async (admin) => {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return t.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  });
}

describe('BatchConsumer (at-least-once)', () => {
  it('hands batches to the handler, produces its outbox, then commits the offsets', async () => {
    const input = uniqueName('in');
    const output = uniqueName('out');
    await createTopic(kafka, input, 2);
    await createTopic(kafka, output);
    const groupId = uniqueName('g');
    const seen: string[] = [];
    const c = consumer({ groupId, topics: [input] });
    await c.start(async (batch, outbox) => {
      for (const m of batch.messages) {
        seen.push(m.value!.toString());
        outbox.send(output, { value: `echo:${m.value!.toString()}` });
      }
    });
    await waitFor(() => c.isReady(), { what: 'group join' });
    await produce(input, ['a', 'b', 'c', 'd'], (i) => `k${i}`);

    const out = await readTopic(kafka, output, (m) => m.length >= 4);
    expect(out.map((m) => m.value).sort()).toEqual(['echo:a', 'echo:b', 'echo:c', 'echo:d']);
    await waitFor(async () => (await committedOffset(groupId, input)) === 4, {
      what: 'commit of 4 offsets',
    });
    expect(seen.sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('fetches on while a batch settles; offsets move only over batches that all settled', async () => {
    const input = uniqueName('in');
    const output = uniqueName('out');
    await createTopic(kafka, input);
    await createTopic(kafka, output);
    const groupId = uniqueName('g');
    const settle = new Map<string, () => void>();
    const c = consumer({ groupId, topics: [input], commitIntervalMs: 50 });
    await c.start(async (batch, outbox) => {
      const value = batch.messages.map((m) => m.value!.toString()).join(',');
      outbox.send(output, { value });
      return {
        processed: batch.messages.length,
        settled: new Promise<void>((resolve) => settle.set(value, resolve)),
      };
    });
    await waitFor(() => c.isReady(), { what: 'group join' });
    await produce(input, ['first']);
    await waitFor(() => settle.has('first'), { what: 'the first batch' });
    // The first batch has not settled: the second is handed over all the same.
    await produce(input, ['second']);
    await waitFor(() => settle.has('second'), { what: 'the second batch, the first unsettled' });

    settle.get('second')!();
    const out = await readTopic(kafka, output, (m) => m.length >= 1);
    expect(out.map((m) => m.value)).toEqual(['second']);
    // The second batch's outcome is produced, but the first one's is not: nothing commits.
    expect(await committedOffset(groupId, input)).toBe(0);

    settle.get('first')!();
    await waitFor(async () => (await committedOffset(groupId, input)) === 2, {
      what: 'both offsets committed once the first batch settled',
    });
    const both = await readTopic(kafka, output, (m) => m.length >= 2);
    expect(both.map((m) => m.value).sort()).toEqual(['first', 'second']);
  });

  it('stop() waits for a batch that settles after it was called, and commits it', async () => {
    const input = uniqueName('in');
    const output = uniqueName('out');
    await createTopic(kafka, input);
    await createTopic(kafka, output);
    const groupId = uniqueName('g');
    let settle: (() => void) | undefined;
    const c = consumer({ groupId, topics: [input] });
    await c.start(async (batch, outbox) => {
      outbox.send(output, { value: batch.messages.map((m) => m.value!.toString()).join(',') });
      return {
        processed: batch.messages.length,
        settled: new Promise<void>((resolve) => (settle = resolve)),
      };
    });
    await waitFor(() => c.isReady(), { what: 'group join' });
    await produce(input, ['a']);
    await waitFor(() => settle, { what: 'the batch in hand' });

    const stopping = c.stop();
    // The batch settles while the stop is under way (one round trip to the broker later).
    await withAdmin(kafka, async (admin) => admin.describeGroups([groupId]));
    settle!();
    await stopping;
    // Committed by the stop, while the consumer was still a member of its group: kafkajs's
    // stop() leaves the group and a commit after that is refused.
    expect(await committedOffset(groupId, input)).toBe(1);
    const out = await readTopic(kafka, output, (m) => m.length >= 1);
    expect(out.map((m) => m.value)).toEqual(['a']);
  });

  it('commits only what the handler processed; the rest is fetched again after resume', async () => {
    const input = uniqueName('in');
    await createTopic(kafka, input);
    const groupId = uniqueName('g');
    let gateOpen = false;
    const processed: string[] = [];
    const c = consumer({ groupId, topics: [input] });
    const handler: BatchHandler = async (batch) => {
      let n = 0;
      for (const m of batch.messages) {
        if (m.value!.toString() === 'wait' && !gateOpen) {
          batch.pause();
          break;
        }
        processed.push(m.value!.toString());
        n += 1;
      }
      return { processed: n };
    };
    await c.start(handler);
    await waitFor(() => c.isReady(), { what: 'group join' });
    await produce(input, ['one', 'two', 'wait', 'three']);

    await waitFor(async () => (await committedOffset(groupId, input)) === 2, {
      what: 'commit of the first two',
    });
    expect(processed).toEqual(['one', 'two']);

    gateOpen = true;
    c.resume(input, [0]);
    await waitFor(async () => (await committedOffset(groupId, input)) === 4, {
      what: 'commit of all four',
    });
    expect(processed).toEqual(['one', 'two', 'wait', 'three']);
  });

  it('a new member of the group continues from the committed offset, not from the start', async () => {
    const input = uniqueName('in');
    await createTopic(kafka, input);
    const groupId = uniqueName('g');
    const first: string[] = [];
    const c1 = consumer({ groupId, topics: [input] });
    await c1.start(
      async (batch) => void batch.messages.forEach((m) => first.push(m.value!.toString())),
    );
    await waitFor(() => c1.isReady(), { what: 'group join' });
    await produce(input, ['1', '2']);
    await waitFor(async () => (await committedOffset(groupId, input)) === 2, {
      what: 'first commit',
    });
    await c1.stop();

    await produce(input, ['3']);
    const second: string[] = [];
    const c2 = consumer({ groupId, topics: [input] });
    await c2.start(
      async (batch) => void batch.messages.forEach((m) => second.push(m.value!.toString())),
    );
    await waitFor(() => second.length >= 1, { what: 'message 3' });
    expect(first).toEqual(['1', '2']);
    expect(second).toEqual(['3']);
  });
});

describe("flowhook's produce request encoding (src/kafka/produce-encoding.ts)", () => {
  it('writes record batches the broker accepts, in and out of transactions', async () => {
    const topic = uniqueName('encoded');
    await createTopic(kafka, topic, 2);
    // A plain node process, whose loader (unlike jest's) lets src/kafka/kafkajs.ts install the
    // encoding: kafkajs there sends with it, and the broker checks every batch's CRC.
    const dist = resolve(__dirname, '../../dist/src/kafka');
    const writer = `
      const { Kafka, logLevel } = require(${JSON.stringify(`${dist}/kafkajs.js`)});
      const { kafkajsProduceV3Path, produceRequestV3 } =
        require(${JSON.stringify(`${dist}/produce-encoding.js`)});
      if (require(kafkajsProduceV3Path()) !== produceRequestV3) throw new Error('not installed');
      const kafka = new Kafka({ brokers: ${JSON.stringify(brokers())}, logLevel: logLevel.NOTHING });
      const big = 'x'.repeat(200000);
      (async () => {
        const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
        await plain.connect();
        await plain.send({ topic: ${JSON.stringify(topic)}, messages: [
          { key: 'a', value: 'ünïcode ✓', headers: { h: ['1', '2'] }, partition: 0 },
          { key: null, value: big, partition: 1, timestamp: '1764600000000' },
        ] });
        await plain.disconnect();
        const tx = kafka.producer({ transactionalId: ${JSON.stringify(uniqueName('tx'))},
          idempotent: true, maxInFlightRequests: 1 });
        await tx.connect();
        const t = await tx.transaction();
        await t.send({ topic: ${JSON.stringify(topic)},
          messages: Array.from({ length: 3000 }, (_, i) => ({ key: 'k' + i, value: 'v' + i })) });
        await t.commit();
        await tx.disconnect();
      })().catch((err) => { console.error(err); process.exit(1); });
    `;
    execFileSync(process.execPath, ['-e', writer], { stdio: ['ignore', 'ignore', 'inherit'] });
    const read = await readTopic(kafka, topic, (m) => m.length >= 3002);
    expect(read).toHaveLength(3002);
    const byKey = new Map(read.map((m) => [m.key, m]));
    expect(byKey.get('a')).toMatchObject({
      value: 'ünïcode ✓',
      partition: 0,
      headers: { h: '1,2' },
    });
    expect(read.find((m) => m.key === null)?.value).toHaveLength(200_000);
    expect(
      read
        .filter((m) => m.key?.startsWith('k'))
        .map((m) => m.value)
        .sort(),
    ).toEqual(Array.from({ length: 3000 }, (_, i) => `v${i}`).sort());
  });
});

describe('CompactedTopicReader', () => {
  async function compactedTopic(partitions = 1): Promise<string> {
    const topic = uniqueName('compacted');
    await createTopic(kafka, topic, partitions, [{ name: 'cleanup.policy', value: 'compact' }]);
    return topic;
  }

  function reader(topic: string, partitions?: number[]): CompactedTopicReader {
    const r = new CompactedTopicReader(
      kafka,
      { topic, groupPrefix: 'reader-test', partitions },
      silentLogger,
    );
    open.push(r);
    return r;
  }

  it('is caught up at once on an empty topic', async () => {
    const r = reader(await compactedTopic(3));
    await r.start(() => undefined);
    expect(r.isCaughtUp()).toBe(true);
  });

  it('reads every record, tombstones included, before start() resolves, then keeps following', async () => {
    const topic = await compactedTopic(2);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        { key: 'a', value: '1' },
        { key: 'b', value: '1' },
        { key: 'a', value: '2' },
        { key: 'b', value: null },
      ],
    });
    const table = new Map<string, string>();
    const apply = (r: CompactedRecord) => {
      if (r.value === null) table.delete(r.key!);
      else table.set(r.key!, r.value.toString());
    };
    const r = reader(topic);
    await r.start(apply);
    expect(Object.fromEntries(table)).toEqual({ a: '2' });

    await producer.send({ topic, messages: [{ key: 'c', value: '3' }] });
    await producer.disconnect();
    await waitFor(() => table.get('c') === '3', { what: 'a record published after catching up' });
  });

  it('reads only the partitions it is given', async () => {
    const topic = await compactedTopic(3);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic,
      messages: [0, 1, 2, 0, 1, 2].map((partition, i) => ({
        partition,
        key: `k${i}`,
        value: `p${partition}`,
      })),
    });
    await producer.disconnect();
    const seen: string[] = [];
    const r = reader(topic, [0, 2]);
    await r.start((rec) => void seen.push(`${rec.partition}:${rec.value!.toString()}`));
    expect(seen.sort()).toEqual(['0:p0', '0:p0', '2:p2', '2:p2']);
  });

  it('catches up when the last offset of the log is a transaction marker', async () => {
    const topic = await compactedTopic(1);
    const producer = kafka.producer({
      transactionalId: uniqueName('tx'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const tx = await producer.transaction();
    await tx.send({ topic, messages: [{ key: 'k', value: 'committed' }] });
    await tx.commit();
    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ key: 'k', value: 'aborted' }] });
    await aborted.abort();
    await producer.disconnect();
    // Log: record 0, commit marker 1, aborted record 2, abort marker 3 → high watermark 4,
    // and the last offset a read_committed reader is handed is 0.
    // The coordinator writes the markers after abort() has returned: wait for the last one.
    await waitFor(
      async () => {
        const high = await withAdmin(kafka, (a) => a.fetchTopicOffsets(topic));
        return Number(high[0].high) === 4;
      },
      { what: 'the abort marker at offset 3 (high watermark 4)' },
    );

    const values: string[] = [];
    const r = reader(topic);
    await r.start((rec) => void values.push(rec.value!.toString()));
    expect(values).toEqual(['committed']);
    expect(r.isCaughtUp()).toBe(true);
  });
});

describe('coordinator lookups (src/kafka/coordinator-cache.ts)', () => {
  it('a transactional producer looks up its coordinators once, not before every request', async () => {
    expect(installCoordinatorCache()).toBe(true);
    const topic = uniqueName('coordinators');
    await createTopic(kafka, topic, 1);
    const producer = kafka.producer({
      transactionalId: uniqueName('tx'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    const lookups: string[] = [];
    producer.on(producer.events.REQUEST, (e) => {
      if (e.payload.apiName === 'GroupCoordinator') lookups.push(e.payload.apiName);
    });
    await producer.connect();
    const group = uniqueName('group');
    for (let i = 0; i < 10; i++) {
      const tx = await producer.transaction();
      await tx.send({ topic, messages: [{ key: 'k', value: String(i) }] });
      await tx.sendOffsets({
        consumerGroupId: group,
        topics: [{ topic, partitions: [{ partition: 0, offset: String(i + 1) }] }],
      });
      await tx.commit();
    }
    await producer.disconnect();
    // Without the cache kafkajs asks before AddPartitionsToTxn, AddOffsetsToTxn,
    // TxnOffsetCommit and EndTxn: 40 lookups for these 10 transactions. With it: the
    // transaction and the group coordinator once per second of the test at most.
    expect(lookups.length).toBeLessThan(10);
    expect(await committedOffset(group, topic)).toBe(10);
  });
});
