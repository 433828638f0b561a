import type { Kafka } from 'kafkajs';
import { DLQ_HEADERS } from '../../src/dead-letter/headers';
import type { FlowhookEvent, WebhookJob } from '../../src/documents';
import { OWNED_TOPIC_MAX_MESSAGE_BYTES } from '../../src/kafka/record-limits';
import { roleGroupId } from '../../src/service/role';
import { produce, readJson, startFlowhook, type Harness } from '../support/flowhook-harness';
import { placedOrder, webhookFlow } from '../support/flows';
import { createTopic, readTopic, testKafka, uniqueName, withAdmin } from '../support/kafka';
import { startReceiver, type Receiver } from '../support/receiver';
import { waitFor } from '../support/wait';

// A 2 MB event against the real broker (issue 11, item 4): what flowhook derives from it either
// fits the topics flowhook sized for it and is delivered, or, on topics that take less (made by
// an operator or an earlier version), is dead-lettered with reason record_too_large; either
// way the next event on the same partition is processed.

let kafka: Kafka;
const running: { stop(): Promise<void> }[] = [];
const TWO_MB = 2 * 1024 * 1024;

beforeAll(() => {
  kafka = testKafka();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

/** The event topic (producers own it) takes 8 MiB records; flows applied before the start. */
async function start(
  prefix: string,
  flows: Record<string, unknown>[],
  roles: string,
): Promise<Harness> {
  await createTopic(kafka, `${prefix}events`, 1, [
    { name: 'max.message.bytes', value: String(OWNED_TOPIC_MAX_MESSAGE_BYTES) },
  ]);
  await createTopic(kafka, `${prefix}flows`, 1, [{ name: 'cleanup.policy', value: 'compact' }]);
  await produce(
    kafka,
    `${prefix}flows`,
    flows.map((f) => ({ key: String(f.id), value: JSON.stringify(f) })),
  );
  const h = await startFlowhook({
    settings: {
      FLOWHOOK_TOPIC_PREFIX: prefix,
      FLOWHOOK_ROLES: roles,
      FLOWHOOK_EVENT_TOPICS: `${prefix}events`,
      FLOWHOOK_MAX_BODY_BYTES: String(4 * 1024 * 1024),
    },
  });
  running.push(h);
  return h;
}

/** Two events of one profile (so one partition): the first with a 2 MB property. */
function twoEvents(): [FlowhookEvent, FlowhookEvent] {
  const big = placedOrder({ orderId: 'BIG' });
  big.properties.Blob = 'b'.repeat(TWO_MB);
  const next = placedOrder({ orderId: 'NEXT', profile: big.profile });
  return [big, next];
}

const send = (prefix: string, events: FlowhookEvent[]) =>
  produce(
    kafka,
    `${prefix}events`,
    events.map((e) => ({ key: e.profile.id ?? null, value: JSON.stringify(e) })),
  );

const body = '{"order": "{{ event.OrderId }}", "blob": "{{ event.Blob }}"}';

async function metricValue(h: Harness, name: string, labels: Record<string, string>) {
  const metric = await h.metrics.registry.getSingleMetric(name)?.get();
  return (metric?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('a 2 MB event', () => {
  it('is delivered through the topics flowhook creates, and so is the next event', async () => {
    const prefix = `${uniqueName('big')}.`;
    const receiver: Receiver = await startReceiver([{ status: 200 }]);
    running.push({ stop: () => receiver.close() });
    const flow = webhookFlow({
      id: 'big-hook',
      webhooks: [{ id: 'hook', url: receiver.url('/big'), body }],
    });
    const h = await start(prefix, [flow], 'trigger,delivery,delay');
    const [big, next] = twoEvents();
    await send(prefix, [big, next]);

    const requests = await receiver.waitForRequests(2, { timeoutMs: 60_000 });
    const bodies = requests.map((r) => JSON.parse(r.body) as { order: string; blob: string });
    expect(bodies.map((b) => b.order)).toEqual(['BIG', 'NEXT']);
    expect(bodies[0]?.blob).toHaveLength(TWO_MB);
    expect(await metricValue(h, 'flowhook_records_too_large_total', {})).toBe(0);
  }, 120_000);

  it('is dead-lettered (record_too_large) when topics take less, without stalling its partition', async () => {
    const prefix = `${uniqueName('small')}.`;
    // Topics as an earlier version (or an operator) made them: the broker's 1 MiB default.
    await createTopic(kafka, `${prefix}jobs`, 3);
    await createTopic(kafka, `${prefix}events.dlq`, 3);
    await createTopic(kafka, `${prefix}timers`, 3, [{ name: 'cleanup.policy', value: 'compact' }]);
    const h = await start(
      prefix,
      [
        webhookFlow({
          id: 'hook-now',
          webhooks: [{ id: 'hook', url: 'https://crm.example.com/a', body }],
        }),
        webhookFlow({ id: 'hook-later', delayMinutes: 60 }),
      ],
      'trigger',
    );
    const [big, next] = twoEvents();
    await send(prefix, [big, next]);

    // The next event of the same profile (same partition) goes through: no stall.
    const jobs = await readJson<WebhookJob>(kafka, h.topics.jobs, (r) => r.length >= 1, 60_000);
    expect(jobs.map((j) => [j.value.event_id, j.value.flow_id])).toEqual([[next.id, 'hook-now']]);

    const dead = await readTopic(kafka, h.topics.eventsDlq, (r) => r.length >= 2, 60_000);
    const byFlow = new Map(dead.map((d) => [d.headers[DLQ_HEADERS.flowId], d]));
    for (const [flowId, topic] of [
      ['hook-now', h.topics.jobs],
      ['hook-later', h.topics.timers],
    ] as const) {
      const d = byFlow.get(flowId);
      expect(d?.headers[DLQ_HEADERS.reason]).toBe('record_too_large');
      expect(d?.headers[DLQ_HEADERS.error]).toContain(`bytes for ${topic} exceeds`);
      expect(d?.headers[DLQ_HEADERS.offset]).toBe('0');
      // The 2 MB event does not fit the 1 MiB events DLQ either: a marked prefix of it.
      expect(Number(d?.headers[DLQ_HEADERS.truncated])).toBeGreaterThan(TWO_MB);
      expect(d?.value?.startsWith(`{"id":"${big.id}"`)).toBe(true);
    }
    expect(dead).toHaveLength(2);
    expect(await metricValue(h, 'flowhook_records_too_large_total', { topic: h.topics.jobs })).toBe(
      1,
    );
    expect(
      await metricValue(h, 'flowhook_events_invalid_total', { reason: 'record_too_large' }),
    ).toBe(2);
    // The small event's timer was set (the big one's would have failed every commit) and
    // both events are committed as consumed.
    const timers = await readTopic(kafka, h.topics.timers, (r) =>
      r.some((t) => t.key?.startsWith('d:') && t.value?.includes(next.id)),
    );
    expect(timers.filter((t) => t.value?.includes(big.id))).toEqual([]);
    await waitFor(
      () =>
        withAdmin(kafka, async (admin) => {
          const [events] = await admin.fetchOffsets({
            groupId: roleGroupId(prefix, 'trigger'),
            topics: [`${prefix}events`],
          });
          return events?.partitions[0]?.offset === '2';
        }),
      { what: 'both events committed as consumed' },
    );
  }, 120_000);
});
