// Sign-in: OpenID Connect authorization code flow with PKCE (S256), as a public client of the
// issuer the admin API names at /api/sign-in. The access token lives in sessionStorage (this
// tab only, gone when it closes); nothing is kept in localStorage. A "fresh MFA sign-in" is the
// same flow with prompt=login, so the issuer asks for both factors again.

import type { SignIn } from './api';

const TOKEN = 'flowhook.token';
const PENDING = 'flowhook.pending';

interface Pending {
  state: string;
  verifier: string;
  tokenEndpoint: string;
  clientId: string;
  redirectUri: string;
  /** The console location (hash) to return to. */
  returnTo: string;
}

export function currentToken(): string | undefined {
  return sessionStorage.getItem(TOKEN) ?? undefined;
}

export function signOut(): void {
  sessionStorage.removeItem(TOKEN);
}

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

const randomString = () => base64url(crypto.getRandomValues(new Uint8Array(32)));

async function discovery(issuer: string) {
  const res = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  if (!res.ok) throw new Error(`the issuer's discovery document answered ${res.status}`);
  return (await res.json()) as { authorization_endpoint: string; token_endpoint: string };
}

export function redirectUri(): string {
  return `${location.origin}/console/`;
}

/** Leaves for the issuer's sign-in page; `fresh` makes it ask for every factor again. */
export async function startSignIn(config: SignIn, fresh = false): Promise<never> {
  const meta = await discovery(config.issuer);
  const verifier = randomString();
  const challenge = base64url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))),
  );
  const pending: Pending = {
    state: randomString(),
    verifier,
    tokenEndpoint: meta.token_endpoint,
    clientId: config.client_id,
    redirectUri: redirectUri(),
    returnTo: location.hash || '#/flows',
  };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(meta.authorization_endpoint);
  const params: Record<string, string> = {
    response_type: 'code',
    client_id: config.client_id,
    redirect_uri: pending.redirectUri,
    scope: config.scope,
    state: pending.state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  };
  // RFC 8707: an access token for the admin API (its aud).
  if (config.resource) params.resource = config.resource;
  if (fresh) params.prompt = 'login';
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  location.assign(url.toString());
  return new Promise<never>(() => undefined);
}

/**
 * On the way back from the issuer (?code=…&state=…): exchanges the code for a token with the
 * PKCE verifier. Returns false when this page load is not a sign-in callback.
 */
export async function completeSignIn(): Promise<boolean> {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  const error = params.get('error');
  if (!code && !error) return false;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null') as Pending | null;
  sessionStorage.removeItem(PENDING);
  const clean = () => {
    history.replaceState(null, '', `/console/${pending?.returnTo ?? ''}`);
    dispatchEvent(new HashChangeEvent('hashchange')); // the router follows the restored hash
  };
  if (error) {
    clean();
    throw new Error(`sign-in refused: ${params.get('error_description') ?? error}`);
  }
  if (!pending || params.get('state') !== pending.state) {
    clean();
    throw new Error('sign-in answer does not match the sign-in this tab started: sign in again');
  }
  const res = await fetch(pending.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: code ?? '',
      redirect_uri: pending.redirectUri,
      client_id: pending.clientId,
      code_verifier: pending.verifier,
    }),
  });
  const body = (await res.json()) as { access_token?: string; error_description?: string };
  clean();
  if (!res.ok || !body.access_token)
    throw new Error(`sign-in failed: ${body.error_description ?? res.status}`);
  sessionStorage.setItem(TOKEN, body.access_token);
  return true;
}
