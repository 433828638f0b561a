import type { FlowhookEvent } from '../../src/documents';
import { produce, startFlowhook, type Harness } from '../support/flowhook-harness';
import { createTopic, readTopic, testKafka, uniqueName } from '../support/kafka';
import { startReceiver, type ReceivedRequest, type Receiver } from '../support/receiver';
import { waitFor } from '../support/wait';

// Price-drop and low-inventory flows end to end: events and catalog records on the real broker,
// the per-item audience reached through flowhook.item-audience, the fan-out through
// flowhook.item-entries, webhooks delivered to a real receiver.

const kafka = testKafka();
const prefix = `${uniqueName('price-drop')}.`;
const DAY = 86_400_000;
let h: Harness;
let receiver: Receiver;
let counter = 0;

const webhook = (path: string, body: string) => ({
  id: 'hook',
  type: 'send-webhook',
  links: { next: null },
  data: { status: 'live', message: { url: receiver.url(path), headers: {}, body } },
});

function flow(id: string, trigger: Record<string, unknown>, path: string, body: string) {
  return {
    id,
    name: id,
    status: 'live',
    version: 1,
    definition: {
      triggers: [trigger],
      profile_filter: null,
      entry_action_id: 'hook',
      reentry_criteria: null,
      actions: [webhook(path, body)],
    },
  };
}

function event(
  metric: string,
  profileId: string,
  properties: FlowhookEvent['properties'],
  ago = 0,
): FlowhookEvent {
  counter += 1;
  return {
    id: `${profileId}-${metric}-${counter}`,
    metric,
    time: new Date(Date.now() - ago).toISOString(),
    profile: { id: profileId, email: `${profileId}@example.com` },
    properties,
  };
}

const sendEvents = (...events: FlowhookEvent[]) =>
  produce(
    kafka,
    `${prefix}events`,
    events.map((e) => ({ key: e.profile.id ?? null, value: JSON.stringify(e) })),
  );

const sendCatalog = (...items: { key: string; value: string }[]) =>
  produce(kafka, `${prefix}catalog`, items);

const mug = (price: number) => ({
  key: 'MUG',
  value: JSON.stringify({
    external_id: 'MUG',
    title: 'Blue mug',
    url: 'https://shop.example.com/mug',
    image_full_url: 'https://shop.example.com/mug.png',
    price,
  }),
});
// Klaviyo's JSON:API envelope, stock on the variants.
const tee = (small: number, large: number) => ({
  key: 'TEE',
  value: JSON.stringify({
    data: {
      type: 'catalog-item',
      id: '$custom:::$default:::TEE',
      attributes: {
        title: 'Tee',
        price: 20,
        variants: [
          { id: 'TEE-S', title: 'S', inventory_quantity: small },
          { id: 'TEE-L', title: 'L', inventory_quantity: large },
        ],
      },
    },
  }),
});

async function counterValue(
  metric: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const m = await metric.get();
  return m.values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((n, v) => n + v.value, 0);
}

const at = (path: string) => (r: ReceivedRequest) => r.path === path;
const bodies = (path: string) =>
  receiver.requests.filter(at(path)).map((r) => JSON.parse(r.body) as Record<string, unknown>);

beforeAll(async () => {
  receiver = await startReceiver([{ status: 200 }]);
  await createTopic(kafka, `${prefix}events`, 3);
  await createTopic(kafka, `${prefix}catalog`, 3);
  await createTopic(kafka, `${prefix}flows`, 1, [{ name: 'cleanup.policy', value: 'compact' }]);
  const flows = [
    flow(
      'price-drop',
      {
        type: 'price-drop',
        trigger_filter: null,
        price_drop_amount_value: 10,
        price_drop_amount_unit: 'percent',
        audience: ['viewed', 'checkout-started'],
        timeframe_days: 30,
      },
      '/price-drop',
      '{"email": "{{ email }}", "item": "{{ event.item_id }}", "title": "{{ event.title }}", ' +
        '"old": {{ event.old_price }}, "new": {{ event.new_price }}, "percent": {{ event.price_drop_percent }}}',
    ),
    flow(
      'low-stock',
      {
        type: 'low-inventory',
        product_level: 'product',
        trigger_filter: null,
        inventory_count: 3,
        audience: ['added-to-cart'],
      },
      '/low-stock',
      '{"email": "{{ email }}", "item": "{{ event.item_id }}", "left": {{ event.inventory_quantity }}}',
    ),
  ];
  await produce(
    kafka,
    `${prefix}flows`,
    flows.map((f) => ({ key: f.id, value: JSON.stringify(f) })),
  );
  h = await startFlowhook({
    name: 'price-drop',
    settings: {
      FLOWHOOK_TOPIC_PREFIX: prefix,
      FLOWHOOK_ROLES: 'trigger,delivery,delay',
      FLOWHOOK_EVENT_TOPICS: `${prefix}events`,
      FLOWHOOK_CATALOG_TOPICS: `${prefix}catalog`,
    },
  });
  await waitFor(async () => (await counterValue(h.metrics.flowsLoaded, { status: 'live' })) === 2, {
    what: 'two flows loaded',
  });
});

afterAll(async () => {
  await h?.stop();
  await receiver?.close();
});

it('a price drop reaches recent viewers and checkouts but not buyers; low inventory fires once', async () => {
  // First sightings: nothing to compare with, so nothing fires.
  await sendCatalog(mug(40), tee(6, 4));
  await waitFor(
    async () => (await counterValue(h.metrics.catalogUpdates, { change: 'new' })) === 2,
    { what: 'two new catalog items stored' },
  );
  await sendEvents(
    event('Viewed Product', 'ann', { ProductID: 'MUG' }),
    event('Viewed Product', 'bob', { ProductID: 'MUG' }),
    event('Placed Order', 'bob', { Items: [{ ProductID: 'MUG', Quantity: 1 }] }),
    // Viewed 60 days ago: outside the flow's 30 days, inside the 90 days kept.
    event('Viewed Product', 'cy', { ProductID: 'MUG' }, 60 * DAY),
    event('Started Checkout', 'dee', { Items: [{ ProductID: 'MUG' }, { ProductID: 'TEE' }] }),
    event('Added to Cart', 'eve', { AddedItem: { ProductID: 'TEE' }, Items: [] }),
    // A viewer is not in the low-stock flow's audience (added-to-cart only).
    event('Viewed Product', 'fay', { ProductID: 'TEE' }),
  );
  await waitFor(async () => (await counterValue(h.metrics.itemAudienceRecords)) === 8, {
    what: 'eight audience records in the item-audience store',
  });

  // The mug drops 25 %; the tee's stock (no quantity of its own: S + L) falls from 10 to 3.
  await sendCatalog(mug(30), tee(1, 2));
  await receiver.waitForRequests(2, { filter: at('/price-drop') });
  await receiver.waitForRequests(1, { filter: at('/low-stock') });

  // The same records again: no change, no fan-out; then a record that is not a catalog item.
  await sendCatalog(mug(30), tee(1, 2), { key: 'BAD', value: '{"title": "no id", "price": -1}' });
  const dead = await readTopic(kafka, h.topics.eventsDlq, (m) => m.length >= 1);
  expect(dead.map((d) => d.headers['flowhook-dlq-reason'])).toEqual(['catalog_schema_invalid']);
  expect(dead[0]?.key).toBe('BAD');
  await waitFor(
    async () => (await counterValue(h.metrics.catalogUpdates, { change: 'unchanged' })) === 2,
    { what: 'the repeated records processed' },
  );
  await waitFor(
    async () =>
      (await counterValue(h.metrics.jobsEmitted)) === 3 &&
      (await counterValue(h.metrics.flowEntries)) === 3,
    { what: 'three jobs emitted' },
  );

  expect(
    bodies('/price-drop').sort((a, b) => String(a.email).localeCompare(String(b.email))),
  ).toEqual([
    { email: 'ann@example.com', item: 'MUG', title: 'Blue mug', old: 40, new: 30, percent: 25 },
    { email: 'dee@example.com', item: 'MUG', title: 'Blue mug', old: 40, new: 30, percent: 25 },
  ]);
  expect(bodies('/low-stock')).toEqual([{ email: 'eve@example.com', item: 'TEE', left: 3 }]);
  expect(await counterValue(h.metrics.itemFanouts, { flow_id: 'price-drop' })).toBe(1);
  expect(await counterValue(h.metrics.itemFanouts, { flow_id: 'low-stock' })).toBe(1);
  expect(await counterValue(h.metrics.itemEntriesEmitted)).toBe(3);
  // A further drop is a new change: it fans out again, to the same viewers.
  await sendCatalog(mug(20));
  await receiver.waitForRequests(4, { filter: at('/price-drop') });
  expect(bodies('/price-drop').filter((b) => b.old === 30)).toHaveLength(2);
}, 120_000);
