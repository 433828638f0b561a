// A real OpenID Connect provider (the `oidc-provider` library) on loopback, for the admin API's
// sign-in tests. It runs in a worker thread of the test process: oidc-provider is published as
// ES modules only, which jest's CommonJS module system cannot load, while a worker thread loads
// it natively.
//
// Each test persona is a client of the provider; the client-credentials grant with a resource
// indicator issues a JWT access token for it (signed with the provider's own key, published in
// its JWKS through discovery), and extraTokenClaims adds the persona's role, email, amr and acr.
// workerData: { audience, personas: { [clientId]: { role?, email?, amr?, acr? } } }.
//
// With workerData.console ({ clientId, redirectUris }), a public client for the web console
// signs personas in with the authorization code flow and PKCE: the login page takes a persona
// name as the user, the password PERSONA_PASSWORD, and optionally the second-factor code
// SECOND_FACTOR_CODE; the token's amr is ["pwd","otp"] with the code and ["pwd"] without.

/* global console, URLSearchParams */
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import Provider from 'oidc-provider';

const { audience, personas, roleClaim, console: consoleClient } = workerData;
const PERSONA_PASSWORD = 'test-password'; // as in oidc.ts
const SECOND_FACTOR_CODE = '123456';

// The library's advice for production set-ups (persistent adapter, Node 22) is noise here.
for (const level of ['warn', 'info']) {
  const original = console[level];
  console[level] = (...args) => {
    if (!/^oidc-provider (WARNING|NOTICE)/.test(String(args[0]))) original(...args);
  };
}

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = {
  ...privateKey.export({ format: 'jwk' }),
  kid: 'test-issuer-key',
  alg: 'ES256',
  use: 'sig',
};

const provider = new Provider(issuer, {
  clients: [
    ...(consoleClient
      ? [
          {
            client_id: consoleClient.clientId,
            token_endpoint_auth_method: 'none',
            grant_types: ['authorization_code'],
            response_types: ['code'],
            redirect_uris: consoleClient.redirectUris,
            id_token_signed_response_alg: 'ES256',
          },
        ]
      : []),
    ...Object.keys(personas).map((clientId) => ({
      client_id: clientId,
      client_secret: 'test-secret',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: 'ES256',
    })),
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: ['test-cookie-key'] },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  loadExistingGrant: async (ctx) => {
    const { client, session } = ctx.oidc;
    if (!client || !session?.accountId) return undefined;
    const existing = session.grantIdFor(client.clientId);
    if (existing) return ctx.oidc.provider.Grant.find(existing);
    const grant = new ctx.oidc.provider.Grant({
      clientId: client.clientId,
      accountId: session.accountId,
    });
    grant.addOIDCScope('openid');
    grant.addResourceScope(audience, 'api');
    await grant.save();
    session.grantIdFor(client.clientId, grant.jti);
    return grant;
  },
  ttl: { ClientCredentials: 600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => ({
        audience: resource,
        scope: 'api',
        accessTokenFormat: 'jwt',
        accessTokenTTL: 600,
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  extraTokenClaims: (ctx, token) => {
    // A console sign-in: the persona signed in as, and the factors it gave at the login page.
    const code = ctx.oidc.entities.AuthorizationCode;
    const p = personas[token.accountId ?? token.clientId] ?? {};
    const amr = code ? code.amr : p.amr;
    const claims = {};
    if (p.role !== undefined) claims[roleClaim] = p.role;
    if (p.email !== undefined) claims.email = p.email;
    if (amr !== undefined) claims.amr = amr;
    if (p.acr !== undefined) claims.acr = p.acr;
    return claims;
  },
});
const callback = provider.callback();

const page = (body) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test issuer sign-in</title></head><body><main><h1>Test issuer</h1>${body}</main></body></html>`;

async function loginPage(req, res, uid) {
  await provider.interactionDetails(req, res);
  let error = '';
  if (req.method === 'POST') {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const form = new URLSearchParams(raw);
    const user = form.get('username') ?? '';
    if (Object.hasOwn(personas, user) && form.get('password') === PERSONA_PASSWORD) {
      const secondFactor = form.get('code') === SECOND_FACTOR_CODE;
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: user, amr: secondFactor ? ['pwd', 'otp'] : ['pwd'] } },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    error = '<p role="alert">Wrong user or password.</p>';
  }
  res.writeHead(error ? 401 : 200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(
    page(`${error}<form method="post" action="/interaction/${uid}">
<label for="username">User</label><input id="username" name="username">
<label for="password">Password</label><input id="password" name="password" type="password">
<label for="code">Second-factor code (optional)</label><input id="code" name="code">
<button type="submit">Sign in</button></form>`),
  );
}

server.on('request', (req, res) => {
  const interaction = /^\/interaction\/([\w-]+)$/.exec((req.url ?? '').split('?')[0]);
  if (interaction) {
    loginPage(req, res, interaction[1]).catch((err) => {
      res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page(`<p role="alert">${String(err.message).replace(/[<>&]/g, '')}</p>`));
    });
    return;
  }
  callback(req, res);
});

parentPort.on('message', (message) => {
  if (message === 'stop') server.close(() => parentPort.close());
});
parentPort.postMessage({ issuer });
