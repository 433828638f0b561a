import { createHmac } from 'node:crypto';
import {
  decodeSigningSecret,
  parseSigningSecrets,
  signPayload,
  verifySignature,
} from '../../../src/delivery/signing';
import { SigningSecretError } from '../../../src/errors';

// The known-answer vector shared by the Standard Webhooks libraries.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TIMESTAMP = 1614265330;
const BODY = '{"test": 2432232314}';
const EXPECTED = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

/** Independent implementation, straight from the spec text. */
function referenceSignature(secret: string, id: string, ts: number, body: string): string {
  const key = Buffer.from(secret.split('_')[1] as string, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}`;
}

describe('signPayload', () => {
  test('matches the published Standard Webhooks vector', () => {
    expect(signPayload({ id: ID, timestamp: TIMESTAMP, body: BODY, secrets: [SECRET] })).toEqual({
      'webhook-id': ID,
      'webhook-timestamp': '1614265330',
      'webhook-signature': EXPECTED,
    });
    expect(referenceSignature(SECRET, ID, TIMESTAMP, BODY)).toBe(EXPECTED);
  });

  test('agrees with an independent HMAC for other inputs (unicode body)', () => {
    const body = JSON.stringify({ name: 'Zoë 🚀', total: 12.5 });
    const signed = signPayload({ id: 'job-1', timestamp: 1700000000, body, secrets: [SECRET] });
    expect(signed['webhook-signature']).toBe(referenceSignature(SECRET, 'job-1', 1700000000, body));
  });

  test('several secrets (rotation) give space-separated signatures, one per secret', () => {
    const other = `whsec_${Buffer.from('another-key-of-some-length').toString('base64')}`;
    const signed = signPayload({
      id: ID,
      timestamp: TIMESTAMP,
      body: BODY,
      secrets: [SECRET, other],
    });
    expect(signed['webhook-signature'].split(' ')).toEqual([
      EXPECTED,
      referenceSignature(other, ID, TIMESTAMP, BODY),
    ]);
  });

  test.each([[''], ['whsec_'], ['whsec_!!!not base64'], ['whsec_a']])(
    'refuses the malformed secret %j',
    (secret) => {
      expect(() =>
        signPayload({ id: ID, timestamp: TIMESTAMP, body: BODY, secrets: [secret] }),
      ).toThrow(SigningSecretError);
    },
  );

  test('refuses an empty secret list and a fractional timestamp', () => {
    expect(() => signPayload({ id: ID, timestamp: TIMESTAMP, body: BODY, secrets: [] })).toThrow(
      SigningSecretError,
    );
    expect(() => signPayload({ id: ID, timestamp: 1.5, body: BODY, secrets: [SECRET] })).toThrow(
      SigningSecretError,
    );
  });

  test('parseSigningSecrets splits on spaces and commas and validates each', () => {
    expect(parseSigningSecrets(` ${SECRET}, whsec_AAAA  whsec_BBBB `)).toEqual([
      SECRET,
      'whsec_AAAA',
      'whsec_BBBB',
    ]);
    expect(parseSigningSecrets(undefined)).toEqual([]);
    expect(() => parseSigningSecrets(`${SECRET},whsec_`)).toThrow(SigningSecretError);
    expect(decodeSigningSecret(SECRET)).toEqual(
      Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'),
    );
  });
});

describe('verifySignature', () => {
  const now = TIMESTAMP * 1000;
  const headers = {
    'webhook-id': ID,
    'webhook-timestamp': String(TIMESTAMP),
    'webhook-signature': EXPECTED,
  };

  test('accepts the vector, header names in any case', () => {
    expect(verifySignature({ headers, body: BODY, secrets: [SECRET], now })).toEqual({ ok: true });
    const upper = {
      'Webhook-Id': ID,
      'WEBHOOK-TIMESTAMP': String(TIMESTAMP),
      'Webhook-Signature': EXPECTED,
    };
    expect(verifySignature({ headers: upper, body: BODY, secrets: [SECRET], now })).toEqual({
      ok: true,
    });
  });

  test('accepts a header with several entries, including a v2 one', () => {
    const sig = `v2,Zm9vYmFy v1,aW52YWxpZA== ${EXPECTED}`;
    expect(
      verifySignature({
        headers: { ...headers, 'webhook-signature': sig },
        body: BODY,
        secrets: [SECRET],
        now,
      }),
    ).toEqual({ ok: true });
  });

  test('accepts when any of several configured secrets matches', () => {
    expect(verifySignature({ headers, body: BODY, secrets: ['whsec_AAAA', SECRET], now }).ok).toBe(
      true,
    );
  });

  test.each([
    ['a tampered body', { body: '{"test": 2432232315}' }, 'no matching signature'],
    [
      'a partial v1,',
      { headers: { ...headers, 'webhook-signature': 'v1,' } },
      'no matching signature',
    ],
    ['a wrong secret', { secrets: ['whsec_AAAA'] }, 'no matching signature'],
    [
      'a missing id',
      { headers: { ...headers, 'webhook-id': undefined } },
      'missing required headers',
    ],
    [
      'no signature',
      { headers: { ...headers, 'webhook-signature': undefined } },
      'missing required headers',
    ],
    ['a timestamp 5 min + 1 s old', { now: now + 301_000 }, 'timestamp too old'],
    ['a timestamp 5 min + 1 s ahead', { now: now - 301_000 }, 'timestamp too new'],
    [
      'a non-numeric timestamp',
      { headers: { ...headers, 'webhook-timestamp': '12a' } },
      'invalid timestamp',
    ],
    ['an empty secret', { secrets: [''] }, 'invalid secret'],
    ['a bare whsec_', { secrets: ['whsec_'] }, 'invalid secret'],
  ])('rejects %s', (_label, override, reason) => {
    expect(verifySignature({ headers, body: BODY, secrets: [SECRET], now, ...override })).toEqual({
      ok: false,
      reason,
    });
  });

  test('accepts timestamps within the tolerance', () => {
    expect(verifySignature({ headers, body: BODY, secrets: [SECRET], now: now + 299_000 }).ok).toBe(
      true,
    );
    expect(verifySignature({ headers, body: BODY, secrets: [SECRET], now: now - 299_000 }).ok).toBe(
      true,
    );
  });
});
