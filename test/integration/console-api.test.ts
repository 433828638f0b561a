import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { BACKENDS, openTestStore } from '../support/activity-stores';
import { webhookFlow } from '../support/flows';
import { childEnv, spawnCli, type CliProcess } from '../support/cli';
import { brokers, uniqueName } from '../support/kafka';
import { startTestIssuer, type TestIssuer } from '../support/oidc';
import { freePort } from '../support/receiver';

// What the web console needs from the admin role: its built files, its sign-in configuration,
// the flows list (server-side search and paging, last-24h outcomes from the activity store), the
// preview of an unsaved flow, and the embedded issuer's authorization code + PKCE sign-in with
// password and TOTP. Real broker, real OIDC provider, real activity stores.

const now = Date.now();
const at = (msAgo: number) => new Date(now - msAgo).toISOString();
const record = (
  id: string,
  flow: string,
  status: ActivityRecord['status'],
  msAgo: number,
): ActivityRecord => ({ id, time: at(msAgo), status, flow_id: flow, action_id: 'crm' });

describe.each(BACKENDS)('activity store status counts (%s)', (backend) => {
  it('counts records per flow and status since a time, for the flows asked only', async () => {
    const t = await openTestStore(backend);
    try {
      await t.store.write({
        records: [
          record('1', 'a', 'delivered', 1000),
          record('2', 'a', 'delivered', 2000),
          record('3', 'a', 'failed', 3000),
          record('4', 'a', 'delivered', 30 * 3600_000), // older than the window
          record('5', 'b', 'waiting', 1000),
          record('6', 'c', 'delivered', 1000), // not asked for
        ],
        review: [],
      });
      const counts = await t.store.statusCounts(['a', 'b', 'z'], new Date(now - 24 * 3600_000));
      expect(counts).toEqual({ a: { delivered: 2, failed: 1 }, b: { waiting: 1 } });
      expect(await t.store.statusCounts([], new Date(0))).toEqual({});
    } finally {
      await t.drop();
    }
  });
});

describe('admin API for the console', () => {
  let issuer: TestIssuer;
  let h: AdminHarness;
  let token: string;

  beforeAll(async () => {
    issuer = await startTestIssuer({
      audience: AUDIENCE,
      roleClaim: ROLE_CLAIM,
      personas: { manager: { role: 'manager', email: 'mia@example.com', amr: ['pwd', 'otp'] } },
    });
    const activity = new FakeActivity({
      items: [
        record('r1', 'flow-b', 'delivered', 1000),
        record('r2', 'flow-b', 'dead_lettered', 1000),
        record('r3', 'flow-b', 'failed', 1000),
        record('r4', 'flow-b', 'waiting', 1000),
        record('r6', 'flow-b', 'scheduled_retry', 1000),
        record('r5', 'flow-b', 'delivered', 48 * 3600_000),
      ],
      next_cursor: null,
    });
    h = await startAdmin(
      issuer.issuer,
      { activity, review: new FakeReview(activity) },
      { FLOWHOOK_OIDC_CONSOLE_CLIENT_ID: 'my-console' },
    );
    token = await issuer.token('manager');
    for (const [id, name] of [
      ['flow-c', 'Cart reminder'],
      ['flow-a', 'Welcome'],
      ['flow-b', 'Order follow-up'],
    ]) {
      const flow = { ...webhookFlow({ id }), name };
      expect((await api(h, 'POST', '/api/flows', token, flow)).status).toBe(201);
    }
  });

  afterAll(async () => {
    await h?.stop();
    await issuer?.stop();
  });

  it('serves the built console below /console/ with a strict CSP, index.html for app paths', async () => {
    const index = await fetch(h.url('/console/'));
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toContain('text/html');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(index.headers.get('content-security-policy')).toContain(new URL(issuer.issuer).origin);
    const html = await index.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect(html).not.toMatch(/https?:\/\//); // nothing from a CDN: it works offline

    const js = await fetch(h.url(script as string));
    expect(js.headers.get('content-type')).toContain('text/javascript');
    expect(js.headers.get('cache-control')).toContain('immutable');
    const deep = await fetch(h.url('/console/flows/flow-a'));
    expect(await deep.text()).toBe(html);
    const escape = await fetch(h.url('/console/..%2f..%2fpackage.json'));
    expect(await escape.text()).toBe(html);
    expect((await fetch(h.url('/'), { redirect: 'manual' })).headers.get('location')).toBe(
      '/console/',
    );
  });

  it("tells the console its sign-in: the issuer and the console's public client", async () => {
    const r = await api(h, 'GET', '/api/sign-in', undefined);
    expect(r.body).toEqual({
      issuer: issuer.issuer,
      client_id: 'my-console',
      audience: AUDIENCE,
      resource: AUDIENCE,
      scope: 'openid',
      local: false,
    });
  });

  it('pages the flows list by id, searches it, and adds the last 24 h of outcomes', async () => {
    const first = await api(h, 'GET', '/api/flows?limit=2', token);
    expect(first.body.items.map((f: { id: string }) => f.id)).toEqual(['flow-a', 'flow-b']);
    expect(first.body.next_cursor).toBe('flow-b');
    expect(first.body.items[1].last_24h).toEqual({ delivered: 1, failed: 1, waiting: 1 });
    expect(first.body.items[0].last_24h).toEqual({ delivered: 0, failed: 0, waiting: 0 });
    const second = await api(h, 'GET', '/api/flows?limit=2&cursor=flow-b', token);
    expect(second.body).toMatchObject({ items: [{ id: 'flow-c' }], next_cursor: null });
    const found = await api(h, 'GET', '/api/flows?q=cart', token);
    expect(found.body.items.map((f: { name: string }) => f.name)).toEqual(['Cart reminder']);
    expect((await api(h, 'GET', '/api/flows?status=draft', token)).body.items).toEqual([]);
  });

  it('previews an unsaved flow, or answers its problems with their paths', async () => {
    const draft = webhookFlow({
      id: 'flow-a',
      webhooks: [
        { id: 'hook', url: 'https://crm.example.com/x', body: '{"o": "{{ event.OrderId }}"}' },
      ],
    });
    const event = {
      id: 'e1',
      metric: 'Placed Order',
      time: new Date().toISOString(),
      profile: { id: 'p1', email: 'sam@example.com' },
      properties: { OrderId: 'A-7' },
    };
    const ok = await api(h, 'POST', '/api/flows/draft-preview', token, { flow: draft, event });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, problems: [], requests: [{ body: { o: 'A-7' } }] });

    const bad = { ...draft, status: 'sometimes' };
    const refused = await api(h, 'POST', '/api/flows/draft-preview', token, { flow: bad, event });
    expect(refused.body).toMatchObject({ ok: false, requests: [] });
    expect(refused.body.problems[0].path).toBe('$.status');
    expect(
      (await api(h, 'POST', '/api/flows/draft-preview', undefined, { flow: draft, event })).status,
    ).toBe(401);
  });
});

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s), written out so the test does not trust otplib. */
function totp(base32: string, at = Date.now()): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, ''))
    bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g)?.map((b) => parseInt(b, 2)) ?? []);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const o = (mac[mac.length - 1] as number) & 0xf;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** A browser's cookie jar, enough for one issuer on one origin. */
class Cookies {
  private readonly jar = new Map<string, string>();
  take(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = (pair ?? '').indexOf('=');
      this.jar.set((pair ?? '').slice(0, eq), (pair ?? '').slice(eq + 1));
    }
  }
  header(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

describe('embedded local issuer: the console signs in with authorization code + PKCE', () => {
  // oidc-provider is an ES module jest cannot load: the admin role runs as `flowhook run`.
  let cli: CliProcess;
  let base = '';

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    cli = spawnCli(
      ['run', '--roles', 'admin'],
      childEnv({
        KAFKA_BROKERS: brokers().join(','),
        FLOWHOOK_TOPIC_PREFIX: `${uniqueName('console-local')}.`,
        FLOWHOOK_HTTP_PORT: '0',
        FLOWHOOK_ADMIN_PORT: String(port),
        FLOWHOOK_ADMIN_STATE_DIR: mkdtempSync(join(tmpdir(), 'flowhook-local-')),
      }),
    );
    await cli.waitForOutput(/running roles admin/);
  });
  afterAll(async () => {
    cli?.child.kill('SIGTERM');
    await cli?.exited;
  });

  it('asks for password and TOTP at its login page and gives the console a token with amr pwd, otp', async () => {
    const signIn = (await (await fetch(`${base}/api/sign-in`)).json()) as Record<string, string>;
    expect(signIn).toMatchObject({ client_id: 'console', local: true, scope: 'openid api' });
    const [, password = ''] = await cli.waitForOutput(/password: +(\S+)/);
    const [, secret = ''] = await cli.waitForOutput(/\(secret (\w+)\)/);
    const cookies = new Cookies();
    const go = async (url: string, init: RequestInit = {}) => {
      const res = await fetch(new URL(url, base), {
        ...init,
        redirect: 'manual',
        headers: { ...(init.headers as Record<string, string>), cookie: cookies.header() },
      });
      cookies.take(res);
      return res;
    };

    const verifier = randomBytes(32).toString('base64url');
    const redirectUri = `${base}/console/`;
    const authorize = new URL(`${signIn.issuer}/auth`);
    for (const [k, v] of Object.entries({
      client_id: 'console',
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: signIn.scope,
      state: 'st-1',
      resource: signIn.resource,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }))
      authorize.searchParams.set(k, v);
    const toLogin = await go(authorize.toString());
    const loginUrl = toLogin.headers.get('location') as string;
    expect(loginUrl).toMatch(/^\/oidc\/interaction\/[\w-]+$/);
    const page = await (await go(loginUrl)).text();
    expect(page).toContain('Code from your authenticator app');

    const post = (code: string) =>
      go(loginUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username: 'local', password, totp: code }).toString(),
      });
    const wrong = await post('000000');
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('Wrong user name, password or code');

    let res = await post(totp(secret));
    for (let hops = 0; hops < 5 && !res.headers.get('location')?.startsWith(redirectUri); hops++)
      res = await go(res.headers.get('location') as string);
    const back = new URL(res.headers.get('location') as string);
    expect(back.searchParams.get('state')).toBe('st-1');

    const tokenRes = await fetch(`${signIn.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: back.searchParams.get('code') as string,
        redirect_uri: redirectUri,
        client_id: 'console',
        code_verifier: verifier,
      }),
    });
    const body = (await tokenRes.json()) as { access_token?: string };
    expect(tokenRes.status).toBe(200);
    const me = await fetch(`${base}/api/me`, {
      headers: { authorization: `Bearer ${body.access_token}` },
    });
    expect(await me.json()).toMatchObject({
      subject: 'local',
      role: 'owner',
      amr: ['pwd', 'otp'],
      mfa: true,
    });
  });
});
