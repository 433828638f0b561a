import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childEnv, spawnCli, type CliProcess } from '../support/cli';

// The README's "Your first webhook", as a newcomer types it: `npm start` (here the built
// `flowhook run`, with no KAFKA_BROKERS: it starts its own broker), `flowhook receive`, then
// `flowhook flows apply examples/flows/*.json && flowhook events send examples/events/*.json`,
// without copying any address or secret by hand.

const ROOT = join(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'flowhook-first-'));
// Only the address file is private to this test; the broker jars stay in the shared cache.
const env = childEnv({
  FLOWHOOK_LOCAL_BROKER_FILE: join(dir, 'local-broker.json'),
  FLOWHOOK_HTTP_PORT: '0',
  LOG_LEVEL: 'warn',
});
delete env.KAFKA_BROKERS;

const files = (sub: string): string[] =>
  readdirSync(join(ROOT, 'examples', sub)).map((f) => join(ROOT, 'examples', sub, f));

describe('README: your first webhook', () => {
  let service: CliProcess | undefined;
  let receiver: CliProcess | undefined;

  afterAll(async () => {
    for (const p of [receiver, service]) {
      if (p && p.child.exitCode === null) {
        p.child.kill('SIGINT');
        await p.exited;
      }
    }
  });

  it('shows three signed webhooks arriving at flowhook receive', async () => {
    service = spawnCli(['run'], env);
    await service.waitForOutput(/running roles/, 150_000);

    receiver = spawnCli(['receive', '--count', '3'], env);
    await receiver.waitForOutput(
      /receiving webhooks on http:\/\/127\.0\.0\.1:8787\/ \(verifying signatures\)/,
    );

    const apply = spawnCli(['flows', 'apply', ...files('flows')], env);
    expect((await apply.exited).code).toBe(0);
    const send = spawnCli(['events', 'send', ...files('events')], env);
    expect((await send.exited).code).toBe(0);

    const done = await receiver.exited;
    expect(done.code).toBe(0);
    const out = receiver.stdout();
    for (const path of ['/crm/contacts', '/direct-mail/catalogs', '/surveys/nps']) {
      expect(out).toContain(`POST ${path}`);
    }
    expect(out.match(/signature verified/g)).toHaveLength(3);
    expect(out).not.toContain('NOT verified');
    expect(out).toContain('"recipient": "Sam Lee"');
  }, 240_000);
});
