// A real OpenID Connect provider (the `oidc-provider` library) on loopback, for the admin API's
// sign-in tests. It runs in a worker thread of the test process: oidc-provider is published as
// ES modules only, which jest's CommonJS module system cannot load, while a worker thread loads
// it natively.
//
// Each test persona is a client of the provider; the client-credentials grant with a resource
// indicator issues a JWT access token for it (signed with the provider's own key, published in
// its JWKS through discovery), and extraTokenClaims adds the persona's role, email, amr and acr.
// workerData: { audience, personas: { [clientId]: { role?, email?, amr?, acr? } } }.

/* global console */
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import Provider from 'oidc-provider';

const { audience, personas, roleClaim } = workerData;

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
  clients: Object.keys(personas).map((clientId) => ({
    client_id: clientId,
    client_secret: 'test-secret',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'ES256',
  })),
  jwks: { keys: [jwk] },
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
  extraTokenClaims: (_ctx, token) => {
    const p = personas[token.clientId] ?? {};
    const claims = {};
    if (p.role !== undefined) claims[roleClaim] = p.role;
    if (p.email !== undefined) claims.email = p.email;
    if (p.amr !== undefined) claims.amr = p.amr;
    if (p.acr !== undefined) claims.acr = p.acr;
    return claims;
  },
});
server.on('request', provider.callback());

parentPort.on('message', (message) => {
  if (message === 'stop') server.close(() => parentPort.close());
});
parentPort.postMessage({ issuer });
