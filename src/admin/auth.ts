// Sign-in: `Authorization: Bearer <JWT>` verified with jose against the issuer's JWKS (found
// through its OpenID discovery document): signature by a key in the JWKS, one of the allowed
// asymmetric algorithms (never `none`, never HMAC: a shared secret would let anyone holding it
// mint tokens), `iss`, `aud`, and `exp`/`nbf` with a small clock tolerance.
//
// jose 5 (not 6): version 6 ships as ES modules only, which the CommonJS build and jest
// cannot load; 5.x is maintained and exposes the same API.

import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { AuthenticationError } from '../errors';
import { roleFromClaims, type Principal } from './policy';

/** Turns a request's Authorization header into the principal it proves, or throws. */
export interface Authenticator {
  authenticate(authorization: string | undefined): Promise<Principal>;
}

export interface OidcSettings {
  issuer: string;
  audience: string;
  roleClaim: string;
  algorithms: string[];
  /** Seconds of clock skew allowed on exp/nbf/iat. Default 30. */
  clockToleranceSec?: number;
  /** The verifier's clock (tests). Default: the system clock. */
  now?: () => Date;
  /** Replaces fetch for the discovery document (tests). */
  fetchJson?: (url: string) => Promise<unknown>;
}

const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$|^EdDSA$/;

export function bearerToken(authorization: string | undefined): string {
  const m = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(authorization ?? '');
  if (!m) {
    throw new AuthenticationError(
      authorization
        ? 'the Authorization header is not "Bearer <token>"'
        : 'sign-in required: send Authorization: Bearer <token>',
    );
  }
  return m[1] as string;
}

export function principalFromClaims(payload: JWTPayload, roleClaim: string): Principal {
  const amr = Array.isArray(payload.amr)
    ? payload.amr.filter((v): v is string => typeof v === 'string')
    : [];
  return {
    subject: payload.sub ?? '',
    email: typeof payload.email === 'string' ? payload.email : null,
    role: roleFromClaims(payload, roleClaim),
    amr,
    acr: typeof payload.acr === 'string' ? payload.acr : null,
  };
}

async function defaultFetchJson(url: string): Promise<unknown> {
  const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

export class OidcAuthenticator implements Authenticator {
  private jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  private readonly algorithms: string[];

  constructor(private readonly settings: OidcSettings) {
    this.algorithms = settings.algorithms.filter((a) => ASYMMETRIC.test(a));
    if (this.algorithms.length === 0) throw new Error('no asymmetric JWS algorithm allowed');
  }

  /** The JWKS named by the discovery document (fetched once; retried after a failure). */
  private keySet(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    this.jwks ??= (async () => {
      const base = this.settings.issuer.replace(/\/$/, '');
      const url = `${base}/.well-known/openid-configuration`;
      const doc = (await (this.settings.fetchJson ?? defaultFetchJson)(url)) as {
        issuer?: unknown;
        jwks_uri?: unknown;
      };
      if (doc.issuer !== this.settings.issuer || typeof doc.jwks_uri !== 'string') {
        throw new Error(`discovery document at ${url} names another issuer or no jwks_uri`);
      }
      return createRemoteJWKSet(new URL(doc.jwks_uri), { timeoutDuration: 10_000 });
    })();
    this.jwks.catch(() => (this.jwks = undefined));
    return this.jwks;
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const token = bearerToken(authorization);
    let jwks: ReturnType<typeof createRemoteJWKSet>;
    try {
      jwks = await this.keySet();
    } catch (err) {
      throw new AuthenticationError(
        `cannot verify tokens: the issuer's keys are unavailable (${(err as Error).message})`,
        { cause: err },
      );
    }
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: this.algorithms,
        clockTolerance: this.settings.clockToleranceSec ?? 30,
        requiredClaims: ['exp', 'sub'],
        ...(this.settings.now ? { currentDate: this.settings.now() } : {}),
      });
      return principalFromClaims(payload, this.settings.roleClaim);
    } catch (err) {
      throw new AuthenticationError(`invalid token: ${describeJoseError(err)}`, { cause: err });
    }
  }
}

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return `claim ${err.claim} ${err.reason === 'check_failed' ? 'does not match' : err.reason}`;
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'signed with an algorithm not allowed';
  if (err instanceof joseErrors.JWKSNoMatchingKey)
    return "signed by a key not in the issuer's JWKS";
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature does not verify';
  if (err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JWSInvalid)
    return 'malformed';
  return (err as Error).message;
}

/** Refuses every request with the reason: for a misconfigured or not-yet-started sign-in. */
export class RefusingAuthenticator implements Authenticator {
  constructor(private readonly reason: string) {}
  authenticate(): Promise<Principal> {
    return Promise.reject(new AuthenticationError(this.reason));
  }
}
