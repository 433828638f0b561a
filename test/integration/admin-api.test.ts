import flowSchema from '../../schemas/flow.schema.json';
import type { ActivityRecord } from '../../src/activity/types';
import {
  api,
  AUDIENCE,
  FakeActivity,
  FakeReview,
  ROLE_CLAIM,
  startAdmin,
  type AdminHarness,
} from '../support/admin';
import { readTopic } from '../support/kafka';
import { placedOrder, webhookFlow } from '../support/flows';
import { startTestIssuer, type TestIssuer } from '../support/oidc';
import { startReceiver, type Receiver } from '../support/receiver';

// The admin API's routes against the real broker and a real OIDC provider; only the activity
// store and the review queue (another component) are in-memory fakes.

const record: ActivityRecord = {
  id: 'a1',
  time: '2026-12-01T10:00:00.000Z',
  status: 'delivered',
  flow_id: 'api-flow',
  action_id: 'crm',
  job_id: 'job-1',
};
const heldItem = {
  id: 'held-1',
  flow_id: 'api-flow',
  action_id: 'crm',
  profile_id: 'p1',
  event_id: 'e1',
  held_at: '2026-12-01T10:00:00.000Z',
  job: { id: 'held-1' },
};

let issuer: TestIssuer;
let h: AdminHarness;
let bare: AdminHarness;
let receiver: Receiver;
let activity: FakeActivity;
let review: FakeReview;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  issuer = await startTestIssuer({
    audience: AUDIENCE,
    roleClaim: ROLE_CLAIM,
    personas: {
      manager: { role: 'manager', email: 'mia@example.com', amr: ['pwd', 'otp'] },
      analyst: { role: 'analyst', email: 'ana@example.com', amr: ['pwd', 'otp'] },
    },
  });
  activity = new FakeActivity({ items: [record], next_cursor: 'next' }, [heldItem]);
  review = new FakeReview(activity);
  receiver = await startReceiver([{ status: 200, body: '{"ok":true}' }]);
  [h, bare] = await Promise.all([
    startAdmin(issuer.issuer, { activity, review }),
    startAdmin(issuer.issuer, { ownActivityStore: false }),
  ]);
  for (const p of ['manager', 'analyst']) tokens[p] = await issuer.token(p);
});

afterAll(async () => {
  await Promise.all([h?.stop(), bare?.stop()]);
  await receiver?.close();
  await issuer?.stop();
});

const flow = () =>
  webhookFlow({ id: 'api-flow', webhooks: [{ id: 'crm', url: receiver.url('/crm') }] });

describe('admin API', () => {
  it('serves an OpenAPI 3.1 document whose Flow schema is schemas/flow.schema.json', async () => {
    const r = await api(h, 'GET', '/api/openapi.json', undefined);
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    const flowComponent = r.body.components.schemas.Flow;
    expect(Object.keys(flowComponent.properties)).toEqual(Object.keys(flowSchema.properties));
    expect(flowComponent.properties.definition.$ref).toBe(
      '#/components/schemas/Flow_FlowDefinition',
    );
    expect(r.body.components.schemas.Flow_SendWebhookAction).toBeDefined();
    for (const path of [
      '/api/flows/{id}',
      '/api/flows/{id}/status',
      '/api/review/{id}/release',
      '/api/dlq/replay',
      '/api/audit',
    ])
      expect(r.body.paths[path]).toBeDefined();
  });

  it('refuses a request without a token, as JSON with the error code', async () => {
    const r = await api(h, 'GET', '/api/flows', undefined);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('FLOWHOOK_ERR_UNAUTHENTICATED');
  });

  it('creates, reads, updates (optimistic concurrency), re-statuses and deletes a flow, each audited', async () => {
    const created = await api(h, 'POST', '/api/flows', tokens.manager, flow());
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'api-flow', version: 1 });

    expect((await api(h, 'POST', '/api/flows', tokens.manager, flow())).status).toBe(409);
    const got = await api(h, 'GET', '/api/flows/api-flow', tokens.analyst);
    expect(got.body.version).toBe(1);
    const listed = await api(h, 'GET', '/api/flows', tokens.analyst);
    expect(listed.body.items).toEqual([
      expect.objectContaining({ id: 'api-flow', valid: true, version: 1 }),
    ]);

    const edit = { ...got.body, name: 'renamed' };
    const updated = await api(h, 'PUT', '/api/flows/api-flow', tokens.manager, edit);
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ version: 2, name: 'renamed' });
    const stale = await api(h, 'PUT', '/api/flows/api-flow', tokens.manager, {
      ...edit,
      name: 'again',
    });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('FLOWHOOK_ERR_VERSION_CONFLICT');

    const status = await api(h, 'PATCH', '/api/flows/api-flow/status', tokens.manager, {
      status: 'draft',
      version: 2,
    });
    expect(status.body).toMatchObject({ status: 'draft', version: 3 });
    expect(
      (await api(h, 'PATCH', '/api/flows/api-flow/status', tokens.manager, { status: 'paused' }))
        .status,
    ).toBe(400);

    const analystEdit = await api(h, 'PUT', '/api/flows/api-flow', tokens.analyst, {
      ...status.body,
    });
    expect(analystEdit.status).toBe(403);
    expect(analystEdit.body.error.code).toBe('FLOWHOOK_ERR_FORBIDDEN');

    const onTopic = await readTopic(h.kafka, h.topics.flows, (m) => m.length >= 3);
    expect(
      onTopic.map((m) => (JSON.parse(m.value ?? 'null') as { version: number }).version),
    ).toEqual([1, 2, 3]);

    const audit = await api(h, 'GET', '/api/audit?flow_id=api-flow', tokens.analyst);
    expect(audit.body.items.map((e: { action: string }) => e.action)).toEqual([
      'flow.status',
      'flow.update',
      'flow.create',
    ]);
    expect(audit.body.items[2]).toMatchObject({
      actor: { subject: 'manager', email: 'mia@example.com', role: 'manager', amr: ['pwd', 'otp'] },
      address: '127.0.0.1',
      version: 1,
      summary: expect.stringContaining('creates webhook action crm'),
    });
    expect(audit.body.items[0].summary).toContain('status live -> draft');

    // Put it back live for the preview tests below.
    const live = await api(h, 'PATCH', '/api/flows/api-flow/status', tokens.manager, {
      status: 'live',
    });
    expect(live.body.version).toBe(4);
  });

  it('validates a document without publishing it', async () => {
    const bad = { ...flow(), id: 'bad-flow', status: 'sometimes' };
    const r = await api(h, 'POST', '/api/flows/validate', tokens.analyst, bad);
    expect(r.status).toBe(200);
    expect(r.body.ok).toBe(false);
    expect(r.body.problems[0].path).toBe('$.status');
    const refused = await api(h, 'POST', '/api/flows', tokens.manager, bad);
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('FLOWHOOK_ERR_FLOW_INVALID');
    expect(refused.body.error.problems[0].path).toBe('$.status');
  });

  it('previews and test-sends a stored flow for an event', async () => {
    const event = placedOrder();
    const preview = await api(h, 'POST', '/api/flows/api-flow/preview', tokens.analyst, event);
    expect(preview.status).toBe(200);
    expect(preview.body.requests).toEqual([
      expect.objectContaining({ flow: 'api-flow', action_id: 'crm', url: receiver.url('/crm') }),
    ]);
    expect(receiver.requests).toHaveLength(0);

    expect(
      (await api(h, 'POST', '/api/flows/api-flow/test-send', tokens.analyst, event)).status,
    ).toBe(403);
    const sent = await api(h, 'POST', '/api/flows/api-flow/test-send', tokens.manager, event);
    expect(sent.status).toBe(200);
    expect(sent.body.results).toEqual([
      expect.objectContaining({ status: 200, response_body: '{"ok":true}' }),
    ]);
    expect(receiver.requests).toHaveLength(1);

    const notEvent = await api(h, 'POST', '/api/flows/api-flow/preview', tokens.analyst, {
      nope: true,
    });
    expect(notEvent.status).toBe(400);
    expect(notEvent.body.error.code).toBe('FLOWHOOK_ERR_EVENT_DECODE');
  });

  it('reads the activity log through the ActivityReader with the filter given', async () => {
    const r = await api(
      h,
      'GET',
      '/api/activity?flow_id=api-flow&status=delivered&since=2026-11-30T00:00:00Z&limit=10',
      tokens.analyst,
    );
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ items: [record], next_cursor: 'next' });
    expect(activity.filters.at(-1)).toEqual({
      flow_id: 'api-flow',
      status: 'delivered',
      since: '2026-11-30T00:00:00.000Z',
      limit: 10,
    });
    expect((await api(h, 'GET', '/api/activity?status=lost', tokens.analyst)).status).toBe(400);
  });

  it('lists held webhooks; only a manager releases, and the release is audited', async () => {
    const listed = await api(h, 'GET', '/api/review?flow_id=api-flow', tokens.analyst);
    expect(listed.body.items).toEqual([heldItem]);
    expect((await api(h, 'POST', '/api/review/held-1/release', tokens.analyst)).status).toBe(403);
    const released = await api(h, 'POST', '/api/review/held-1/release', tokens.manager);
    expect(released.status).toBe(200);
    expect(review.decisions).toEqual([
      {
        decision: 'release',
        id: 'held-1',
        actor: {
          subject: 'manager',
          email: 'mia@example.com',
          role: 'manager',
          amr: ['pwd', 'otp'],
        },
      },
    ]);
    expect((await api(h, 'POST', '/api/review/held-1/discard', tokens.manager)).status).toBe(404);
    const audit = await api(h, 'GET', '/api/audit?flow_id=api-flow&limit=1', tokens.analyst);
    expect(audit.body.items[0]).toMatchObject({ action: 'review.release', targets: ['held-1'] });
  });

  it('lists the DLQ and lets only a manager replay it', async () => {
    const listed = await api(h, 'GET', '/api/dlq', tokens.analyst);
    expect(listed).toEqual({ status: 200, body: { items: [] } });
    expect((await api(h, 'POST', '/api/dlq/replay', tokens.analyst, {})).status).toBe(403);
    const replayed = await api(h, 'POST', '/api/dlq/replay', tokens.manager, {
      flow_id: 'api-flow',
    });
    expect(replayed.body).toMatchObject({ replayed: 0 });
  });

  it('deletes with a version guard', async () => {
    expect((await api(h, 'DELETE', '/api/flows/api-flow?version=1', tokens.manager)).status).toBe(
      409,
    );
    expect((await api(h, 'DELETE', '/api/flows/api-flow?version=4', tokens.manager)).status).toBe(
      204,
    );
    const gone = await api(h, 'GET', '/api/flows/api-flow', tokens.analyst);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('FLOWHOOK_ERR_NOT_FOUND');
  });

  it('answers 503 with a clear code where no activity store or review queue was given', async () => {
    for (const [method, path] of [
      ['GET', '/api/activity'],
      ['GET', '/api/review'],
      ['POST', '/api/review/x/release'],
    ] as const) {
      const r = await api(bare, method, path, tokens.manager);
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('FLOWHOOK_ERR_NOT_CONFIGURED');
    }
  });

  it('tells the signed-in principal who it is and what it may do', async () => {
    const me = await api(h, 'GET', '/api/me', tokens.analyst);
    expect(me.body).toMatchObject({
      subject: 'analyst',
      role: 'analyst',
      mfa: true,
      may: { read: true, edit_flows: false },
    });
  });
});
