import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { produce, startFlowhook, type Harness } from '../support/flowhook-harness';
import { placedOrder, webhookFlow } from '../support/flows';
import { createTopic, testKafka, uniqueName } from '../support/kafka';
import {
  PERSONA_PASSWORD,
  SECOND_FACTOR_CODE,
  startTestIssuer,
  type TestIssuer,
} from '../support/oidc';
import { freePort, startReceiver, type Receiver } from '../support/receiver';
import { waitFor } from '../support/wait';

// The web console end to end in a real browser (Debian's chromium, headless, driven by
// playwright-core) against a real flowhook — trigger, delivery, delay and admin roles on the
// real broker, the admin role's own SQLite activity store — and a real OIDC provider whose
// login page signs a persona in with or without a second factor (authorization code + PKCE).
//
// FLOWHOOK_CONSOLE_SCREENSHOTS=docs/console (a directory) saves the main screens there.

const CHROMIUM = process.env.FLOWHOOK_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = process.env.FLOWHOOK_CONSOLE_SCREENSHOTS;
const AUDIENCE = 'urn:flowhook:api';
const ROLE_CLAIM = 'flowhook_role';
const CLIENT_ID = 'flowhook-console';
const FLOW = 'welcome-series';

let issuer: TestIssuer;
let receiver: Receiver;
let h: Harness;
let browser: Browser;
let page: Page;
let origin: string;

async function shot(name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Signs in at the issuer's login page; `secondFactor` adds the one-time code. */
async function signInAtIssuer(secondFactor: boolean): Promise<void> {
  await page.waitForURL((url) => url.pathname.startsWith('/interaction/'));
  await page.getByLabel('User').fill('mia');
  await page.getByLabel('Password').fill(PERSONA_PASSWORD);
  if (secondFactor) await page.getByLabel('Second-factor code (optional)').fill(SECOND_FACTOR_CODE);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.origin === origin && url.pathname === '/console/');
}

/** Clicks Refresh until a row with this status text is in the table. */
async function refreshUntil(testId: string, text: string, timeoutMs = 30_000): Promise<void> {
  const table = page.getByTestId(testId);
  await waitFor(
    async () => {
      if ((await table.getByText(text, { exact: true }).count()) > 0) return true;
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.locator(`[data-testid="${testId}"][aria-busy="false"]`).waitFor();
      return false;
    },
    { timeoutMs, intervalMs: 250, what: `"${text}" in ${testId}` },
  );
}

beforeAll(async () => {
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  issuer = await startTestIssuer({
    audience: AUDIENCE,
    roleClaim: ROLE_CLAIM,
    personas: { mia: { role: 'manager', email: 'mia@example.com' } },
    console: { clientId: CLIENT_ID, redirectUris: [`${origin}/console/`] },
  });
  receiver = await startReceiver([{ status: 500, body: '{"error":"crm is down"}' }]);
  const prefix = `${uniqueName('console')}.`;
  const kafka = testKafka();
  await createTopic(kafka, `${prefix}events`, 3).catch(() => undefined);
  await createTopic(kafka, `${prefix}flows`, 1, [
    { name: 'cleanup.policy', value: 'compact' },
  ]).catch(() => undefined);
  const flow = {
    ...webhookFlow({
      id: FLOW,
      webhooks: [
        {
          id: 'crm',
          url: receiver.url('/crm'),
          body: '{"order": "{{ event.OrderId }}", "email": "{{ email }}"}',
        },
      ],
    }),
    name: 'Welcome series',
  };
  await produce(kafka, `${prefix}flows`, [{ key: FLOW, value: JSON.stringify(flow) }]);
  h = await startFlowhook({
    settings: {
      FLOWHOOK_TOPIC_PREFIX: prefix,
      FLOWHOOK_ROLES: 'trigger,delivery,delay,admin',
      FLOWHOOK_EVENT_TOPICS: `${prefix}events`,
      FLOWHOOK_ADMIN_PORT: String(port),
      // A new activity store (SQLite) for this run.
      FLOWHOOK_STATE_DIR: mkdtempSync(join(tmpdir(), 'flowhook-console-')),
      FLOWHOOK_OIDC_ISSUER: issuer.issuer,
      FLOWHOOK_OIDC_AUDIENCE: AUDIENCE,
      FLOWHOOK_OIDC_ROLE_CLAIM: ROLE_CLAIM,
      FLOWHOOK_OIDC_ALGORITHMS: 'ES256',
      FLOWHOOK_OIDC_CONSOLE_CLIENT_ID: CLIENT_ID,
      FLOWHOOK_OIDC_CONSOLE_SCOPE: 'openid api',
    },
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await h?.stop();
  await receiver?.close();
  await issuer?.stop();
});

describe('web console', () => {
  it('signs in with authorization code + PKCE and shows the flows', async () => {
    await page.goto(`${origin}/console/`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await signInAtIssuer(false);
    await expect(page.getByTestId('who').textContent()).resolves.toContain('manager · no MFA');
    const row = page.getByRole('row', { name: /Welcome series/ });
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain('metric:Placed Order');
    await shot('flows');
  });

  it('opens a flow as its graph and its webhook editor with a live preview', async () => {
    await page.getByRole('link', { name: 'Welcome series' }).click();
    const graph = page.getByRole('list', { name: 'Flow graph' });
    await graph.getByText('metric: Placed Order').waitFor();
    await shot('flow-graph');
    await graph.getByRole('link', { name: 'Webhook crm' }).click();

    const preview = page.getByTestId('preview-body');
    await waitFor(async () => (await preview.textContent())?.includes('"order": "A-1001"'), {
      what: 'the preview of the stored body',
    });
    await page
      .getByLabel('Body template')
      .fill('{"order": "{{ event.OrderId }}", "greeting": "Hello {{ first_name }}"}');
    await waitFor(async () => (await preview.textContent())?.includes('"greeting": "Hello Sam"'), {
      what: 'the preview of the edited body',
    });

    // A body that is not JSON: the message is next to the body field.
    await page.getByLabel('Body template').fill('{"order": {{ event.OrderId }');
    await page.locator('#wh-body-problems').waitFor();
    await page
      .getByLabel('Body template')
      .fill('{"order": "{{ event.OrderId }}", "greeting": "Hello {{ first_name }}"}');
    await waitFor(async () => (await preview.textContent())?.includes('Hello Sam'), {
      what: 'the preview again',
    });
    await shot('webhook-editor');
  });

  it('refuses the webhook edit without MFA, then saves it after a fresh sign-in with a second factor', async () => {
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const refusal = page.locator('.mfa');
    await refusal.waitFor();
    await page.getByText('FLOWHOOK_ERR_MFA_REQUIRED').waitFor();
    await shot('webhook-mfa-required');

    await page.getByRole('button', { name: 'Sign in again with a second factor' }).click();
    await signInAtIssuer(true);
    await expect(page.getByTestId('who').textContent()).resolves.toContain('manager · MFA');
    await page.getByText('Your unsaved edit is back').waitFor();
    await expect(page.getByLabel('Body template').inputValue()).resolves.toContain('greeting');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Saved: version 2.').waitFor();
  });

  it('shows a failing delivery in the activity log, replays it from the DLQ and sees it delivered', async () => {
    const event = placedOrder({ orderId: 'A-2002' });
    await produce(testKafka(), `${h.prefix}events`, [
      { key: event.profile.id ?? null, value: JSON.stringify(event) },
    ]);
    await page.goto(`${origin}/console/#/flows/${FLOW}/activity`);
    await refreshUntil('activity', 'dead lettered');
    const attempts = page.getByTestId('activity').getByRole('row').filter({ hasText: 'attempted' });
    await expect(attempts.first().textContent()).resolves.toMatch(/HTTP 500.*crm is down/);
    await shot('activity');

    const firstBody = receiver.requests[0]?.body ?? '';
    expect(JSON.parse(firstBody)).toEqual({ order: 'A-2002', greeting: 'Hello Sam' });
    receiver.setScript([{ status: 200, body: '{"ok":true}' }]);

    await page.getByRole('link', { name: 'Dead letters' }).last().click();
    await refreshUntil('dlq', 'retries_exhausted');
    await shot('dlq');
    const before = receiver.requests.length;
    await page.getByRole('button', { name: 'Replay all of this flow' }).click();
    await page.getByText('Replayed 1 webhook of welcome-series.').waitFor();
    const requests = await receiver.waitForRequests(before + 1);
    expect(requests.at(-1)?.headers['webhook-id']).toBe(requests[0]?.headers['webhook-id']);
    await page.getByRole('link', { name: 'Activity' }).click();
    await refreshUntil('activity', 'delivered');
  });

  it('holds the webhooks of a manual flow for review and releases them, several at once', async () => {
    await page.getByRole('link', { name: 'Graph' }).click();
    await page.getByRole('button', { name: 'Set manual' }).click();
    await waitFor(() => page.getByRole('button', { name: 'Set manual' }).isDisabled(), {
      what: 'the flow to be manual',
    });
    await page.getByRole('link', { name: 'Review queue' }).last().click();
    const held = page.getByTestId('review').getByRole('checkbox', { name: /^Select (?!all)/ });
    // The trigger follows the flow topic on its own: events sent before it has the manual
    // version are delivered, so send events until two are held.
    await waitFor(
      async () => {
        if ((await held.count()) >= 2) return true;
        const event = placedOrder();
        await produce(testKafka(), `${h.prefix}events`, [
          { key: event.profile.id ?? null, value: JSON.stringify(event) },
        ]);
        await page.getByRole('button', { name: 'Refresh' }).click();
        await page.locator('[data-testid="review"][aria-busy="false"]').waitFor();
        return false;
      },
      { timeoutMs: 30_000, intervalMs: 1000, what: 'two held webhooks in the review queue' },
    );
    const heldIds = await page.getByTestId('review').locator('td.mono').allTextContents();
    const received = (id: string) => receiver.requests.some((r) => r.headers['webhook-id'] === id);
    expect(heldIds.filter(received)).toEqual([]); // held, not sent
    await shot('review');
    await page.getByRole('checkbox', { name: 'Select all on this page' }).check();
    await page.getByRole('button', { name: `Release selected (${heldIds.length})` }).click();
    await page.getByText(`Released ${heldIds.length} of ${heldIds.length}.`).waitFor();
    await waitFor(() => heldIds.every(received), { what: 'the released webhooks delivered' });
  });

  it('shows the audit trail with who changed the webhook and with which factors', async () => {
    await page.getByRole('link', { name: 'Audit trail' }).click();
    const update = page.getByRole('row').filter({ hasText: 'flow.update' });
    await update.waitFor();
    await expect(update.textContent()).resolves.toMatch(/mia@example\.com \(manager\).*pwd, otp/);
    await shot('audit');
  });
});
