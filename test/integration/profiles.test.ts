import type { FlowhookEvent } from '../../src/documents';
import { produce, startFlowhook, type Harness } from '../support/flowhook-harness';
import { createTopic, testKafka, uniqueName } from '../support/kafka';
import { startReceiver, type ReceivedRequest, type Receiver } from '../support/receiver';
import { waitFor } from '../support/wait';

// Flows on the profile as it is now, end to end: events and profile updates on the real broker,
// the profile store in the trigger, webhooks delivered to a real receiver. The two flows with a
// delay wait one minute (the shortest Klaviyo delay), side by side.

const kafka = testKafka();
const prefix = `${uniqueName('profiles')}.`;
let h: Harness;
let receiver: Receiver;
let counter = 0;

function flow(
  id: string,
  trigger: Record<string, unknown>,
  actions: Record<string, unknown>[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id,
    name: id,
    status: 'live',
    version: 1,
    definition: {
      triggers: [trigger],
      profile_filter: null,
      entry_action_id: (actions[0] as { id: string }).id,
      reentry_criteria: null,
      actions,
      ...extra,
    },
  };
}

const webhook = (id: string, path: string, body: string, next: string | null = null) => ({
  id,
  type: 'send-webhook',
  links: { next },
  data: { status: 'live', message: { url: receiver.url(path), headers: {}, body } },
});
const delayOneMinute = (next: string) => ({
  id: 'wait',
  type: 'time-delay',
  links: { next },
  data: { unit: 'minutes', value: 1 },
});
const profileFilter = (condition: Record<string, unknown>) => ({
  condition_groups: [{ conditions: [condition] }],
});
const placedOrderCount = (operator: string, value: number, timeframe: Record<string, unknown>) => ({
  type: 'profile-metric',
  metric_id: 'Placed Order',
  measurement: 'count',
  measurement_filter: { type: 'numeric', operator, value },
  timeframe_filter: timeframe,
});

function event(
  metric: string,
  profileId: string,
  properties: FlowhookEvent['properties'] = {},
  profile: Partial<FlowhookEvent['profile']> = {},
): FlowhookEvent {
  counter += 1;
  return {
    id: `${profileId}-${metric}-${counter}`,
    metric,
    time: new Date().toISOString(),
    profile: { id: profileId, email: `${profileId}@example.com`, ...profile },
    properties,
  };
}

function sendEvents(...events: FlowhookEvent[]): Promise<void> {
  return produce(
    kafka,
    `${prefix}events`,
    events.map((e) => ({ key: e.profile.id ?? null, value: JSON.stringify(e) })),
  );
}

function sendProfileUpdate(profileId: string, update: Record<string, unknown>): Promise<void> {
  return produce(kafka, `${prefix}profiles`, [
    { key: profileId, value: JSON.stringify({ time: new Date().toISOString(), ...update }) },
  ]);
}

async function skips(flowId: string, reason: string): Promise<number> {
  const m = await h.metrics.flowSkips.get();
  return (
    m.values.find((v) => v.labels.flow_id === flowId && v.labels.reason === reason)?.value ?? 0
  );
}

const at = (path: string) => (r: ReceivedRequest) => r.path === path;
const bodies = (path: string) =>
  receiver.requests.filter(at(path)).map((r) => JSON.parse(r.body) as Record<string, string>);

beforeAll(async () => {
  receiver = await startReceiver([{ status: 200 }]);
  await createTopic(kafka, `${prefix}events`, 3);
  await createTopic(kafka, `${prefix}profiles`, 3);
  await createTopic(kafka, `${prefix}flows`, 1, [{ name: 'cleanup.policy', value: 'compact' }]);
  const flows = [
    // Klaviyo's abandoned cart: Started Checkout, wait, then only if no order since the flow began.
    flow(
      'abandoned-cart',
      { type: 'metric', id: 'Started Checkout' },
      [
        delayOneMinute('remind'),
        webhook('remind', '/cart', '{"email": "{{ email }}", "cart": "{{ event.CartId }}"}'),
      ],
      {
        profile_filter: profileFilter(
          placedOrderCount('equals', 0, { type: 'date', operator: 'flow-start' }),
        ),
      },
    ),
    // A direct-mail catalog after the first order only.
    flow(
      'first-order',
      { type: 'metric', id: 'Placed Order' },
      [webhook('catalog', '/catalog', '{"order": "{{ event.OrderId }}"}')],
      {
        profile_filter: profileFilter(
          placedOrderCount('equals', 1, { type: 'date', operator: 'alltime' }),
        ),
      },
    ),
    // A CRM sync per newly subscribed profile; re-entry "always", so only newness limits it.
    flow(
      'crm-sync',
      { type: 'list', id: 'L1' },
      [webhook('sync', '/crm', '{"email": "{{ email }}"}')],
      { reentry_criteria: { duration: 0, unit: 'alltime' } },
    ),
    // A split after a delay reads the profile as it is then, and so does the body.
    flow('tier-split', { type: 'metric', id: 'Viewed Product' }, [
      delayOneMinute('split'),
      {
        id: 'split',
        type: 'conditional-split',
        links: { next_if_true: 'gold', next_if_false: 'basic' },
        data: {
          profile_filter: profileFilter({
            type: 'profile-property',
            property: "properties['tier']",
            filter: { type: 'string', operator: 'equals', value: 'gold' },
          }),
        },
      },
      webhook('gold', '/gold', '{"tier": "{{ person.tier }}", "name": "{{ first_name }}"}'),
      webhook('basic', '/basic', '{"tier": "{{ person.tier }}"}'),
    ]),
  ];
  await produce(
    kafka,
    `${prefix}flows`,
    flows.map((f) => ({ key: String(f.id), value: JSON.stringify(f) })),
  );
  h = await startFlowhook({
    name: 'profiles',
    settings: {
      FLOWHOOK_TOPIC_PREFIX: prefix,
      FLOWHOOK_ROLES: 'trigger,delivery,delay',
      FLOWHOOK_EVENT_TOPICS: `${prefix}events`,
      FLOWHOOK_PROFILE_TOPICS: `${prefix}profiles`,
      FLOWHOOK_CATALOG_TOPICS: `${prefix}catalog`,
    },
  });
  await waitFor(async () => (await h.metrics.flowsLoaded.get()).values.some((v) => v.value === 4), {
    what: 'four flows loaded',
  });
});

afterAll(async () => {
  await h?.stop();
  await receiver?.close();
});

it('abandoned cart, first order, a list sync and a split read the profile store', async () => {
  // Abandoned cart: ann orders during the delay, bob does not.
  await sendEvents(
    event('Placed Order', 'ann', { OrderId: 'ann-old' }),
    event('Started Checkout', 'ann', { CartId: 'cart-ann' }),
    event('Started Checkout', 'bob', { CartId: 'cart-bob' }),
  );
  // Split: cara views a product as a basic member and becomes gold during the delay.
  await sendEvents(event('Viewed Product', 'cara', {}, { properties: { tier: 'basic' } }));
  await sendEvents(event('Placed Order', 'ann', { OrderId: 'ann-during-delay' }));
  await sendProfileUpdate('cara', {
    profile: { id: 'cara', first_name: 'Cara', properties: { tier: 'gold' } },
  });

  // First order only: dan's first order gets the catalog, his second does not.
  await sendEvents(event('Placed Order', 'dan', { OrderId: 'dan-1' }));
  await receiver.waitForRequests(1, { filter: at('/catalog') });
  await sendEvents(event('Placed Order', 'dan', { OrderId: 'dan-2' }));
  await waitFor(async () => (await skips('first-order', 'profile_filter')) >= 2, {
    what: "dan's second order (and ann's) refused by the first-order filter",
  });

  // List sync: eve subscribes twice (one webhook), leaves and subscribes again (a second one);
  // fay joins through a profile update, then the same update again (one webhook).
  await sendEvents(
    event('Subscribed to List', 'eve', { list_id: 'L1' }),
    event('Subscribed to List', 'eve', { list_id: 'L1' }),
  );
  await waitFor(async () => (await skips('crm-sync', 'already_member')) >= 1, {
    what: "eve's repeated subscription refused as already a member",
  });
  await sendEvents(
    event('Unsubscribed from List', 'eve', { list_id: 'L1' }),
    event('Subscribed to List', 'eve', { list_id: 'L1' }),
  );
  await sendProfileUpdate('fay', {
    profile: { id: 'fay', email: 'fay@example.com' },
    lists: { add: ['L1'] },
  });
  await sendProfileUpdate('fay', { profile: { id: 'fay' }, lists: { add: ['L1'] } });
  await receiver.waitForRequests(3, { filter: at('/crm') });

  // After the one-minute delays.
  await receiver.waitForRequests(1, { filter: at('/cart'), timeoutMs: 120_000 });
  await receiver.waitForRequests(1, { filter: at('/gold'), timeoutMs: 120_000 });
  await waitFor(async () => (await skips('abandoned-cart', 'profile_filter')) >= 1, {
    what: "ann's reminder skipped: she ordered since starting the flow",
  });

  expect(bodies('/cart')).toEqual([{ email: 'bob@example.com', cart: 'cart-bob' }]);
  // ann's earlier order was her first too.
  expect(
    bodies('/catalog')
      .map((b) => b.order)
      .sort(),
  ).toEqual(['ann-old', 'dan-1']);
  expect(
    bodies('/crm')
      .map((b) => b.email)
      .sort(),
  ).toEqual(['eve@example.com', 'eve@example.com', 'fay@example.com']);
  expect(bodies('/gold')).toEqual([{ tier: 'gold', name: 'Cara' }]);
  expect(bodies('/basic')).toEqual([]);
  expect(await h.metrics.profileUpdates.get()).toMatchObject({ values: [{ value: 3 }] });
}, 180_000);

it('dead-letters an invalid profile update and one keyed by something else, and goes on', async () => {
  const before = (await h.metrics.profileUpdates.get()).values[0]?.value ?? 0;
  await produce(kafka, `${prefix}profiles`, [
    { key: 'gus', value: '{"profile": {"first_name": "No identifier"}}' },
    { key: 'someone-else', value: JSON.stringify({ profile: { id: 'gus' } }) },
    {
      key: 'gus',
      value: JSON.stringify({
        profile: { id: 'gus', email: 'gus@example.com' },
        lists: { add: ['L1'] },
      }),
    },
  ]);
  await receiver.waitForRequests(1, { filter: (r) => r.path === '/crm' && r.body.includes('gus') });
  const invalid = (await h.metrics.eventsInvalid.get()).values;
  const reasons = invalid.filter((v) => v.value > 0).map((v) => v.labels.reason);
  expect(reasons).toEqual(expect.arrayContaining(['profile_schema_invalid', 'wrong_key']));
  expect((await h.metrics.profileUpdates.get()).values[0]?.value).toBe(before + 1);
});

it('a birthday flow fires once at the trigger time, for profiles stored before and after it was loaded; a changed date reschedules', async () => {
  // The trigger time 40 s from now, in UTC; "today" is the UTC date at that moment.
  const fireAt = new Date(Math.ceil((Date.now() + 40_000) / 1000) * 1000);
  const today = fireAt.toISOString().slice(5, 10);
  const tomorrow = new Date(fireAt.getTime() + 86_400_000).toISOString().slice(5, 10);
  const birthday = (monthDay: string) => ({ birthday: `1990-${monthDay}` });
  const updates = async () => (await h.metrics.profileUpdates.get()).values[0]?.value ?? 0;

  // ann is in the store before the flow exists: the sweep schedules her.
  const before = await updates();
  await sendProfileUpdate('ann-b', {
    profile: { id: 'ann-b', first_name: 'Ann', properties: birthday(today) },
  });
  await waitFor(async () => (await updates()) > before, { what: "ann's birthday stored" });
  const birthdayFlow = flow(
    'birthday-points',
    {
      type: 'date',
      date_field_type: 'profile-property',
      date_profile_property: 'birthday',
      timedelta_value_before_date: 0,
      recurrence_frequency: 'annually',
      timezone: 'UTC',
      trigger_time: fireAt.toISOString().slice(11, 19),
    },
    [webhook('points', '/points', '{"name": "{{ first_name }}", "points": 100}')],
  );
  await produce(kafka, `${prefix}flows`, [
    { key: 'birthday-points', value: JSON.stringify(birthdayFlow) },
  ]);
  await waitFor(async () => (await h.metrics.flowsLoaded.get()).values.some((v) => v.value === 5), {
    what: 'the birthday flow loaded',
  });
  // bob arrives after; cara's date moves from tomorrow to today, dan's from today to tomorrow.
  await sendProfileUpdate('bob-b', {
    profile: { id: 'bob-b', first_name: 'Bob', properties: birthday(today) },
  });
  await sendProfileUpdate('cara-b', {
    profile: { id: 'cara-b', first_name: 'Cara', properties: birthday(tomorrow) },
  });
  await sendProfileUpdate('dan-b', {
    profile: { id: 'dan-b', first_name: 'Dan', properties: birthday(today) },
  });
  await sendProfileUpdate('cara-b', { profile: { id: 'cara-b', properties: birthday(today) } });
  await sendProfileUpdate('dan-b', { profile: { id: 'dan-b', properties: birthday(tomorrow) } });

  const got = await receiver.waitForRequests(3, { filter: at('/points'), timeoutMs: 90_000 });
  expect(Date.now()).toBeGreaterThanOrEqual(fireAt.getTime());
  const entries = async () =>
    (await h.metrics.flowEntries.get()).values.find((v) => v.labels.flow_id === 'birthday-points')
      ?.value ?? 0;
  expect(await entries()).toBe(3);
  expect(got.map((r) => (JSON.parse(r.body) as { name: string }).name).sort()).toEqual([
    'Ann',
    'Bob',
    'Cara',
  ]);
  expect(bodies('/points')).toHaveLength(3);
}, 150_000);

it('a webhook after a webhook waits for its outcome: sent only once the first was answered, and after a 400 too', async () => {
  receiver.setScript((r) =>
    r.path === '/create' ? { status: 400, delayMs: 500 } : { status: 200 },
  );
  const loaded = async () =>
    (await h.metrics.flowsLoaded.get()).values.find((v) => v.labels.status === 'live')?.value ?? 0;
  const before = await loaded();
  const twoSteps = flow('crm-two-steps', { type: 'metric', id: 'Signed Up' }, [
    webhook('create', '/create', '{"email": "{{ email }}"}', 'tag'),
    webhook('tag', '/tag', '{"email": "{{ email }}", "tag": "new"}'),
  ]);
  await produce(kafka, `${prefix}flows`, [
    { key: 'crm-two-steps', value: JSON.stringify(twoSteps) },
  ]);
  await waitFor(async () => (await loaded()) > before, { what: 'the two-step flow loaded' });
  await sendEvents(event('Signed Up', 'hal'));
  const [tag] = await receiver.waitForRequests(1, { filter: at('/tag'), timeoutMs: 30_000 });
  const create = receiver.requests.filter(at('/create'));
  // A 400 is not retried: one attempt, answered 500 ms after it arrived, then the next step.
  expect(create).toHaveLength(1);
  expect((tag as ReceivedRequest).at).toBeGreaterThanOrEqual(
    (create[0] as ReceivedRequest).at + 500,
  );
  expect(JSON.parse((tag as ReceivedRequest).body)).toEqual({
    email: 'hal@example.com',
    tag: 'new',
  });
});
