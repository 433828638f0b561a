import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

/** The test issuer's login page: any persona name as user, this password, this code for MFA. */
export const PERSONA_PASSWORD = 'test-password';
export const SECOND_FACTOR_CODE = '123456';

/** A test identity: what the issuer puts in its tokens. */
export interface Persona {
  role?: string;
  email?: string;
  amr?: string[];
  acr?: string;
}

export interface TestIssuer {
  issuer: string;
  /** A JWT access token for the persona (client id), for `resource` (default: the audience). */
  token(persona: string, resource?: string): Promise<string>;
  stop(): Promise<void>;
}

/** Starts the real OIDC provider of test/support/oidc-issuer.mjs on loopback. */
export async function startTestIssuer(options: {
  audience: string;
  roleClaim: string;
  personas: Record<string, Persona>;
  /** The web console's public client (authorization code + PKCE), when a test needs it. */
  console?: { clientId: string; redirectUris: string[] };
}): Promise<TestIssuer> {
  const worker = new Worker(join(__dirname, 'oidc-issuer.mjs'), { workerData: options });
  const issuer = await new Promise<string>((resolve, reject) => {
    worker.once('message', (m: { issuer: string }) => resolve(m.issuer));
    worker.once('error', reject);
  });
  return {
    issuer,
    async token(persona, resource = options.audience) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: persona,
          client_secret: 'test-secret',
          resource,
          scope: 'api',
        }),
      });
      const body = (await res.json()) as { access_token?: string; error_description?: string };
      if (!res.ok || !body.access_token)
        throw new Error(`token for ${persona}: ${res.status} ${JSON.stringify(body)}`);
      return body.access_token;
    },
    async stop() {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('stop');
      await exited;
    },
  };
}
