import { generateKeyPair, SignJWT } from 'jose';
import { OidcAuthenticator } from '../../src/admin/auth';
import { api, AUDIENCE, ROLE_CLAIM, startAdmin, type AdminHarness } from '../support/admin';
import { webhookFlow } from '../support/flows';
import { startTestIssuer, type TestIssuer } from '../support/oidc';

// Sign-in against a real OpenID Connect provider (oidc-provider on loopback): each role, with
// and without MFA evidence, and the tokens that must be refused.

const MFA = ['pwd', 'otp'];
let issuer: TestIssuer;
let h: AdminHarness;
const token: Record<string, string> = {};

beforeAll(async () => {
  issuer = await startTestIssuer({
    audience: AUDIENCE,
    roleClaim: ROLE_CLAIM,
    personas: {
      owner: { role: 'owner', amr: MFA },
      admin: { role: 'admin', amr: MFA },
      manager: { role: 'manager', amr: MFA, email: 'mia@example.com' },
      analyst: { role: 'analyst', amr: MFA },
      viewer: { role: 'viewer', amr: MFA },
      'manager-no-mfa': { role: 'manager', amr: ['pwd'] },
      'manager-acr': { role: 'manager', amr: ['pwd'], acr: 'urn:example:loa:mfa' },
      'unknown-role': { role: 'superuser', amr: MFA },
    },
  });
  h = await startAdmin(issuer.issuer, {}, { FLOWHOOK_OIDC_MFA_ACR: 'urn:example:loa:mfa' });
  const personas = [
    'owner',
    'admin',
    'manager',
    'analyst',
    'viewer',
    'manager-no-mfa',
    'manager-acr',
    'unknown-role',
  ];
  for (const p of personas) token[p] = await issuer.token(p);
});

afterAll(async () => {
  await h?.stop();
  await issuer?.stop();
});

let n = 0;
const hookFlow = (id = `auth-${++n}`) =>
  webhookFlow({ id, webhooks: [{ id: 'crm', url: 'https://crm.example.com/in' }] });
/** A flow whose only action is an email (a pass-through step): no webhook. */
const plainFlow = (id = `plain-${++n}`) => {
  const doc = hookFlow(id) as { definition: { actions: unknown[] } };
  doc.definition.actions = [{ id: 'crm', type: 'send-email', links: { next: null }, data: {} }];
  return doc;
};

describe('roles', () => {
  it.each(['owner', 'admin', 'manager'])('%s with MFA creates a webhook flow', async (persona) => {
    const r = await api(h, 'POST', '/api/flows', token[persona], hookFlow());
    expect(r.status).toBe(201);
  });

  it.each(['analyst', 'viewer', 'unknown-role'])(
    '%s reads but may not create flows',
    async (persona) => {
      expect((await api(h, 'GET', '/api/flows', token[persona])).status).toBe(200);
      const r = await api(h, 'POST', '/api/flows', token[persona], plainFlow());
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('FLOWHOOK_ERR_FORBIDDEN');
      expect((await api(h, 'POST', '/api/dlq/replay', token[persona], {})).status).toBe(403);
    },
  );

  it('maps an unknown role to viewer', async () => {
    const me = await api(h, 'GET', '/api/me', token['unknown-role']);
    expect(me.body).toMatchObject({ role: 'viewer', may: { edit_flows: false } });
  });
});

describe('MFA for webhooks', () => {
  it('refuses a manager without MFA evidence a webhook flow, saying why', async () => {
    const r = await api(h, 'POST', '/api/flows', token['manager-no-mfa'], hookFlow());
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('FLOWHOOK_ERR_MFA_REQUIRED');
    expect(r.body.error.message).toMatch(/creates webhook action crm.*two-step authentication/);
  });

  it('lets a manager without MFA create a flow without webhooks and change its status, but not add a webhook', async () => {
    const created = await api(
      h,
      'POST',
      '/api/flows',
      token['manager-no-mfa'],
      plainFlow('no-mfa-flow'),
    );
    expect(created.status).toBe(201);
    const status = await api(h, 'PATCH', '/api/flows/no-mfa-flow/status', token['manager-no-mfa'], {
      status: 'draft',
    });
    expect(status.status).toBe(200);
    const withHook = { ...hookFlow('no-mfa-flow'), version: status.body.version };
    const refused = await api(
      h,
      'PUT',
      '/api/flows/no-mfa-flow',
      token['manager-no-mfa'],
      withHook,
    );
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FLOWHOOK_ERR_MFA_REQUIRED');
    expect((await api(h, 'PUT', '/api/flows/no-mfa-flow', token.manager, withHook)).status).toBe(
      200,
    );
  });

  it("refuses changing a webhook's URL without MFA, and accepts MFA evidence given as acr", async () => {
    const id = 'url-change';
    expect((await api(h, 'POST', '/api/flows', token.manager, hookFlow(id))).status).toBe(201);
    const moved = webhookFlow({
      id,
      webhooks: [{ id: 'crm', url: 'https://elsewhere.example.com/in' }],
    });
    const r = await api(h, 'PUT', `/api/flows/${id}`, token['manager-no-mfa'], {
      ...moved,
      version: 1,
    });
    expect(r.status).toBe(403);
    expect(r.body.error.message).toContain('changes the URL of webhook crm');
    expect(
      (await api(h, 'PUT', `/api/flows/${id}`, token['manager-acr'], { ...moved, version: 1 }))
        .status,
    ).toBe(200);
  });
});

describe('refused tokens', () => {
  const authenticator = (now?: () => Date) =>
    new OidcAuthenticator({
      issuer: issuer.issuer,
      audience: AUDIENCE,
      roleClaim: ROLE_CLAIM,
      algorithms: ['ES256'],
      now,
    });

  it('accepts a good token', async () => {
    await expect(authenticator().authenticate(`Bearer ${token.manager}`)).resolves.toMatchObject({
      subject: 'manager',
      role: 'manager',
      email: 'mia@example.com',
      amr: MFA,
    });
  });

  it('refuses a token for another audience', async () => {
    const other = await issuer.token('manager', 'urn:other:api');
    const r = await api(h, 'GET', '/api/me', other);
    expect(r.status).toBe(401);
    expect(r.body.error).toMatchObject({
      code: 'FLOWHOOK_ERR_UNAUTHENTICATED',
      message: 'invalid token: claim aud does not match',
    });
  });

  it('refuses an expired token (beyond the clock tolerance)', async () => {
    const later = () => new Date(Date.now() + 3_600_000);
    await expect(
      authenticator(later).authenticate(`Bearer ${token.manager}`),
    ).rejects.toMatchObject({
      code: 'FLOWHOOK_ERR_UNAUTHENTICATED',
      message: 'invalid token: expired',
    });
  });

  it('refuses a token signed by a key that is not in the JWKS', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const claims = { [ROLE_CLAIM]: 'owner', amr: MFA };
    for (const kid of ['test-issuer-key', 'unknown-key']) {
      const forged = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid })
        .setIssuer(issuer.issuer)
        .setAudience(AUDIENCE)
        .setSubject('mallory')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
      const r = await api(h, 'GET', '/api/me', forged);
      expect(r.status).toBe(401);
      expect(r.body.error.message).toMatch(
        /signature does not verify|key not in the issuer's JWKS/,
      );
    }
  });

  it('refuses alg none and HMAC tokens', async () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const payload = {
      iss: issuer.issuer,
      aud: AUDIENCE,
      sub: 'mallory',
      exp: Math.floor(Date.now() / 1000) + 300,
      [ROLE_CLAIM]: 'owner',
      amr: MFA,
    };
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
    const r = await api(h, 'POST', '/api/flows', none, hookFlow());
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('FLOWHOOK_ERR_UNAUTHENTICATED');

    const hs = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('x'.repeat(32)));
    const r2 = await api(h, 'GET', '/api/me', hs);
    expect(r2.status).toBe(401);
    expect(r2.body.error.message).toBe('invalid token: signed with an algorithm not allowed');
  });
});
