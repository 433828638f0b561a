import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import {
  StreamProcessor,
  type Processor,
  type StreamProcessorOptions,
} from '../../src/kafka/processor';
import { jsonCodec, type StoreSpec } from '../../src/kafka/store';
import { FlowhookMetrics } from '../../src/observability/metrics';
import { produce } from '../support/flowhook-harness';
import { createTopic, readTopic, silentLogger, testKafka, uniqueName } from '../support/kafka';
import { waitFor } from '../support/wait';

// The stream-processing kernel against the real broker: outputs, store changes and offsets in
// one transaction per task; restore from a checkpoint (only the tail) or from nothing; an
// aborted commit leaves nothing visible; a replica whose task moved is fenced; timers fire in
// due order and survive a restart.

const COMPACTED = [{ name: 'cleanup.policy', value: 'compact' }];
let kafka: Kafka;
let stateRoot: string;
const open: StreamProcessor[] = [];

beforeAll(() => {
  kafka = testKafka();
  stateRoot = mkdtempSync(join(tmpdir(), 'flowhook-processor-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.stop()));
});
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));

interface Setup {
  input: string;
  output: string;
  changelog: string;
  timers: string;
  groupId: string;
}

async function setup(partitions = 2): Promise<Setup> {
  const s = {
    input: uniqueName('in'),
    output: uniqueName('out'),
    changelog: uniqueName('counts-changelog'),
    timers: uniqueName('timers-changelog'),
    groupId: uniqueName('g'),
  };
  await createTopic(kafka, s.input, partitions);
  await createTopic(kafka, s.output, 1);
  await createTopic(kafka, s.changelog, partitions, COMPACTED);
  await createTopic(kafka, s.timers, partitions, COMPACTED);
  return s;
}

const counts = (s: Setup): StoreSpec<number> => ({
  name: 'counts',
  changelogTopic: s.changelog,
  codec: jsonCodec<number>(),
});

function processor(
  s: Setup,
  stateDir: string,
  options: Partial<StreamProcessorOptions> = {},
  metrics = new FlowhookMetrics({ defaultMetrics: false }),
): StreamProcessor {
  const p = new StreamProcessor(
    {
      groupId: s.groupId,
      topics: [s.input],
      stores: [counts(s) as StoreSpec<unknown>],
      timersChangelogTopic: s.timers,
      stateDir,
      commitIntervalMs: 50,
      sessionTimeoutMs: 6000,
      ...options,
    },
    { kafka, logger: silentLogger, metrics },
  );
  open.push(p);
  return p;
}

/** Counts records per key in the store and emits `key:count`. */
function counter(s: Setup): Processor {
  return {
    process(record, ctx) {
      const key = record.key!.toString();
      const store = ctx.store(counts(s));
      const n = (store.get(key) ?? 0) + 1;
      store.put(key, n);
      ctx.emit(s.output, { key, value: `${key}:${n}` });
    },
  };
}

const restored = async (metrics: FlowhookMetrics) =>
  (await metrics.stateRestored.get()).values.reduce((n, v) => n + v.value, 0);

describe('StreamProcessor', () => {
  it('keeps state across restarts: the tail after the checkpoint, or the whole changelog once the local copy is lost', async () => {
    const s = await setup();
    const dir = join(stateRoot, uniqueName('dir'));
    const first = processor(s, dir);
    await first.start(counter(s));
    await waitFor(() => first.isReady(), { what: 'first ready' });
    await produce(kafka, s.input, [
      ...['a', 'b', 'c'].flatMap((k) => [1, 2].map(() => ({ key: k, value: 'x' }))),
    ]);
    await readTopic(kafka, s.output, (m) => m.length >= 6);
    await first.stop();

    // Same directory: the checkpoint is at the end of the changelog, nothing to restore.
    const metrics2 = new FlowhookMetrics({ defaultMetrics: false });
    const second = processor(s, dir, {}, metrics2);
    await second.start(counter(s));
    await waitFor(() => second.isReady(), { what: 'second ready' });
    expect(await restored(metrics2)).toBe(0);
    await produce(kafka, s.input, [{ key: 'a', value: 'x' }]);
    const afterRestart = await readTopic(kafka, s.output, (m) => m.some((r) => r.value === 'a:3'));
    expect(afterRestart.map((r) => r.value)).toContain('a:3');
    await second.stop();

    // The local copy is gone: rebuilt from the changelog (one record per key after compaction,
    // or each write before it), never trusted past its checkpoint.
    rmSync(dir, { recursive: true, force: true });
    const metrics3 = new FlowhookMetrics({ defaultMetrics: false });
    const third = processor(s, dir, {}, metrics3);
    await third.start(counter(s));
    await waitFor(() => third.isReady(), { what: 'third ready' });
    expect(await restored(metrics3)).toBeGreaterThanOrEqual(3);
    await produce(kafka, s.input, [
      { key: 'a', value: 'x' },
      { key: 'c', value: 'x' },
    ]);
    const out = await readTopic(kafka, s.output, (m) => m.length >= 9);
    expect(out.map((r) => r.value)).toEqual(expect.arrayContaining(['a:4', 'c:3']));
    expect(out).toHaveLength(9);
  });

  it('restores while its global tables load, and processes only once they are in', async () => {
    const s = await setup();
    // A stored count to restore (the changelog's partitioning is the input's: same key, same
    // partition count; two writes, as a restore skips a lone last offset, a commit marker's
    // place) and input waiting before the start.
    await produce(kafka, s.changelog, [
      { key: 'a', value: '4' },
      { key: 'a', value: '5' },
    ]);
    await produce(kafka, s.input, [
      { key: 'a', value: 'x' },
      { key: 'b', value: 'x' },
    ]);
    let loaded = false;
    const seenBeforeLoaded: string[] = [];
    let finishLoading = (): void => undefined;
    const globals = new Promise<void>((resolve) => (finishLoading = resolve));
    const count = counter(s);
    const metrics = new FlowhookMetrics({ defaultMetrics: false });
    const p = processor(s, join(stateRoot, uniqueName('dir')), {}, metrics);
    await p.start(
      {
        process(record, ctx) {
          if (!loaded) seenBeforeLoaded.push(record.key!.toString());
          return count.process(record, ctx);
        },
      },
      globals,
    );
    await waitFor(async () => (await restored(metrics)) >= 1, { what: 'the restore' });
    expect(p.ownedPartitions()).toEqual([0, 1]);
    expect(p.isReady()).toBe(false);
    loaded = true;
    finishLoading();
    await waitFor(() => p.isReady(), { what: 'ready once the tables are loaded' });
    const out = await readTopic(kafka, s.output, (m) => m.length >= 2);
    expect(out.map((r) => r.value).sort()).toEqual(['a:6', 'b:1']);
    expect(seenBeforeLoaded).toEqual([]);
  });

  it('stops at once while its tasks wait for global tables that never load', async () => {
    const s = await setup(1);
    const p = processor(s, join(stateRoot, uniqueName('dir')));
    await p.start(counter(s), new Promise<void>(() => undefined));
    await waitFor(() => p.ownedPartitions().length === 1, { what: 'the assignment' });
    await p.stop();
    expect(p.isReady()).toBe(false);
  });

  it('aborts a failed commit: nothing of it is visible, and the records are processed again', async () => {
    const s = await setup(1);
    const metrics = new FlowhookMetrics({ defaultMetrics: false });
    let calls = 0;
    const p = processor(s, join(stateRoot, uniqueName('dir')), {}, metrics);
    await p.start({
      process(record, ctx) {
        calls += 1;
        ctx.emit(s.output, { value: `${record.value!.toString()}#${calls}` });
        // The first transaction cannot commit: its output goes to a topic that does not exist.
        if (calls === 1) ctx.emit(uniqueName('no-such-topic'), { value: 'boom' });
      },
    });
    await waitFor(() => p.isReady(), { what: 'ready' });
    await produce(kafka, s.input, [{ key: 'k', value: 'm' }]);
    const out = await readTopic(kafka, s.output, (m) => m.length >= 1, 60_000);
    expect(out.map((m) => m.value)).toEqual([`m#${calls}`]);
    expect(calls).toBeGreaterThanOrEqual(2);
    const recoveries = (await metrics.taskRecoveries.get()).values;
    expect(recoveries).toEqual([
      expect.objectContaining({ labels: { group: s.groupId, reason: 'commit_failed' } }),
    ]);
  });

  it('fences a replica whose task moved: what it processed meanwhile never commits', async () => {
    const s = await setup(1);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const metrics = new FlowhookMetrics({ defaultMetrics: false });
    const zombie = processor(s, join(stateRoot, uniqueName('dir')), {}, metrics);
    await zombie.start({
      async process(record, ctx) {
        calls += 1;
        ctx.emit(s.output, { value: `zombie:${record.value!.toString()}#${calls}` });
        if (calls === 1) await gate;
      },
    });
    await waitFor(() => zombie.isReady(), { what: 'zombie ready' });
    await produce(kafka, s.input, [{ key: 'k', value: 'v1' }]);
    await waitFor(() => calls === 1, { what: 'zombie holding its record' });
    // The task's new owner initialises the task's transactional id: that fences the old one.
    const owner = kafka.producer({
      transactionalId: `${s.groupId}-task-0`,
      maxInFlightRequests: 1,
      idempotent: true,
    });
    await owner.connect();
    const tx = await owner.transaction();
    await tx.send({ topic: s.output, messages: [{ value: 'owner' }] });
    await tx.commit();
    await owner.disconnect();
    release();
    // The fenced transaction (#1) is refused; the record goes back to the last commit and,
    // this member still owning the task, is processed again by a new producer (#2).
    const out = await readTopic(kafka, s.output, (m) => m.length >= 2, 60_000);
    expect(out.map((r) => r.value)).toEqual(['owner', 'zombie:v1#2']);
    expect((await metrics.producersReplaced.get()).values[0]?.value).toBeGreaterThanOrEqual(1);
  });

  it('fires timers in due order, a short one set after a long one first, and keeps them across a restart', async () => {
    const s = await setup(1);
    const dir = join(stateRoot, uniqueName('dir'));
    const scheduler = (): Processor => ({
      process(record, ctx) {
        const [id, waitMs] = record.value!.toString().split(':');
        ctx.timers.schedule({ id: id!, due: ctx.now() + Number(waitMs), key: 'k', payload: id });
      },
      onTimer(timer, ctx) {
        ctx.emit(s.output, { value: `${String(timer.payload)}@${ctx.now() - timer.due}` });
      },
    });
    const first = processor(s, dir);
    await first.start(scheduler());
    await waitFor(() => first.isReady(), { what: 'ready' });
    const t0 = Date.now();
    await produce(kafka, s.input, [
      { key: 'k', value: 'long:4000' },
      { key: 'k', value: 'short:1000' },
      { key: 'k', value: 'later:6000' },
    ]);
    const early = await readTopic(kafka, s.output, (m) => m.length >= 2, 20_000);
    expect(early.map((r) => r.value!.split('@')[0])).toEqual(['short', 'long']);
    // Stop before `later` is due: the next owner fires it.
    await first.stop();
    expect(Date.now() - t0).toBeLessThan(6000);
    const second = processor(s, dir);
    await second.start(scheduler());
    const all = await readTopic(kafka, s.output, (m) => m.length >= 3, 30_000);
    expect(all.map((r) => r.value!.split('@')[0])).toEqual(['short', 'long', 'later']);
  });
});
