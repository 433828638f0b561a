import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import type { FlowhookEvent, WebhookJob } from '../../src/documents';
import { DLQ_HEADERS } from '../../src/dead-letter/headers';
import { produce, readJson, startFlowhook, type Harness } from '../support/flowhook-harness';
import { placedOrder, webhookFlow } from '../support/flows';
import { createTopic, readTopic, testKafka, uniqueName } from '../support/kafka';
import { startSchemaRegistry, type SchemaRegistryServer } from '../support/schema-registry';
import { waitFor } from '../support/wait';

// The trigger role against the real broker: flows from the compacted topic, events in every
// accepted form, jobs out, invalid input dead-lettered, state kept in flowhook.state.

let kafka: Kafka;
const running: Harness[] = [];
let registry: SchemaRegistryServer | undefined;

beforeAll(() => {
  kafka = testKafka();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((h) => h.stop()));
});
afterAll(async () => {
  await registry?.stop();
});

/** A trigger-only service on its own prefix, with its event topic created first. */
async function startTrigger(
  prefix: string,
  flows: Record<string, unknown>[] = [],
  settings: Record<string, string> = {},
): Promise<Harness> {
  const eventTopic = `${prefix}events`;
  await createTopic(kafka, eventTopic, 3).catch(() => undefined);
  await createTopic(kafka, `${prefix}flows`, 1, [
    { name: 'cleanup.policy', value: 'compact' },
  ]).catch(() => undefined);
  if (flows.length > 0) await applyFlows(prefix, flows);
  const h = await startFlowhook({
    settings: {
      FLOWHOOK_TOPIC_PREFIX: prefix,
      FLOWHOOK_ROLES: 'trigger',
      FLOWHOOK_EVENT_TOPICS: eventTopic,
      ...settings,
    },
  });
  running.push(h);
  return h;
}

async function applyFlows(
  prefix: string,
  flows: (Record<string, unknown> | { id: string; value: null })[],
): Promise<void> {
  await produce(
    kafka,
    `${prefix}flows`,
    flows.map((f) => ({
      key: String(f.id),
      value: 'value' in f && f.value === null ? null : JSON.stringify(f),
    })),
  );
}

/** Raw records are keyed 'raw' (they are dead-lettered) unless given a key (the profile key). */
type RawEvent = string | Buffer | { key: string; raw: string | Buffer };

function sendEvents(prefix: string, events: (FlowhookEvent | RawEvent)[]): Promise<void> {
  return produce(
    kafka,
    `${prefix}events`,
    events.map((e) => {
      if (typeof e === 'string' || Buffer.isBuffer(e))
        return { key: 'raw', value: e, headers: { origin: 'test' } };
      if ('raw' in e) return { key: e.key, value: e.raw };
      return { key: e.profile.id ?? null, value: JSON.stringify(e) };
    }),
  );
}

const jobsOf = (h: Harness, until: (jobs: WebhookJob[]) => boolean, timeoutMs?: number) =>
  readJson<WebhookJob>(kafka, h.topics.jobs, (r) => until(r.map((x) => x.value)), timeoutMs).then(
    (r) => r.map((x) => x.value),
  );

async function metricValue(
  h: Harness,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = await h.metrics.registry.getSingleMetric(name)?.get();
  return (metric?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('trigger role', () => {
  it('loads the flow table before reading events and turns a matching event into a rendered job', async () => {
    const prefix = `${uniqueName('trg')}.`;
    const h = await startTrigger(prefix, [
      webhookFlow({ id: 'order-hook' }),
      webhookFlow({ id: 'checkout-hook', metric: 'Started Checkout' }),
    ]);
    expect(h.service.isReady()).toBe(true);
    expect(await metricValue(h, 'flowhook_flows_loaded', { status: 'live' })).toBe(2);

    const event = placedOrder({ orderId: 'A-1' });
    await sendEvents(prefix, [event]);
    const [job] = await jobsOf(h, (j) => j.length >= 1);
    expect(job).toMatchObject({
      flow_id: 'order-hook',
      action_id: 'hook',
      event_id: event.id,
      profile_id: event.profile.id,
      url: 'https://crm.example.com/orders',
      attempt: 0,
      event_time: event.time,
    });
    expect(JSON.parse(job.body)).toEqual({ order: 'A-1', email: event.profile.email });
    expect(job.headers['X-Flow']).toBe('order-hook');
    await waitFor(
      async () =>
        (await metricValue(h, 'flowhook_jobs_emitted_total', { flow_id: 'order-hook' })) === 1,
    );
  });

  it('follows the flows topic: publish, pause, invalid update (previous version stays) and delete, without a restart', async () => {
    const prefix = `${uniqueName('trg')}.`;
    const h = await startTrigger(prefix);
    const sendAndCount = async (orderId: string) => {
      // A marker event for a second, always-live flow, after the event in the same partition
      // (same profile, same key), proves the event was processed once its job is out.
      const event = placedOrder({ orderId });
      const marker = placedOrder({
        orderId: `${orderId}-marker`,
        metric: 'Marker',
        profile: event.profile,
      });
      await sendEvents(prefix, [event, marker]);
      const jobs = await jobsOf(h, (j) =>
        j.some((x) => JSON.parse(x.body).order === `${orderId}-marker`),
      );
      return jobs.filter((j) => JSON.parse(j.body).order === orderId);
    };
    await applyFlows(prefix, [webhookFlow({ id: 'marker', metric: 'Marker' })]);

    await applyFlows(prefix, [webhookFlow({ id: 'f', version: 1 })]);
    await waitFor(
      async () => (await metricValue(h, 'flowhook_flows_loaded', { status: 'live' })) === 2,
      { what: 'flow f live' },
    );
    expect(await sendAndCount('published')).toHaveLength(1);

    // An invalid version 2: rejected, counted, and version 1 keeps running.
    const invalid = webhookFlow({
      id: 'f',
      version: 2,
      webhooks: [{ id: 'hook', url: 'ftp://nowhere' }],
    });
    await applyFlows(prefix, [invalid]);
    await waitFor(async () => (await metricValue(h, 'flowhook_flows_rejected_total')) === 1, {
      what: 'rejection',
    });
    const still = await sendAndCount('after-invalid');
    expect(still).toHaveLength(1);
    expect(still[0].flow_version).toBe(1);

    await applyFlows(prefix, [webhookFlow({ id: 'f', version: 3, status: 'draft' })]);
    await waitFor(
      async () => (await metricValue(h, 'flowhook_flows_loaded', { status: 'draft' })) === 1,
      { what: 'paused' },
    );
    expect(await sendAndCount('paused')).toHaveLength(0);

    await applyFlows(prefix, [webhookFlow({ id: 'f', version: 4 })]);
    await waitFor(
      async () => (await metricValue(h, 'flowhook_flows_loaded', { status: 'live' })) === 2,
      { what: 'live again' },
    );
    expect(await sendAndCount('resumed')).toHaveLength(1);

    await applyFlows(prefix, [{ id: 'f', value: null }]);
    await waitFor(
      async () => (await metricValue(h, 'flowhook_flows_loaded', { status: 'live' })) === 1,
      { what: 'deleted' },
    );
    expect(await sendAndCount('deleted')).toHaveLength(0);
  });

  it('dead-letters malformed and invalid events with their bytes, headers, source and reason, and carries on', async () => {
    const prefix = `${uniqueName('trg')}.`;
    const h = await startTrigger(prefix, [webhookFlow({ id: 'order-hook' })]);
    const good = placedOrder({ orderId: 'after-bad-ones' });
    await sendEvents(prefix, [
      '{"not json',
      '{"metric": "Placed Order"}',
      Buffer.from([0, 0, 0, 0, 7, 1, 2]),
      good,
    ]);

    const dead = await readTopic(kafka, h.topics.eventsDlq, (m) => m.length >= 3);
    const byReason = Object.fromEntries(dead.map((d) => [d.headers[DLQ_HEADERS.reason], d]));
    expect(Object.keys(byReason).sort()).toEqual([
      'malformed_json',
      'registry_not_configured',
      'schema_invalid',
    ]);
    const malformed = byReason.malformed_json;
    expect(malformed.value).toBe('{"not json');
    expect(malformed.key).toBe('raw');
    expect(malformed.headers.origin).toBe('test');
    expect(malformed.headers[DLQ_HEADERS.topic]).toBe(`${prefix}events`);
    expect(malformed.headers[DLQ_HEADERS.offset]).toMatch(/^\d+$/);
    expect(malformed.headers[DLQ_HEADERS.error]).toBeTruthy();

    const jobs = await jobsOf(h, (j) => j.length >= 1);
    expect(JSON.parse(jobs[0].body).order).toBe('after-bad-ones');
    expect(await metricValue(h, 'flowhook_events_invalid_total')).toBe(3);
  });

  it('never triggers on backfill, triggers a repeated event id once, and keeps that across a restart', async () => {
    const prefix = `${uniqueName('trg')}.`;
    let h = await startTrigger(prefix, [webhookFlow({ id: 'order-hook' })]);
    const event = placedOrder({ orderId: 'once' });
    await sendEvents(prefix, [
      { ...placedOrder({ orderId: 'backfilled' }), backfill: true },
      event,
      event,
    ]);
    // Markers share the event's profile (so its partition): once a marker's job is out, the
    // events before it were processed.
    await sendEvents(prefix, [placedOrder({ orderId: 'marker-1', profile: event.profile })]);
    let jobs = await jobsOf(h, (j) => j.some((x) => JSON.parse(x.body).order === 'marker-1'));
    expect(jobs.map((j) => JSON.parse(j.body).order).sort()).toEqual(['marker-1', 'once']);

    // A new process restores the dedup state from flowhook.state.
    await h.stop();
    running.splice(running.indexOf(h), 1);
    h = await startTrigger(prefix);
    await sendEvents(prefix, [event, placedOrder({ orderId: 'marker-2', profile: event.profile })]);
    jobs = await jobsOf(h, (j) => j.some((x) => JSON.parse(x.body).order === 'marker-2'));
    expect(jobs.filter((j) => JSON.parse(j.body).order === 'once')).toHaveLength(1);
  });

  it('accepts the Klaviyo Events-API body', async () => {
    const prefix = `${uniqueName('trg')}.`;
    const h = await startTrigger(prefix, [webhookFlow({ id: 'order-hook' })]);
    const klaviyo = {
      data: {
        type: 'event',
        attributes: {
          properties: { OrderId: 'K-7' },
          time: new Date().toISOString(),
          value: 12.5,
          unique_id: uniqueName('klaviyo'),
          metric: { data: { type: 'metric', attributes: { name: 'Placed Order' } } },
          profile: { data: { type: 'profile', attributes: { email: 'k@example.com' } } },
        },
      },
    };
    await sendEvents(prefix, [{ key: 'email:k@example.com', raw: JSON.stringify(klaviyo) }]);
    const [job] = await jobsOf(h, (j) => j.length >= 1);
    expect(JSON.parse(job.body)).toEqual({ order: 'K-7', email: 'k@example.com' });
    expect(job.event_id).toBe(klaviyo.data.attributes.unique_id);
  });

  it('decodes Avro and JSON Schema events framed by a real schema registry', async () => {
    registry = await startSchemaRegistry();
    const prefix = `${uniqueName('trg')}.`;
    const h = await startTrigger(prefix, [webhookFlow({ id: 'order-hook' })], {
      SCHEMA_REGISTRY_URL: registry.url,
    });
    const client = new SchemaRegistry({ host: registry.url });
    const avro = await client.register(
      {
        type: SchemaType.AVRO,
        schema: JSON.stringify({
          type: 'record',
          name: 'PlacedOrder',
          namespace: 'shop',
          fields: [
            { name: 'id', type: 'string' },
            { name: 'metric', type: 'string' },
            { name: 'time', type: 'string' },
            {
              name: 'profile',
              type: {
                type: 'record',
                name: 'Profile',
                fields: [{ name: 'email', type: 'string' }],
              },
            },
            { name: 'properties', type: { type: 'map', values: 'string' } },
          ],
        }),
      },
      { subject: `${prefix}events-avro` },
    );
    const json = await client.register(
      {
        type: SchemaType.JSON,
        schema: JSON.stringify({ type: 'object', properties: { id: { type: 'string' } } }),
      },
      { subject: `${prefix}events-json` },
    );
    const base = { metric: 'Placed Order', time: new Date().toISOString() };
    await sendEvents(prefix, [
      {
        key: 'email:avro@example.com',
        raw: await client.encode(avro.id, {
          ...base,
          id: uniqueName('a'),
          profile: { email: 'avro@example.com' },
          properties: { OrderId: 'AV-1' },
        }),
      },
      {
        key: 'email:json@example.com',
        raw: await client.encode(json.id, {
          ...base,
          id: uniqueName('j'),
          profile: { email: 'json@example.com' },
          properties: { OrderId: 'JS-1' },
        }),
      },
    ]);
    const jobs = await jobsOf(h, (j) => j.length >= 2, 60_000);
    expect(
      jobs.map((j) => JSON.parse(j.body)).sort((a, b) => a.order.localeCompare(b.order)),
    ).toEqual([
      { order: 'AV-1', email: 'avro@example.com' },
      { order: 'JS-1', email: 'json@example.com' },
    ]);
  });

  it('holds a time delay as a durable timer and resumes the walk when it is due', async () => {
    const prefix = `${uniqueName('trg')}.`;
    const h = await startTrigger(prefix, [webhookFlow({ id: 'delayed', delayMinutes: 0 })]);
    await sendEvents(prefix, [placedOrder({ orderId: 'after-delay' })]);
    const [job] = await jobsOf(h, (j) => j.length >= 1);
    expect(JSON.parse(job.body).order).toBe('after-delay');
    expect(await metricValue(h, 'flowhook_flow_delays_total', { flow_id: 'delayed' })).toBe(1);
  });

  it('fires a 1-minute delay queued after a 6-minute one for the same profile at about one minute', async () => {
    const prefix = `${uniqueName('trg')}.`;
    const h = await startTrigger(prefix, [
      webhookFlow({ id: 'six', delayMinutes: 6 }),
      webhookFlow({ id: 'one', delayMinutes: 1 }),
    ]);
    const profile = { id: 'profile-delays', email: 'delays@example.com' };
    // One event starts both waits for one profile, on one task: with tiers the 1-minute wait
    // could sit behind the 6-minute one; as timers it cannot.
    await sendEvents(prefix, [placedOrder({ profile, orderId: 'first' })]);
    await waitFor(async () => (await metricValue(h, 'flowhook_flow_delays_total')) >= 2, {
      what: 'both delays scheduled',
    });
    const sentAt = Date.now();
    const [job] = await jobsOf(h, (j) => j.length >= 1, 90_000);
    const firedAfter = Date.now() - sentAt;
    expect(job?.flow_id).toBe('one');
    expect(firedAfter).toBeGreaterThanOrEqual(55_000);
    expect(firedAfter).toBeLessThan(75_000);
  }, 120_000);
});
