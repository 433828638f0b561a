import { mkdtempSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { redactHeaders, SecretStore } from '../../../src/delivery/secrets';
import { referencedSecrets } from '../../../src/webhook-headers';
import { SecretNotFoundError } from '../../../src/errors';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'flowhook-secrets-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Lays a directory out the way the kubelet mounts a Secret volume. */
function kubernetesMount(version: string, files: Record<string, string>): void {
  const data = path.join(dir, `..${version}`);
  mkdirSync(data);
  for (const [name, value] of Object.entries(files)) writeFileSync(path.join(data, name), value);
  // Atomic swap of ..data, as the kubelet does it.
  const tmpLink = path.join(dir, '..data_tmp');
  symlinkSync(`..${version}`, tmpLink);
  renameSync(tmpLink, path.join(dir, '..data'));
  for (const name of Object.keys(files)) {
    try {
      symlinkSync(path.join('..data', name), path.join(dir, name));
    } catch {
      // link already there from the previous version
    }
  }
}

describe('SecretStore', () => {
  test('reads a file named after the secret, without trailing newlines', async () => {
    writeFileSync(path.join(dir, 'crm_token'), 'abc123\n');
    writeFileSync(path.join(dir, 'windows'), 'v\r\n\r\n');
    writeFileSync(path.join(dir, 'inner'), ' a\nb ');
    const store = new SecretStore({ dir, env: {} });
    await expect(store.get('crm_token')).resolves.toBe('abc123');
    await expect(store.get('windows')).resolves.toBe('v');
    await expect(store.get('inner')).resolves.toBe(' a\nb ');
  });

  test('follows Kubernetes ..data symlinks and sees an atomic update', async () => {
    kubernetesMount('2026_01_01_00_00_00.1', { 'api-key': 'first\n' });
    const store = new SecretStore({ dir, env: {}, cacheTtlMs: 0 });
    await expect(store.get('api-key')).resolves.toBe('first');
    kubernetesMount('2026_01_02_00_00_00.2', { 'api-key': 'second\n' });
    await expect(store.get('api-key')).resolves.toBe('second');
  });

  test('never serves the ..data entries or paths outside the directory', async () => {
    kubernetesMount('2026_01_01_00_00_00.1', { token: 't' });
    const store = new SecretStore({ dir, env: {} });
    for (const name of ['..data', '..data/token', '../etc/passwd', '.hidden', 'a/b', '']) {
      await expect(store.get(name)).rejects.toBeInstanceOf(SecretNotFoundError);
    }
  });

  test('falls back to FLOWHOOK_SECRET_<NAME>, exact then normalized', async () => {
    const store = new SecretStore({
      dir,
      env: { FLOWHOOK_SECRET_crm: 'exact', FLOWHOOK_SECRET_CRM_TOKEN: 'normalized' },
    });
    await expect(store.get('crm')).resolves.toBe('exact');
    await expect(store.get('crm-token')).resolves.toBe('normalized');
    writeFileSync(path.join(dir, 'crm'), 'from-file');
    await expect(
      new SecretStore({ dir, env: { FLOWHOOK_SECRET_crm: 'x' } }).get('crm'),
    ).resolves.toBe('from-file');
  });

  test('fromEnv reads FLOWHOOK_SECRETS_DIR', async () => {
    writeFileSync(path.join(dir, 'k'), 'v');
    await expect(SecretStore.fromEnv({ FLOWHOOK_SECRETS_DIR: dir }).get('k')).resolves.toBe('v');
  });

  test('an unknown secret is a permanent error naming it', async () => {
    const store = new SecretStore({ dir, env: {} });
    const error = await store.get('missing_one').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretNotFoundError);
    expect((error as SecretNotFoundError).retriable).toBe(false);
    expect((error as SecretNotFoundError).code).toBe('FLOWHOOK_ERR_SECRET_NOT_FOUND');
    expect((error as Error).message).toMatch(/secret missing_one not found/);
    expect((error as Error).message).toMatch(/FLOWHOOK_SECRET_missing_one/);
  });

  test('caches for the TTL, then re-reads', async () => {
    writeFileSync(path.join(dir, 'k'), 'one');
    let now = 0;
    const store = new SecretStore({ dir, env: {}, cacheTtlMs: 1000, clock: () => now });
    await expect(store.get('k')).resolves.toBe('one');
    writeFileSync(path.join(dir, 'k'), 'two');
    now = 999;
    await expect(store.get('k')).resolves.toBe('one');
    now = 1000;
    await expect(store.get('k')).resolves.toBe('two');
  });

  test('resolves header values and reports which headers held secrets', async () => {
    writeFileSync(path.join(dir, 'crm_token'), 'tok-123\n');
    const store = new SecretStore({ dir, env: { FLOWHOOK_SECRET_partner: 'p-9' } });
    await expect(
      store.resolveHeaders({
        Authorization: 'Bearer {{ secrets.crm_token }}',
        'X-Partner': '{{secrets.partner}}:{{  secrets.crm_token  }}',
        'X-Plain': 'hello {{ event.id }}',
      }),
    ).resolves.toEqual({
      headers: {
        Authorization: 'Bearer tok-123',
        'X-Partner': 'p-9:tok-123',
        'X-Plain': 'hello {{ event.id }}',
      },
      secretHeaderNames: ['Authorization', 'X-Partner'],
    });
    expect(referencedSecrets('{{ secrets.a }} {{ secrets.b }} {{ secrets.a }}')).toEqual([
      'a',
      'b',
    ]);
  });

  test('an unknown secret in a header fails without leaking resolved values', async () => {
    writeFileSync(path.join(dir, 'known'), 'super-secret-value');
    const store = new SecretStore({ dir, env: {} });
    const error = await store
      .resolveHeaders({ A: '{{ secrets.known }}', B: '{{ secrets.unknown }}' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretNotFoundError);
    expect(
      JSON.stringify({ m: (error as Error).message, d: (error as SecretNotFoundError).details }),
    ).not.toContain('super-secret-value');
    expect((error as Error).message).toContain('unknown');
  });
});

describe('redactHeaders', () => {
  test('hides credentials, credential-like names and headers that held secrets', () => {
    expect(
      redactHeaders(
        {
          Authorization: 'Bearer x',
          Cookie: 'sid=1',
          'X-Api-Key': 'k',
          'X-Custom-Token': 't',
          'X-Client-Secret': 's',
          'X-Partner': 'p-9',
          'Content-Type': 'application/json',
          'X-Request-Id': 'r-1',
          Accept: ['a', 'b'],
          Skipped: undefined,
        },
        ['x-partner'],
      ),
    ).toEqual({
      Authorization: '[redacted]',
      Cookie: '[redacted]',
      'X-Api-Key': '[redacted]',
      'X-Custom-Token': '[redacted]',
      'X-Client-Secret': '[redacted]',
      'X-Partner': '[redacted]',
      'Content-Type': 'application/json',
      'X-Request-Id': 'r-1',
      Accept: 'a, b',
    });
  });
});
