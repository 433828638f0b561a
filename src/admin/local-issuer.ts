// The embedded sign-in for local use (no FLOWHOOK_OIDC_ISSUER, admin API on loopback only):
// a real OpenID Connect provider (oidc-provider) mounted at /oidc of the admin API, for one
// local user, with a password and a TOTP second factor (otplib).
//
// On first start the user is enrolled: a random password and a TOTP secret are generated,
// stored in FLOWHOOK_ADMIN_STATE_DIR/local-user.json (mode 0600; the password as a scrypt hash)
// and printed once, with the otpauth:// URI for an authenticator app. The issuer's signing key
// is kept beside it, so tokens survive a restart. A token is obtained with
//   POST /oidc/token  grant_type=urn:flowhook:grant-type:password-totp  client_id=local
//                     username=local  password=…  totp=123456
// and carries amr ["pwd","otp"] and the owner role. A TOTP code is accepted once.
//
// The web console signs in with the authorization code flow and PKCE (public client `console`,
// redirecting to <admin URL>/console/): the issuer's login page (/oidc/interaction/UID) asks for
// the same password and TOTP code; the grant of the console's scopes is implicit (first party).
//
// oidc-provider (and @scure/base under otplib) are published as ES modules only; they are loaded
// with import() when the local issuer starts (Node 20.19+ loads them from CommonJS), so nothing
// else — jest included — loads them.

import { generateKeyPairSync, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';

export const LOCAL_GRANT_TYPE = 'urn:flowhook:grant-type:password-totp';
export const LOCAL_CLIENT_ID = 'local';
export const LOCAL_USER = 'local';
export const LOCAL_CONSOLE_CLIENT_ID = 'console';

type Otplib = typeof import('otplib');
type ProviderClass = InstanceType<typeof import('oidc-provider').default>;

interface LocalUserFile {
  username: string;
  password_salt: string;
  password_scrypt: string;
  totp_secret: string;
  created_at: string;
}

export interface Enrolment {
  username: string;
  password: string;
  totpSecret: string;
  otpauthUri: string;
  file: string;
}

function writePrivate(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** The local user: enrolled on first use (returns the enrolment to print), then loaded. */
export class LocalUser {
  private lastTimeStep = -1;

  private constructor(
    private readonly user: LocalUserFile,
    private readonly otp: Otplib,
  ) {}

  static open(
    stateDir: string,
    otp: Otplib,
  ): { user: LocalUser; enrolment: Enrolment | undefined } {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const file = join(stateDir, 'local-user.json');
    if (existsSync(file)) {
      return {
        user: new LocalUser(JSON.parse(readFileSync(file, 'utf8')) as LocalUserFile, otp),
        enrolment: undefined,
      };
    }
    const password = randomBytes(18).toString('base64url');
    const salt = randomBytes(16).toString('base64url');
    const totpSecret = otp.generateSecret();
    const stored: LocalUserFile = {
      username: LOCAL_USER,
      password_salt: salt,
      password_scrypt: scryptSync(password, salt, 32).toString('base64url'),
      totp_secret: totpSecret,
      created_at: new Date().toISOString(),
    };
    writePrivate(file, stored);
    const otpauthUri = otp.generateURI({
      issuer: 'flowhook',
      label: LOCAL_USER,
      secret: totpSecret,
    });
    return {
      user: new LocalUser(stored, otp),
      enrolment: { username: LOCAL_USER, password, totpSecret, otpauthUri, file },
    };
  }

  /** Password and a TOTP code not used before (±1 step of clock drift). */
  check(username: unknown, password: unknown, totp: unknown): boolean {
    if (username !== this.user.username || typeof password !== 'string' || typeof totp !== 'string')
      return false;
    const expected = Buffer.from(this.user.password_scrypt, 'base64url');
    const given = scryptSync(password, this.user.password_salt, 32);
    if (!timingSafeEqual(expected, given)) return false;
    const result = this.otp.verifySync({
      secret: this.user.totp_secret,
      token: totp.trim(),
      epochTolerance: 30,
    });
    if (!result.valid) return false;
    const step = Math.floor(Date.now() / 30_000) + result.delta;
    if (step <= this.lastTimeStep) return false;
    this.lastTimeStep = step;
    return true;
  }
}

function issuerKey(stateDir: string): Record<string, unknown> {
  const file = join(stateDir, 'issuer-key.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = {
    ...privateKey.export({ format: 'jwk' }),
    kid: randomBytes(8).toString('hex'),
    alg: 'ES256',
    use: 'sig',
  };
  writePrivate(file, jwk);
  return jwk;
}

export function enrolmentText(e: Enrolment, tokenUrl: string): string {
  return [
    '',
    'flowhook admin: local sign-in enrolled (first start; shown only this once).',
    `  user:      ${e.username} (role owner)`,
    `  password:  ${e.password}`,
    `  TOTP:      add this to an authenticator app: ${e.otpauthUri}`,
    `             (secret ${e.totpSecret})`,
    `  stored in: ${e.file}`,
    '  token:     curl -s ' +
      `-d grant_type=${LOCAL_GRANT_TYPE} -d client_id=${LOCAL_CLIENT_ID} -d username=${e.username} ` +
      `-d password=… -d totp=CODE ${tokenUrl}`,
    '',
  ].join('\n');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > 16_384) req.destroy(new Error('sign-in form too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
  });
  res.end(html);
}

/** The local sign-in page: user, password and the authenticator app's code. */
function loginHtml(action: string, error?: string, noForm = false): string {
  const alert = error ? `<p role="alert" class="error">${escapeHtml(error)}</p>` : '';
  const form = noForm
    ? ''
    : `<form method="post" action="${escapeHtml(action)}">
  <label for="username">User</label><input id="username" name="username" value="${LOCAL_USER}" autocomplete="username" required>
  <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
  <label for="totp">Code from your authenticator app</label><input id="totp" name="totp" inputmode="numeric" pattern="[0-9]{6}" autocomplete="one-time-code" required>
  <button type="submit">Sign in</button>
</form>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in · flowhook</title>
<style>body{font:16px system-ui,sans-serif;background:#f4f5f7;color:#1b1f24;display:grid;place-items:center;min-height:100vh;margin:0}
main{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0003;width:min(22rem,90vw)}
label{display:block;margin:.8rem 0 .2rem;font-weight:600}input{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #6b7280;border-radius:4px;font:inherit}
button{margin-top:1.2rem;width:100%;padding:.6rem;background:#1d4ed8;color:#fff;border:0;border-radius:4px;font:inherit;font-weight:600;cursor:pointer}
button:focus-visible,input:focus-visible{outline:3px solid #f59e0b;outline-offset:1px}.error{color:#b91c1c;font-weight:600}</style></head>
<body><main><h1>flowhook</h1><p>Local sign-in: password and a second factor.</p>${alert}${form}</main></body></html>`;
}

export interface LocalIssuerOptions {
  /** e.g. http://127.0.0.1:8081/oidc */
  issuer: string;
  audience: string;
  roleClaim: string;
  stateDir: string;
  /** Where the console may return after sign-in (its /console/ URLs on this server). */
  consoleRedirectUris: string[];
  /** Where the first start's enrolment is written (never the log: it holds the secrets). */
  print: (text: string) => void;
}

export interface LocalIssuer {
  /** The RFC 8707 resource indicator of the admin API here (tokens for it carry the audience). */
  resource: string;
  /** Handles a request whose URL starts with the issuer's path. */
  handle(req: IncomingMessage, res: ServerResponse): void;
}

export async function startLocalIssuer(options: LocalIssuerOptions): Promise<LocalIssuer> {
  const { default: Provider, errors } = await import('oidc-provider');
  const mount = new URL(options.issuer).pathname.replace(/\/$/, '');
  // A resource indicator must be an absolute URI; the audience (default "flowhook") need not be.
  const resource = `${new URL(options.issuer).origin}/api`;
  const { user, enrolment } = LocalUser.open(options.stateDir, await import('otplib'));
  const resourceInfo = {
    audience: options.audience,
    scope: 'api',
    accessTokenFormat: 'jwt' as const,
    accessTokenTTL: 8 * 3600,
    jwt: { sign: { alg: 'ES256' as const } },
  };
  const provider = new Provider(options.issuer, {
    clients: [
      {
        client_id: LOCAL_CONSOLE_CLIENT_ID,
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        redirect_uris: options.consoleRedirectUris,
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
      },
      {
        client_id: LOCAL_CLIENT_ID,
        token_endpoint_auth_method: 'none',
        grant_types: [LOCAL_GRANT_TYPE],
        redirect_uris: [],
        response_types: [],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [issuerKey(options.stateDir)] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    interactions: { url: (_ctx, interaction) => `${mount}/interaction/${interaction.uid}` },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    // The console is this server's own client: its scopes are granted with the sign-in.
    loadExistingGrant: async (ctx): Promise<InstanceType<ProviderClass['Grant']> | undefined> => {
      const { client, session, provider } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const existing = session.grantIdFor(client.clientId);
      if (existing) return provider.Grant.find(existing);
      const grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope('openid');
      grant.addResourceScope(resource, 'api');
      await grant.save();
      session.grantIdFor(client.clientId, grant.jti);
      return grant;
    },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: () => resourceInfo,
      },
    },
    ttl: { ClientCredentials: resourceInfo.accessTokenTTL },
    // Only the password+TOTP grant below issues tokens (client_credentials is not enabled).
    extraTokenClaims: () => ({ [options.roleClaim]: 'owner', amr: ['pwd', 'otp'] }),
  });
  provider.registerGrantType(
    LOCAL_GRANT_TYPE,
    async (ctx) => {
      const params = ctx.oidc.params as Record<string, unknown>;
      if (!user.check(params.username, params.password, params.totp))
        throw new errors.InvalidGrant(
          'wrong user name, password or TOTP code (a code is accepted once)',
        );
      const token = new provider.ClientCredentials({ client: ctx.oidc.client, scope: 'api' });
      token.resourceServer = new provider.ResourceServer(options.audience, resourceInfo);
      ctx.oidc.entity('ClientCredentials', token);
      const value = await token.save();
      ctx.body = {
        access_token: value,
        token_type: 'Bearer',
        expires_in: token.expiration,
        scope: 'api',
      };
    },
    ['username', 'password', 'totp'],
  );
  if (enrolment) options.print(enrolmentText(enrolment, `${options.issuer}/token`));
  const callback = provider.callback();
  const loginPage = async (req: IncomingMessage, res: ServerResponse, uid: string) => {
    await provider.interactionDetails(req, res); // 400s an interaction that is not this browser's
    if (req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      if (user.check(form.get('username'), form.get('password'), form.get('totp'))) {
        await provider.interactionFinished(
          req,
          res,
          { login: { accountId: LOCAL_USER, amr: ['pwd', 'otp'] } },
          { mergeWithLastSubmission: false },
        );
        return;
      }
      sendHtml(
        res,
        401,
        loginHtml(
          `${mount}/interaction/${uid}`,
          'Wrong user name, password or code (a code is accepted once).',
        ),
      );
      return;
    }
    sendHtml(res, 200, loginHtml(`${mount}/interaction/${uid}`));
  };
  return {
    resource,
    handle(req, res) {
      // Mounted below `mount`: the provider sees paths relative to it.
      (req as IncomingMessage & { originalUrl?: string }).originalUrl = req.url;
      req.url = (req.url ?? '/').slice(mount.length) || '/';
      const interaction = /^\/interaction\/([\w-]+)$/.exec(req.url.split('?')[0] ?? '');
      if (interaction?.[1]) {
        const uid = interaction[1];
        loginPage(req, res, uid).catch((err: unknown) => {
          if (res.headersSent) return void res.destroy();
          sendHtml(
            res,
            400,
            loginHtml(
              `${mount}/interaction/${uid}`,
              `Sign-in failed: ${(err as Error).message}. Start again from the console.`,
              true,
            ),
          );
        });
        return;
      }
      void callback(req, res);
    },
  };
}
