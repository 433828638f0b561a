import type { Kafka } from 'kafkajs';
import { ActivityIngest } from '../../src/activity/ingest';
import type { ActivityRecord } from '../../src/activity/types';
import type { FlowhookEvent, WebhookJob } from '../../src/documents';
import { ReviewItemNotFoundError } from '../../src/errors';
import { FlowhookMetrics } from '../../src/observability/metrics';
import { KafkaReviewActions } from '../../src/review/actions';
import { BACKENDS, openTestStore, type TestStore } from '../support/activity-stores';
import { produce, readJson, startFlowhook, type Harness } from '../support/flowhook-harness';
import { placedOrder, webhookFlow } from '../support/flows';
import { createTopic, silentLogger, testKafka, uniqueName, withAdmin } from '../support/kafka';
import { startReceiver, type Receiver } from '../support/receiver';
import { waitFor } from '../support/wait';

// End to end through the real broker: the trigger, delivery and delay roles run, the activity
// ingest reads what they write into each store backend, and the review queue releases and
// discards held webhooks.

let kafka: Kafka;
const cleanup: (() => Promise<unknown>)[] = [];
beforeAll(() => {
  kafka = testKafka();
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function startAll(prefix: string, flows: Record<string, unknown>[]): Promise<Harness> {
  await createTopic(kafka, `${prefix}events`, 3).catch(() => undefined);
  await createTopic(kafka, `${prefix}flows`, 1, [
    { name: 'cleanup.policy', value: 'compact' },
  ]).catch(() => undefined);
  await produce(
    kafka,
    `${prefix}flows`,
    flows.map((f) => ({ key: String(f.id), value: JSON.stringify(f) })),
  );
  const h = await startFlowhook({
    settings: {
      FLOWHOOK_TOPIC_PREFIX: prefix,
      FLOWHOOK_ROLES: 'trigger,delivery,delay',
      FLOWHOOK_EVENT_TOPICS: `${prefix}events`,
      FLOWHOOK_PROFILE_TOPICS: `${prefix}profiles`,
      FLOWHOOK_CATALOG_TOPICS: `${prefix}catalog`,
    },
  });
  cleanup.push(() => h.stop());
  return h;
}

function sendEvent(prefix: string, event: FlowhookEvent): Promise<void> {
  return produce(kafka, `${prefix}events`, [
    { key: event.profile.id ?? null, value: JSON.stringify(event) },
  ]);
}

async function startIngest(h: Harness, t: TestStore, groupId?: string): Promise<ActivityIngest> {
  const ingest = new ActivityIngest({
    store: t.store,
    kafka,
    topics: h.topics,
    topicPrefix: h.prefix,
    retentionMs: 30 * 86_400_000,
    pruneIntervalMs: 60_000,
    logger: silentLogger,
    metrics: new FlowhookMetrics({ defaultMetrics: false }),
    ...(groupId !== undefined && { groupId }),
  });
  await ingest.start();
  cleanup.push(() => ingest.stop());
  return ingest;
}

/** The group has committed every partition of its topics up to the end. */
async function caughtUp(groupId: string, topics: string[]): Promise<boolean> {
  return withAdmin(kafka, async (admin) => {
    const committed = await admin.fetchOffsets({ groupId, topics });
    for (const { topic, partitions } of committed) {
      const ends = await admin.fetchTopicOffsets(topic);
      for (const end of ends) {
        const done = partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
        const start = (await admin.fetchTopicOffsetsByTimestamp(topic, 0)).find(
          (p) => p.partition === end.partition,
        );
        // An empty partition has nothing to commit.
        if (end.high !== start?.offset && done !== end.high) return false;
      }
    }
    return true;
  });
}

const chronological = (items: ActivityRecord[]) => [...items].reverse();

describe.each(BACKENDS)('activity log on %s', (backend) => {
  let t: TestStore;
  let receiver: Receiver;
  beforeEach(async () => {
    t = await openTestStore(backend);
    cleanup.push(() => t.drop());
  });

  it('reads back a flow with a delay, a retry and a DLQ entry in order, and re-ingests idempotently', async () => {
    const served = new Map<string, number>();
    receiver = await startReceiver((req) => {
      const n = (served.get(req.path) ?? 0) + 1;
      served.set(req.path, n);
      if (req.path === '/gone') return { status: 410, body: 'no such customer' };
      return n === 1 ? { status: 503, body: 'busy' } : { status: 200, body: '{"ok":true}' };
    });
    cleanup.push(() => receiver.close());
    const prefix = `${uniqueName('act')}.`;
    const flow = webhookFlow({
      id: 'order-flow',
      delayMinutes: 0,
      webhookOrder: 'parallel',
      webhooks: [
        { id: 'hook-ok', url: receiver.url('/ok') },
        { id: 'hook-gone', url: receiver.url('/gone') },
      ],
    });
    const h = await startAll(prefix, [flow]);
    const ingest = await startIngest(h, t);
    const event = placedOrder();
    await sendEvent(prefix, event);

    const all = await waitFor(
      async () => {
        const page = await t.store.list({ flow_id: 'order-flow' });
        const statuses = new Set(page.items.map((r) => r.status));
        return statuses.has('delivered') && statuses.has('dead_lettered') && page.items;
      },
      { what: 'delivered and dead_lettered in the activity store', timeoutMs: 45_000 },
    );
    const steps = chronological(all).map((r) => `${r.action_id ?? '-'}:${r.status}`);
    expect(steps.slice(0, 2)).toEqual(['-:entered', 'wait:waiting']);
    const of = (action: string) =>
      steps.filter((s) => s.startsWith(`${action}:`)).map((s) => s.split(':')[1]);
    expect(of('hook-ok')).toEqual([
      'entered',
      'attempted',
      'scheduled_retry',
      'attempted',
      'delivered',
    ]);
    expect(of('hook-gone')).toEqual(['entered', 'attempted', 'failed', 'dead_lettered']);

    const retry = all.find((r) => r.status === 'scheduled_retry');
    expect(Date.parse(retry?.due_at ?? '')).toBeGreaterThan(Date.parse(retry?.time ?? ''));
    const firstAttempt = chronological(all).find(
      (r) => r.status === 'attempted' && r.action_id === 'hook-ok',
    );
    expect(firstAttempt).toMatchObject({
      http_status: 503,
      response_excerpt: 'busy',
      profile_id: event.profile.id,
      event_id: event.id,
      attempt: 1,
    });
    expect(firstAttempt?.duration_ms).toEqual(expect.any(Number));
    expect(all.find((r) => r.status === 'dead_lettered')?.reason).toBe('gone');
    expect(all.find((r) => r.status === 'waiting')?.due_at).toEqual(expect.any(String));
    // The profile's view holds the same records.
    expect((await t.store.list({ profile: event.profile.email })).items).toHaveLength(all.length);

    // Read everything again with a new group: nothing is stored twice.
    const topics = [
      h.topics.jobs,
      h.topics.deliveries,
      h.topics.dlq,
      h.topics.activity,
      h.topics.review,
    ];
    await waitFor(() => caughtUp(ingest.groupId, topics), { what: 'first ingest caught up' });
    const before = await t.store.count();
    const replay = await startIngest(h, t, uniqueName('activity-replay'));
    await waitFor(() => caughtUp(replay.groupId, topics), { what: 'replay caught up' });
    expect(await t.store.count()).toBe(before);
    expect((await t.store.list({ flow_id: 'order-flow' })).items).toEqual(all);
  });

  it('keeps held webhooks for review; release sends exactly one job with the same id, discard none', async () => {
    receiver = await startReceiver([{ status: 200 }]);
    cleanup.push(() => receiver.close());
    const prefix = `${uniqueName('rev')}.`;
    const flow = webhookFlow({
      id: 'manual-flow',
      status: 'manual',
      webhooks: [
        {
          id: 'hook',
          url: receiver.url('/crm'),
          body: '{"order": "{{ event.OrderId }}"}',
        },
      ],
    });
    const h = await startAll(prefix, [flow]);
    await startIngest(h, t);
    const review = new KafkaReviewActions({
      kafka,
      topics: h.topics,
      store: t.store,
      transactionalId: `${prefix}review-test`,
      logger: silentLogger,
    });
    cleanup.push(() => review.stop());
    const kept = placedOrder({ orderId: 'KEEP-1' });
    const dropped = placedOrder({ orderId: 'DROP-1' });
    await sendEvent(prefix, kept);
    await sendEvent(prefix, dropped);

    const held = await waitFor(
      async () => {
        const page = await t.store.review({ flow_id: 'manual-flow' });
        return page.items.length === 2 && page.items;
      },
      { what: 'two held webhooks in the review queue' },
    );
    const keep = held.find((i) => i.event_id === kept.id);
    const drop = held.find((i) => i.event_id === dropped.id);
    expect(JSON.parse(String(keep?.job.body))).toEqual({ order: 'KEEP-1' });
    expect(receiver.requests).toHaveLength(0);

    const manager = {
      subject: 'user-1',
      email: 'manager@example.com',
      role: 'manager',
      amr: ['otp'],
    };
    await review.release(keep?.id ?? '', manager);
    await review.discard(drop?.id ?? '', manager);
    await expect(review.release(keep?.id ?? '', manager)).rejects.toThrow(ReviewItemNotFoundError);
    await expect(review.discard(drop?.id ?? '', manager)).rejects.toThrow(ReviewItemNotFoundError);

    const [request] = await receiver.waitForRequests(1);
    expect(request?.headers['webhook-id']).toBe(keep?.id);
    const jobs = await readJson<WebhookJob>(kafka, h.topics.jobs, (r) => r.length >= 1);
    expect(jobs.map((j) => j.value.id)).toEqual([keep?.id]);

    const decided = await waitFor(
      async () => {
        const items = (await t.store.list({ flow_id: 'manual-flow' })).items;
        return items.some((r) => r.status === 'delivered') && items;
      },
      { what: 'the released webhook delivered' },
    );
    const byJob = (id: string | undefined) =>
      chronological(decided)
        .filter((r) => r.job_id === id)
        .map((r) => (r.actor ? `${r.status}(${r.actor})` : r.status));
    expect(byJob(keep?.id)).toEqual([
      'held',
      'released(manager@example.com)',
      'entered',
      'attempted',
      'delivered',
    ]);
    expect(byJob(drop?.id)).toEqual(['held', 'discarded(manager@example.com)']);
    await waitFor(async () => (await t.store.review({})).items.length === 0, {
      what: 'review queue empty',
    });
    expect(receiver.requests).toHaveLength(1);
  });
});
