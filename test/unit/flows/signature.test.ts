import { generateKeyPairSync } from 'node:crypto';
import { FlowTable } from '../../../src/flows/flow-table';
import {
  canonicalJson,
  flowSignaturePolicy,
  FlowSigner,
  FlowVerifier,
  type SignatureRefusal,
} from '../../../src/flows/signature';
import { flowDoc, pass } from './builders';

function keyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

const oldKey = keyPair();
const newKey = keyPair();
const doc = () => flowDoc({ version: 3 }) as Record<string, unknown>;

describe('canonicalJson', () => {
  it('sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });
});

describe('flow signatures', () => {
  it('verifies what was signed, whatever the key order after a JSON round trip', () => {
    const signed = new FlowSigner(oldKey.privatePem).sign(
      doc(),
      'mia@example.com',
      new Date('2026-12-01T00:00:00Z'),
    );
    expect(signed.signature).toMatchObject({
      alg: 'Ed25519',
      publisher: 'mia@example.com',
      version: 3,
      signed_at: '2026-12-01T00:00:00.000Z',
    });
    const reordered = JSON.parse(
      JSON.stringify(Object.fromEntries(Object.entries(signed).reverse())),
    ) as Record<string, unknown>;
    expect(new FlowVerifier([oldKey.publicPem]).verify(reordered).ok).toBe(true);
  });

  it.each<[string, (d: Record<string, unknown>) => Record<string, unknown>, SignatureRefusal]>([
    ['unsigned', (d) => ({ ...d, signature: undefined }), 'unsigned'],
    ['changed after signing', (d) => ({ ...d, name: 'other' }), 'content_mismatch'],
    ['version bumped', (d) => ({ ...d, version: 4 }), 'content_mismatch'],
    [
      'publisher forged',
      (d) => ({ ...d, signature: { ...(d.signature as object), publisher: 'ceo' } }),
      'bad_signature',
    ],
  ])('refuses a flow %s', (_what, tamper, reason) => {
    const signed = new FlowSigner(oldKey.privatePem).sign(doc(), 'mia');
    const result = new FlowVerifier([oldKey.publicPem]).verify(tamper(signed));
    expect(result).toMatchObject({ ok: false, reason });
  });

  it('rotates: both keys verify while both are listed; a dropped key no longer does', () => {
    const byOld = new FlowSigner(oldKey.privatePem).sign(doc(), 'a');
    const byNew = new FlowSigner(newKey.privatePem).sign(doc(), 'a');
    const both = new FlowVerifier([oldKey.publicPem, newKey.publicPem]);
    expect(both.verify(byOld).ok && both.verify(byNew).ok).toBe(true);
    expect(new FlowVerifier([newKey.publicPem]).verify(byOld)).toMatchObject({
      ok: false,
      reason: 'unknown_key',
    });
  });
});

describe('FlowTable with signing on', () => {
  const refused: string[] = [];
  const policy = flowSignaturePolicy(
    { signingKey: undefined, verifyKeys: [oldKey.publicPem] },
    { inc: ({ reason }) => refused.push(reason) },
  );
  const signer = new FlowSigner(oldKey.privatePem);

  it('is off without keys', () => {
    expect(flowSignaturePolicy({ signingKey: undefined, verifyKeys: [] })).toBeUndefined();
  });

  it('refuses an unsigned webhook flow and keeps the signed version in force', () => {
    const t = new FlowTable({ allowHttp: false, signatures: policy });
    const v1 = signer.sign(
      flowDoc({ version: 1 }) as Record<string, unknown>,
      'mia',
      new Date('2026-12-01T00:00:00Z'),
    );
    expect(t.apply('flow-1', v1).outcome).toBe('accepted');
    const r = t.apply('flow-1', flowDoc({ version: 2 }));
    expect(r).toMatchObject({
      outcome: 'rejected',
      problems: [{ path: '$.signature', message: expect.stringContaining('not signed') }],
    });
    expect(t.get('flow-1')?.version).toBe(1);
    expect(refused).toEqual(['unsigned']);
  });

  it('refuses a replayed older signed version', () => {
    const t = new FlowTable({ allowHttp: false, signatures: policy });
    const old = signer.sign(
      flowDoc({ version: 1 }) as Record<string, unknown>,
      'mia',
      new Date('2026-12-01T00:00:00Z'),
    );
    const current = signer.sign(
      flowDoc({ version: 2 }) as Record<string, unknown>,
      'mia',
      new Date('2026-12-02T00:00:00Z'),
    );
    t.apply('flow-1', current);
    expect(t.apply('flow-1', old).outcome).toBe('rejected');
    expect(t.get('flow-1')?.version).toBe(2);
  });

  it('accepts an unsigned flow without webhook actions', () => {
    const t = new FlowTable({ allowHttp: false, signatures: policy });
    const noHook = flowDoc(
      { id: 'flow-2', version: 1 },
      { actions: [pass('mail', null)], entry_action_id: 'mail' },
    );
    expect(t.apply('flow-2', noHook).outcome).toBe('accepted');
  });
});
