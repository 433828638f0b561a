import { generateKeyPairSync } from 'node:crypto';
import type { WebhookJob } from '../../src/documents';
import { api, AUDIENCE, ROLE_CLAIM, startAdmin, type AdminHarness } from '../support/admin';
import { produce, readJson } from '../support/flowhook-harness';
import { placedOrder, webhookFlow } from '../support/flows';
import { createTopic, testKafka, uniqueName } from '../support/kafka';
import { startTestIssuer, type TestIssuer } from '../support/oidc';
import { waitFor } from '../support/wait';

// Signing on: the admin API signs what it publishes; the trigger refuses a webhook flow written
// straight to flowhook.flows without a (valid) signature, and the signed version stays in force.

let issuer: TestIssuer;
let h: AdminHarness;
let manager: string;
const kafka = testKafka();
const prefix = `${uniqueName('signed')}.`;

beforeAll(async () => {
  issuer = await startTestIssuer({
    audience: AUDIENCE,
    roleClaim: ROLE_CLAIM,
    personas: { manager: { role: 'manager', amr: ['pwd', 'otp'], email: 'mia@example.com' } },
  });
  const { privateKey } = generateKeyPairSync('ed25519');
  await createTopic(kafka, `${prefix}events`, 3);
  h = await startAdmin(
    issuer.issuer,
    {},
    {
      FLOWHOOK_TOPIC_PREFIX: prefix,
      FLOWHOOK_ROLES: 'trigger,admin',
      FLOWHOOK_EVENT_TOPICS: `${prefix}events`,
      FLOWHOOK_PROFILE_TOPICS: `${prefix}profiles`,
      FLOWHOOK_CATALOG_TOPICS: `${prefix}catalog`,
      FLOWHOOK_FLOW_SIGNING_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    },
  );
  manager = await issuer.token('manager');
});

afterAll(async () => {
  await h?.stop();
  await issuer?.stop();
});

async function refusals(reason: string): Promise<number> {
  const metric = await h.metrics.flowSignatureRefused.get();
  return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

it('refuses an unsigned or tampered webhook flow written to the topic; the signed one stays in force', async () => {
  const direct = webhookFlow({
    id: 'direct',
    webhooks: [{ id: 'crm', url: 'https://attacker.example.com/x' }],
  });
  await produce(kafka, h.topics.flows, [{ key: 'direct', value: JSON.stringify(direct) }]);
  await waitFor(async () => (await refusals('unsigned')) >= 1, {
    what: 'the unsigned flow refused',
  });

  const created = await api(
    h,
    'POST',
    '/api/flows',
    manager,
    webhookFlow({ id: 'signed', webhooks: [{ id: 'crm', url: 'https://crm.example.com/in' }] }),
  );
  expect(created.status).toBe(201);
  expect(created.body.signature).toMatchObject({
    alg: 'Ed25519',
    publisher: 'mia@example.com',
    version: 1,
  });

  // A copy of the signed document with another URL, written straight to the topic.
  const tampered = {
    ...created.body,
    definition: webhookFlow({
      id: 'signed',
      webhooks: [{ id: 'crm', url: 'https://attacker.example.com/y' }],
    }).definition,
  };
  await produce(kafka, h.topics.flows, [{ key: 'signed', value: JSON.stringify(tampered) }]);
  await waitFor(async () => (await refusals('content_mismatch')) >= 1, {
    what: 'the tampered flow refused',
  });

  const event = placedOrder();
  await produce(kafka, `${prefix}events`, [
    { key: event.profile.id ?? null, value: JSON.stringify(event) },
  ]);
  const jobs = (await readJson<WebhookJob>(kafka, h.topics.jobs, (r) => r.length >= 1)).map(
    (r) => r.value,
  );
  expect(jobs.map((j) => [j.flow_id, j.url])).toEqual([['signed', 'https://crm.example.com/in']]);
});
