// Signed flows. With FLOWHOOK_FLOW_SIGNING_KEY set, the admin role (and `flowhook flows apply`)
// signs every flow it publishes; the trigger's flow table then refuses any flow with a webhook
// action that is unsigned or badly signed, so writing to flowhook.flows directly cannot bypass
// the admin API's roles and MFA checks.
//
// Ed25519 rather than HMAC: the trigger holds only public keys, so a compromised trigger (or
// anyone who can read its configuration) still cannot sign a flow.
//
// The signature is the document's `signature` member:
//   { alg: "Ed25519", key_id, publisher, signed_at, version, content_sha256, sig }
// content_sha256 is the SHA-256 of the document without `signature`, serialised canonically
// (object keys sorted, no whitespace); sig is the base64url Ed25519 signature of the canonical
// serialisation of { content_sha256, flow_id, key_id, publisher, signed_at, version }.
// key_id is the first 16 hex digits of the SHA-256 of the public key (SPKI DER), so rotation
// is: add the new public key to FLOWHOOK_FLOW_VERIFY_KEYS everywhere, switch the admin's
// FLOWHOOK_FLOW_SIGNING_KEY, re-publish (or let edits re-sign), then drop the old public key.

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as edSign,
  verify as edVerify,
  type KeyObject,
} from 'node:crypto';
import type { ValidationProblem } from './types';

export interface FlowSignature {
  alg: 'Ed25519';
  key_id: string;
  publisher: string;
  signed_at: string;
  version: number;
  content_sha256: string;
  sig: string;
}

export type SignatureRefusal =
  'unsigned' | 'unknown_key' | 'bad_signature' | 'content_mismatch' | 'older_than_current';

/** JSON with object keys sorted at every level: the same value always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function contentSha256(doc: Record<string, unknown>): string {
  const rest: Record<string, unknown> = { ...doc };
  delete rest.signature;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

function signedPayload(flowId: unknown, s: Omit<FlowSignature, 'alg' | 'sig'>): Buffer {
  return Buffer.from(
    canonicalJson({
      content_sha256: s.content_sha256,
      flow_id: flowId,
      key_id: s.key_id,
      publisher: s.publisher,
      signed_at: s.signed_at,
      version: s.version,
    }),
  );
}

export class FlowSigner {
  private readonly privateKey: KeyObject;
  readonly keyId: string;

  /** `pem`: an Ed25519 private key (PKCS#8 PEM). */
  constructor(pem: string) {
    this.privateKey = createPrivateKey(pem);
    if (this.privateKey.asymmetricKeyType !== 'ed25519')
      throw new Error('FLOWHOOK_FLOW_SIGNING_KEY must be an Ed25519 private key');
    this.keyId = keyIdOf(createPublicKey(this.privateKey));
  }

  publicKey(): KeyObject {
    return createPublicKey(this.privateKey);
  }

  /** The document with its `signature` (any previous one replaced). */
  sign(doc: Record<string, unknown>, publisher: string, now = new Date()): Record<string, unknown> {
    const fields = {
      key_id: this.keyId,
      publisher,
      signed_at: now.toISOString(),
      version: typeof doc.version === 'number' ? doc.version : 0,
      content_sha256: contentSha256(doc),
    };
    const sig = edSign(null, signedPayload(doc.id, fields), this.privateKey).toString('base64url');
    const signature: FlowSignature = { alg: 'Ed25519', ...fields, sig };
    const rest: Record<string, unknown> = { ...doc };
    delete rest.signature;
    return { ...rest, signature };
  }
}

export type VerifyResult =
  { ok: true; signature: FlowSignature } | { ok: false; reason: SignatureRefusal; message: string };

export class FlowVerifier {
  private readonly keys = new Map<string, KeyObject>();

  /** `pems`: Ed25519 public keys (SPKI PEM) — or private keys, whose public half is used. */
  constructor(pems: readonly string[]) {
    for (const pem of pems) {
      const key = pem.includes('PRIVATE KEY')
        ? createPublicKey(createPrivateKey(pem))
        : createPublicKey(pem);
      if (key.asymmetricKeyType !== 'ed25519')
        throw new Error('flow verification keys must be Ed25519 public keys');
      this.keys.set(keyIdOf(key), key);
    }
  }

  get size(): number {
    return this.keys.size;
  }

  verify(doc: Record<string, unknown>): VerifyResult {
    const s = doc.signature as Partial<FlowSignature> | undefined;
    if (s === undefined || s === null || typeof s !== 'object')
      return { ok: false, reason: 'unsigned', message: 'the flow is not signed' };
    const key = typeof s.key_id === 'string' ? this.keys.get(s.key_id) : undefined;
    if (!key) {
      return {
        ok: false,
        reason: 'unknown_key',
        message: `signed by key ${String(s.key_id)}, which is not among the verification keys`,
      };
    }
    if (s.content_sha256 !== contentSha256(doc) || s.version !== doc.version) {
      return {
        ok: false,
        reason: 'content_mismatch',
        message: 'the flow was changed after it was signed',
      };
    }
    const fields = {
      key_id: s.key_id as string,
      publisher: String(s.publisher),
      signed_at: String(s.signed_at),
      version: s.version as number,
      content_sha256: s.content_sha256,
    };
    let valid = false;
    try {
      valid = edVerify(
        null,
        signedPayload(doc.id, fields),
        key,
        Buffer.from(String(s.sig), 'base64url'),
      );
    } catch {
      valid = false;
    }
    if (!valid)
      return { ok: false, reason: 'bad_signature', message: 'the signature does not verify' };
    return { ok: true, signature: { alg: 'Ed25519', ...fields, sig: String(s.sig) } };
  }
}

/**
 * What the flow table asks of a document that has a webhook action when signing is on:
 * problems (path $.signature) when it must be refused. `current` is the version in force.
 */
export interface FlowSignaturePolicy {
  check(doc: Record<string, unknown>, current: Record<string, unknown> | null): ValidationProblem[];
}

export interface FlowSigningSettings {
  signingKey: string | undefined;
  verifyKeys: readonly string[];
}

/**
 * The policy for the settings: undefined when signing is off (no signing key and no
 * verification keys). `refusals` counts refusals by reason (flowhook_flow_signature_refused_total).
 */
export function flowSignaturePolicy(
  settings: FlowSigningSettings,
  refusals?: { inc(labels: { reason: SignatureRefusal }): void },
): FlowSignaturePolicy | undefined {
  const pems = [...settings.verifyKeys, ...(settings.signingKey ? [settings.signingKey] : [])];
  if (pems.length === 0) return undefined;
  const verifier = new FlowVerifier(pems);
  const refuse = (reason: SignatureRefusal, message: string): ValidationProblem[] => {
    refusals?.inc({ reason });
    return [
      {
        path: '$.signature',
        message: `${message}: flows with a webhook action must be published through the admin API when flow signing is on (${reason})`,
      },
    ];
  };
  return {
    check(doc, current) {
      const result = verifier.verify(doc);
      if (!result.ok) return refuse(result.reason, result.message);
      const previous = (current?.signature as Partial<FlowSignature> | undefined)?.signed_at;
      if (
        typeof previous === 'string' &&
        Date.parse(result.signature.signed_at) < Date.parse(previous)
      ) {
        return refuse(
          'older_than_current',
          `signed at ${result.signature.signed_at}, before the version in force (${previous}): a replayed old version`,
        );
      }
      return [];
    },
  };
}

/** The signer for the settings, when a signing key is set. */
export function flowSigner(settings: FlowSigningSettings): FlowSigner | undefined {
  return settings.signingKey ? new FlowSigner(settings.signingKey) : undefined;
}
