// Standard Webhooks signatures (https://www.standardwebhooks.com/):
//   webhook-id: <job id, stable across retries>
//   webhook-timestamp: <unix seconds of this attempt>
//   webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")> [space v1,… per key]
// where key = base64-decode(secret without its `whsec_` prefix). Several secrets (rotation)
// give several space-separated signatures; receivers accept any one that verifies.

import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import { SigningSecretError } from '../errors';
import { BoundedCache } from './bounded-cache';

export interface SignatureHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export interface SignInput {
  id: string;
  /** Unix time in seconds. */
  timestamp: number;
  body: string;
  /** `whsec_…` secrets; at least one. */
  secrets: readonly string[];
}

const SECRET_PREFIX = 'whsec_';

/** Decodes `whsec_<base64>` (the prefix is optional) into the HMAC key. */
export function decodeSigningSecret(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (encoded === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 === 1) {
    throw new SigningSecretError(
      'signing secret must be "whsec_" followed by the base64 of a non-empty key',
    );
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0) throw new SigningSecretError('signing secret decodes to an empty key');
  return key;
}

/**
 * Parses a list of signing secrets separated by spaces or commas (FLOWHOOK_SIGNING_SECRET,
 * or the value of a per-action secret) and checks each one decodes. Empty text → [].
 */
export function parseSigningSecrets(text: string | undefined): string[] {
  const secrets = (text ?? '').split(/[\s,]+/).filter((s) => s !== '');
  for (const secret of secrets) decodeSigningSecret(secret);
  return secrets;
}

/**
 * Decoded keys of the secrets signed with recently, so that a secret is not validated and
 * base64-decoded again for every attempt.
 */
const signingKeys = new BoundedCache<string, KeyObject>(64);
const signingKey = (secret: string): KeyObject =>
  signingKeys.get(secret, (s) => createSecretKey(decodeSigningSecret(s)));

function hmac(
  key: Buffer | KeyObject,
  id: string,
  timestamp: number | string,
  body: string,
): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64');
}

/** Signs one payload; throws SigningSecretError for an empty list or a malformed secret. */
export function signPayload(input: SignInput): SignatureHeaders {
  if (input.secrets.length === 0) throw new SigningSecretError('no signing secret given');
  if (!Number.isInteger(input.timestamp) || input.timestamp < 0) {
    throw new SigningSecretError('signature timestamp must be whole unix seconds');
  }
  const signatures = input.secrets.map(
    (secret) => `v1,${hmac(signingKey(secret), input.id, input.timestamp, input.body)}`,
  );
  return {
    'webhook-id': input.id,
    'webhook-timestamp': String(input.timestamp),
    'webhook-signature': signatures.join(' '),
  };
}

export interface VerifyInput {
  /** Request headers (names in any case). */
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Accepted secrets (any may match). */
  secrets: readonly string[];
  /** Current time, ms since the epoch. Default Date.now(). */
  now?: number;
  /** Allowed clock difference either way, seconds. Default 300 (the spec's 5 minutes). */
  toleranceSeconds?: number;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** Receiver-side check, as the Standard Webhooks libraries do it (used by tests and the CLI). */
export function verifySignature(input: VerifyInput): VerifyResult {
  const header = (name: string): string | undefined => {
    const entry = Object.entries(input.headers).find(([k]) => k.toLowerCase() === name);
    const value = entry?.[1];
    return Array.isArray(value) ? value[0] : value;
  };
  const id = header('webhook-id');
  const timestamp = header('webhook-timestamp');
  const signature = header('webhook-signature');
  if (!id || !timestamp || !signature) return { ok: false, reason: 'missing required headers' };
  if (!/^[0-9]+$/.test(timestamp)) return { ok: false, reason: 'invalid timestamp' };
  const nowSeconds = Math.floor((input.now ?? Date.now()) / 1000);
  const tolerance = input.toleranceSeconds ?? 300;
  const ts = Number(timestamp);
  if (ts < nowSeconds - tolerance) return { ok: false, reason: 'timestamp too old' };
  if (ts > nowSeconds + tolerance) return { ok: false, reason: 'timestamp too new' };
  let keys: Buffer[];
  try {
    keys = input.secrets.map(decodeSigningSecret);
  } catch {
    return { ok: false, reason: 'invalid secret' };
  }
  if (keys.length === 0) return { ok: false, reason: 'invalid secret' };
  const offered = signature
    .split(' ')
    .map((part) => part.split(','))
    .filter((pieces) => pieces[0] === 'v1' && pieces.length === 2 && pieces[1] !== '')
    .map((pieces) => Buffer.from(pieces[1] as string));
  for (const key of keys) {
    const expected = Buffer.from(hmac(key, id, timestamp, input.body));
    if (offered.some((o) => o.length === expected.length && timingSafeEqual(o, expected))) {
      return { ok: true };
    }
  }
  return { ok: false, reason: 'no matching signature' };
}
