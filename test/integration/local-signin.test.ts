import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { childEnv, spawnCli, type CliProcess } from '../support/cli';
import { brokers, uniqueName } from '../support/kafka';
import { freePort } from '../support/receiver';

// `flowhook run` without FLOWHOOK_OIDC_ISSUER: the embedded issuer enrols one local user on first
// start (password + TOTP, printed once), issues tokens with amr [pwd, otp] only after both, and
// the admin API accepts them; a non-loopback bind without an issuer refuses to start.

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s), written out here so the test does not trust otplib. */
function totp(base32: string, at = Date.now()): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, ''))
    bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g)?.map((b) => parseInt(b, 2)) ?? []);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = (h[h.length - 1] as number) & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

const running: CliProcess[] = [];
afterAll(async () => {
  for (const p of running) {
    p.child.kill('SIGTERM');
    await p.exited;
  }
});

async function token(base: string, form: Record<string, string>) {
  const res = await fetch(`${base}/oidc/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'urn:flowhook:grant-type:password-totp',
      client_id: 'local',
      username: 'local',
      ...form,
    }),
  });
  return {
    status: res.status,
    body: (await res.json()) as { access_token?: string; error?: string },
  };
}

it('enrols a local user with TOTP on first start and signs them in with password + code', async () => {
  const port = await freePort();
  const stateDir = mkdtempSync(join(tmpdir(), 'flowhook-state-'));
  const p = spawnCli(
    ['run', '--roles', 'admin'],
    childEnv({
      KAFKA_BROKERS: brokers().join(','),
      FLOWHOOK_TOPIC_PREFIX: `${uniqueName('local')}.`,
      FLOWHOOK_HTTP_PORT: '0',
      FLOWHOOK_ADMIN_PORT: String(port),
      FLOWHOOK_ADMIN_STATE_DIR: stateDir,
    }),
  );
  running.push(p);
  const [, password] = await p.waitForOutput(/password: +(\S+)/);
  const [, uri, secret] = await p.waitForOutput(/(otpauth:\/\/totp\/\S+)\s+\(secret (\w+)\)/);
  expect(uri).toContain(`secret=${secret}`);
  await p.waitForOutput(/running roles admin/);
  const base = `http://127.0.0.1:${port}`;

  expect((await fetch(`${base}/api/me`)).status).toBe(401);
  expect((await token(base, { password: 'wrong', totp: totp(secret as string) })).status).toBe(400);
  expect((await token(base, { password: password as string, totp: '000000' })).body.error).toBe(
    'invalid_grant',
  );

  const code = totp(secret as string);
  const ok = await token(base, { password: password as string, totp: code });
  expect(ok.status).toBe(200);
  const me = await fetch(`${base}/api/me`, {
    headers: { authorization: `Bearer ${ok.body.access_token}` },
  });
  expect(await me.json()).toMatchObject({
    subject: 'local',
    role: 'owner',
    amr: ['pwd', 'otp'],
    mfa: true,
  });

  // A code is accepted once.
  expect((await token(base, { password: password as string, totp: code })).body.error).toBe(
    'invalid_grant',
  );
  expect(p.output()).not.toMatch(/"password"|totp_secret/); // the enrolment is printed, never logged
});

it('refuses to start the admin API on a non-loopback address without an issuer', async () => {
  const p = spawnCli(
    ['run', '--roles', 'admin'],
    childEnv({
      KAFKA_BROKERS: brokers().join(','),
      FLOWHOOK_TOPIC_PREFIX: `${uniqueName('local')}.`,
      FLOWHOOK_HTTP_PORT: '0',
      FLOWHOOK_ADMIN_PORT: '0',
      FLOWHOOK_ADMIN_HOST: '0.0.0.0',
    }),
  );
  const { code } = await p.exited;
  expect(code).not.toBe(0);
  expect(p.output()).toMatch(
    /FLOWHOOK_ADMIN_HOST="0\.0\.0\.0": expected a loopback address .* when FLOWHOOK_OIDC_ISSUER is not set/,
  );
});
