import type { WebhookJob } from '../../src/documents';
import { TriggerRole } from '../../src/trigger/role';
import { produce, readJson, startFlowhook, type Harness } from '../support/flowhook-harness';
import { placedOrder, webhookFlow } from '../support/flows';
import { createTopic, testKafka, uniqueName } from '../support/kafka';
import { waitFor } from '../support/wait';

// The metric catalog from flowhook.metrics (issue 11, item 2): a flow naming its trigger metric
// by Klaviyo metric id matches events by name, from the catalog as it was at start and as it
// changes while the trigger runs.

const kafka = testKafka();
let h: Harness | undefined;

afterEach(async () => {
  await h?.stop();
});

it('matches flows that name their metric by Klaviyo id, as the catalog topic says and changes', async () => {
  const prefix = `${uniqueName('metrics')}.`;
  const compact = [{ name: 'cleanup.policy', value: 'compact' }];
  await createTopic(kafka, `${prefix}events`, 3);
  await createTopic(kafka, `${prefix}flows`, 1, compact);
  await createTopic(kafka, `${prefix}metrics`, 1, compact);
  await produce(kafka, `${prefix}metrics`, [
    { key: 'XyZ9aB', value: JSON.stringify({ name: 'Placed Order' }) },
    { key: 'Gone00', value: JSON.stringify({ name: 'Viewed Product' }) },
    { key: 'Gone00', value: null },
  ]);
  const flows = [
    webhookFlow({ id: 'by-id', metric: 'XyZ9aB' }),
    webhookFlow({ id: 'later', metric: 'AbC1dE' }),
  ];
  await produce(
    kafka,
    `${prefix}flows`,
    flows.map((f) => ({ key: String(f.id), value: JSON.stringify(f) })),
  );
  let trigger: TriggerRole | undefined;
  h = await startFlowhook({
    settings: {
      FLOWHOOK_TOPIC_PREFIX: prefix,
      FLOWHOOK_ROLES: 'trigger',
      FLOWHOOK_EVENT_TOPICS: `${prefix}events`,
    },
    roles: { trigger: (ctx) => (trigger = new TriggerRole(ctx)) },
  });
  const table = (trigger as TriggerRole).table;
  expect(table.get('by-id')?.trigger).toMatchObject({ metric: 'Placed Order' });
  expect(table.get('later')?.trigger).toMatchObject({ metric: 'AbC1dE' });

  const order = placedOrder();
  const send = (e: typeof order) =>
    produce(kafka, `${prefix}events`, [{ key: e.profile.id ?? null, value: JSON.stringify(e) }]);
  await send(order);

  // The catalog learns a new id while the trigger runs: the flow naming it now matches.
  await produce(kafka, `${prefix}metrics`, [
    { key: 'AbC1dE', value: JSON.stringify({ attributes: { name: 'Started Checkout' } }) },
  ]);
  const laterMetric = () =>
    (table.get('later')?.trigger as { metric?: string } | undefined)?.metric;
  await waitFor(() => laterMetric() === 'Started Checkout', {
    what: 'flow "later" validated again with the name of AbC1dE',
  });
  const checkout = placedOrder({ metric: 'Started Checkout' });
  await send(checkout);

  const jobs = await readJson<WebhookJob>(kafka, h.topics.jobs, (r) => r.length >= 2);
  expect(jobs.map((j) => [j.value.flow_id, j.value.event_id]).sort()).toEqual(
    [
      ['by-id', order.id],
      ['later', checkout.id],
    ].sort(),
  );
}, 90_000);
