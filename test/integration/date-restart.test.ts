import { roleGroupId } from '../../src/service/role';
import { produce, startFlowhook, type Harness } from '../support/flowhook-harness';
import { webhookFlow } from '../support/flows';
import { createTopic, testKafka, uniqueName, withAdmin } from '../support/kafka';
import { startReceiver, type ReceivedRequest, type Receiver } from '../support/receiver';
import { waitFor } from '../support/wait';

// A date flow across restarts of the trigger (same instance, same state directory), on the real
// broker: an occurrence that falls due while the trigger is down fires once when it is back,
// and a restart after it fired does not fire it again.

const kafka = testKafka();
const prefix = `${uniqueName('dates')}.`;
const settings = {
  FLOWHOOK_TOPIC_PREFIX: prefix,
  FLOWHOOK_ROLES: 'trigger,delivery,delay',
  FLOWHOOK_EVENT_TOPICS: `${prefix}events`,
  FLOWHOOK_INSTANCE_ID: uniqueName('instance'),
};
let h: Harness | undefined;
let receiver: Receiver;

const at = (path: string) => (r: ReceivedRequest) => r.path === path;

/** Offsets the trigger committed on the profiles topic (all partitions). */
async function committedProfileUpdates(): Promise<number> {
  return withAdmin(kafka, async (admin) => {
    const [t] = await admin.fetchOffsets({
      groupId: roleGroupId(prefix, 'trigger'),
      topics: [`${prefix}profiles`],
    });
    return (t?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  });
}

async function counter(
  metric: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> },
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((n, v) => n + v.value, 0);
}

beforeAll(async () => {
  receiver = await startReceiver([{ status: 200 }]);
  await createTopic(kafka, `${prefix}events`, 3);
  await createTopic(kafka, `${prefix}profiles`, 3);
  await createTopic(kafka, `${prefix}flows`, 1, [{ name: 'cleanup.policy', value: 'compact' }]);
});

afterAll(async () => {
  await h?.stop();
  await receiver?.close();
});

it('an occurrence due while the trigger is down fires once when it is back, and not again after the next restart', async () => {
  // The trigger time 20 s from now, in UTC; "today" is the UTC date at that moment.
  const fireAt = new Date(Math.ceil((Date.now() + 20_000) / 1000) * 1000);
  const today = fireAt.toISOString().slice(5, 10);
  const birthday = webhookFlow({
    id: 'birthday-restart',
    trigger: {
      type: 'date',
      date_field_type: 'profile-property',
      date_profile_property: 'birthday',
      timedelta_value_before_date: 0,
      recurrence_frequency: 'annually',
      timezone: 'UTC',
      trigger_time: fireAt.toISOString().slice(11, 19),
    },
    webhooks: [{ id: 'hook', url: receiver.url('/points'), body: '{"name": "{{ first_name }}"}' }],
  });
  const probe = webhookFlow({
    id: 'probe',
    metric: 'Probe',
    webhooks: [{ id: 'hook', url: receiver.url('/probe'), body: '{"ok": true}' }],
  });
  await produce(
    kafka,
    `${prefix}flows`,
    [birthday, probe].map((f) => ({ key: String(f.id), value: JSON.stringify(f) })),
  );
  h = await startFlowhook({ name: 'dates', settings });
  const service = h;
  await waitFor(
    async () => (await service.metrics.flowsLoaded.get()).values.some((v) => v.value === 2),
    { what: 'both flows loaded' },
  );
  await produce(
    kafka,
    `${prefix}profiles`,
    ['Eve', 'Fay'].map((name) => ({
      key: `${name}-r`,
      value: JSON.stringify({
        time: new Date().toISOString(),
        profile: { id: `${name}-r`, first_name: name, properties: { birthday: `1990-${today}` } },
      }),
    })),
  );
  // Both updates are committed, and with them the timers of this year's occurrence.
  await waitFor(async () => (await committedProfileUpdates()) === 2, {
    what: 'both profile updates committed',
  });
  await h.stop();
  h = undefined;
  expect(receiver.requests.filter(at('/points'))).toHaveLength(0);
  await waitFor(() => Date.now() > fireAt.getTime() + 1000, {
    what: 'the trigger time passes while the trigger is down',
    timeoutMs: 40_000,
  });

  h = await startFlowhook({ name: 'dates', settings });
  const got = await receiver.waitForRequests(2, { filter: at('/points'), timeoutMs: 30_000 });
  expect(got.map((r) => (JSON.parse(r.body) as { name: string }).name).sort()).toEqual([
    'Eve',
    'Fay',
  ]);
  await h.stop();

  // Once more: the occurrence fired and committed, so the restarted trigger has nothing due.
  h = await startFlowhook({ name: 'dates', settings });
  const again = h;
  await produce(kafka, `${prefix}events`, [
    {
      key: 'probe-r',
      value: JSON.stringify({
        id: 'probe-r-1',
        metric: 'Probe',
        time: new Date().toISOString(),
        profile: { id: 'probe-r' },
        properties: {},
      }),
    },
  ]);
  await receiver.waitForRequests(1, { filter: at('/probe'), timeoutMs: 30_000 });
  expect(await counter(again.metrics.flowEntries, { flow_id: 'birthday-restart' })).toBe(0);
  expect(await counter(again.metrics.timersFired, { group: roleGroupId(prefix, 'trigger') })).toBe(
    0,
  );
  expect(receiver.requests.filter(at('/points'))).toHaveLength(2);
}, 150_000);
