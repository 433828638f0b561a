import type { Kafka } from 'kafkajs';
import type { RejectedMessage } from '../../src/dead-letter/jobs';
import { DelayRole } from '../../src/delay/role';
import { delayedMessage, NOT_BEFORE_HEADER, TARGET_HEADER } from '../../src/delay/message';
import { produce, readJson, startFlowhook, type Harness } from '../support/flowhook-harness';
import { uniqueName } from '../support/kafka';
import { waitFor } from '../support/wait';

// The delay role alone against the real broker: due messages are forwarded to their target,
// a partition whose head is not due is paused until it is, and other partitions flow on.

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.stop();
});

let delay: DelayRole | undefined;

async function delayService(): Promise<Harness> {
  const h = await startFlowhook({
    name: 'delay',
    settings: { FLOWHOOK_ROLES: 'delay' },
    roles: {
      delay: (ctx) => {
        delay = new DelayRole(ctx);
        return delay;
      },
    },
  });
  open.push(h);
  return h;
}

interface Arrival {
  key: string | null;
  value: string;
  headers: Record<string, string>;
  /** Producer timestamp of the forwarded copy: when the delay role forwarded it. */
  forwardedAt: number;
  seenAt: number;
}

/** Follows a topic, recording each message with its timestamps, until stopped. */
async function follow(kafka: Kafka, topic: string) {
  const arrivals: Arrival[] = [];
  const delivered = new Set<string>();
  const consumer = kafka.consumer({
    groupId: uniqueName('follow'),
    readUncommitted: false,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      // A rebalance of this reader's own group replays from its last commit: count once.
      const id = `${partition}:${message.offset}`;
      if (delivered.has(id)) return;
      delivered.add(id);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) {
        if (v !== undefined) headers[k] = String(v);
      }
      arrivals.push({
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? '',
        headers,
        forwardedAt: Number(message.timestamp),
        seenAt: Date.now(),
      });
    },
  });
  return { arrivals, stop: () => consumer.disconnect() };
}

describe('delay role', () => {
  it('forwards a due message to its target: same key and value, delay headers removed', async () => {
    const h = await delayService();
    const target = await follow(h.kafka, h.topics.jobs);
    try {
      const d = delayedMessage(
        {
          target: h.topics.jobs,
          notBefore: Date.now() - 1000,
          key: 'profile-7',
          value: '{"hello":"world"}',
          headers: { 'trace-id': 'abc' },
        },
        h.topics.delays,
      );
      expect(d.topic).toBe(h.topics.delays('1s'));
      await produce(h.kafka, d.topic, [d.message]);
      await waitFor(() => target.arrivals.length >= 1, { what: 'forwarded message' });
      const [got] = target.arrivals;
      expect(got).toMatchObject({
        key: 'profile-7',
        value: '{"hello":"world"}',
        headers: { 'trace-id': 'abc' },
      });
      expect(got!.headers[NOT_BEFORE_HEADER]).toBeUndefined();
      expect(got!.headers[TARGET_HEADER]).toBeUndefined();
      const forwarded = await h.metrics.delayForwarded.get();
      expect(forwarded.values).toEqual([
        expect.objectContaining({ labels: { queue: 'delays', tier: '1s' }, value: 1 }),
      ]);
    } finally {
      await target.stop();
    }
  });

  it('holds a partition until its head is due; other partitions are not held', async () => {
    const h = await delayService();
    const target = await follow(h.kafka, h.topics.jobs);
    try {
      const tier = h.topics.retry('5s');
      const now = Date.now();
      const dueLater = now + 3000;
      const msg = (value: string, notBefore: number) =>
        delayedMessage(
          { target: h.topics.jobs, notBefore, key: value, value },
          h.topics.retry,
          '5s',
        ).message;
      // Partition 0: a head due in 3 s, then a message already due (it waits behind the head:
      // tiers are FIFO per partition). Epoch-ms not-before is accepted too.
      await produce(h.kafka, tier, [
        { ...msg('head', dueLater), partition: 0 },
        {
          ...msg('behind', now),
          partition: 0,
          headers: { [NOT_BEFORE_HEADER]: String(now), [TARGET_HEADER]: h.topics.jobs },
        },
      ]);
      await waitFor(() => delay?.pausedPartitions().has(`${tier}:0`), {
        what: 'partition 0 paused',
      });
      expect((await h.metrics.delayPausedPartitions.get()).values[0]?.value).toBe(1);
      // Partition 1, produced while partition 0 is paused: forwarded at once.
      await produce(h.kafka, tier, [{ ...msg('other', now), partition: 1 }]);
      await waitFor(() => target.arrivals.some((a) => a.value === 'other'), {
        what: 'partition 1 forwarded',
      });
      expect(target.arrivals.map((a) => a.value)).toEqual(['other']);
      expect(Date.now()).toBeLessThan(dueLater);

      await waitFor(() => target.arrivals.length >= 3, { what: 'partition 0 forwarded' });
      expect(target.arrivals.map((a) => a.value)).toEqual(['other', 'head', 'behind']);
      const head = target.arrivals[1]!;
      expect(head.forwardedAt).toBeGreaterThanOrEqual(dueLater);
      expect(head.forwardedAt - dueLater).toBeLessThan(1500);
      expect(delay?.pausedPartitions().size).toBe(0);
      expect((await h.metrics.delayPausedPartitions.get()).values[0]?.value).toBe(0);
    } finally {
      await target.stop();
    }
  });

  it('sends a message without a usable target to the DLQ with its raw value', async () => {
    const h = await delayService();
    const tier = h.topics.delays('1m');
    await produce(h.kafka, tier, [
      { key: 'a', value: 'no target', headers: { [NOT_BEFORE_HEADER]: new Date().toISOString() } },
      {
        key: 'b',
        value: 'foreign target',
        headers: { [TARGET_HEADER]: 'someone-elses-topic' },
      },
      {
        key: 'c',
        value: 'missing topic',
        headers: { [TARGET_HEADER]: `${h.prefix}no-such-topic` },
      },
    ]);
    const entries = await readJson<RejectedMessage>(
      h.kafka,
      h.topics.dlq,
      (all) => all.length >= 3,
    );
    const byKey = [...entries].sort((x, y) => String(x.key).localeCompare(String(y.key)));
    expect(byKey.map((e) => [e.key, e.value.reason, e.value.raw])).toEqual([
      ['a', 'delay_target_missing', 'no target'],
      ['b', 'delay_target_invalid', 'foreign target'],
      ['c', 'delay_target_invalid', 'missing topic'],
    ]);
    expect(byKey[0]!.value.source.topic).toBe(tier);
  });

  it('forwards each message exactly once across a restart of the role', async () => {
    const h = await delayService();
    const target = await follow(h.kafka, h.topics.jobs);
    try {
      const values = Array.from({ length: 30 }, (_, i) => `m${i}`);
      const now = Date.now();
      await produce(
        h.kafka,
        h.topics.retry('5s'),
        values.map(
          (v, i) =>
            delayedMessage(
              { target: h.topics.jobs, notBefore: now + (i < 15 ? 0 : 1500), key: v, value: v },
              h.topics.retry,
            ).message,
        ),
      );
      await waitFor(() => target.arrivals.length >= 15, { what: 'the due half' });
      await h.service.stop();
      open.splice(open.indexOf(h), 1);

      // A second instance of the same group carries on from the committed offsets.
      const again = await startFlowhook({
        name: 'delay',
        settings: {
          FLOWHOOK_ROLES: 'delay',
          FLOWHOOK_TOPIC_PREFIX: h.prefix,
          FLOWHOOK_INSTANCE_ID: h.config.instanceId,
        },
      });
      open.push(again);
      await waitFor(() => target.arrivals.length >= 30, { what: 'all 30', timeoutMs: 30_000 });
      // Give a duplicate every chance to show up before counting.
      await again.service.stop();
      open.splice(open.indexOf(again), 1);
      expect(target.arrivals.map((a) => a.value).sort()).toEqual([...values].sort());
    } finally {
      await target.stop();
    }
  });
});
