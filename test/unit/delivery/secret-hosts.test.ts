import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDocument } from '../../../src/app/flows';
import { buildConfig } from '../../../src/config/load';
import { prepareRequest } from '../../../src/delivery/deliver';
import {
  hostAllowed,
  parseHostsFile,
  SecretStore,
  secretHostProblems,
} from '../../../src/delivery/secrets';
import type { WebhookJob } from '../../../src/documents';
import { flowDoc, webhook } from '../flows/builders';

const dir = mkdtempSync(join(tmpdir(), 'flowhook-secrets-'));
writeFileSync(join(dir, 'crm'), 'crm-token\n');
writeFileSync(join(dir, 'crm.hosts'), '# the CRM only\ncrm.example.com\n*.crm-eu.example.com\n');
writeFileSync(join(dir, 'free'), 'anywhere\n');

const job = (url: string, header = '{{ secrets.crm }}'): WebhookJob => ({
  id: 'j',
  flow_id: 'f',
  flow_version: 1,
  action_id: 'a',
  event_id: 'e',
  profile_id: 'p',
  url,
  headers: { Authorization: `Bearer ${header}` },
  body: '{}',
  attempt: 0,
});

describe('secret allowed hosts', () => {
  it('parses .hosts files and matches exact hosts and *.domain subdomains', () => {
    expect(parseHostsFile('a.example.com, B.example.com\n# note\n\n*.c.example.com')).toEqual([
      'a.example.com',
      'b.example.com',
      '*.c.example.com',
    ]);
    const allowed = ['crm.example.com', '*.crm-eu.example.com'];
    expect(hostAllowed('CRM.example.com', allowed)).toBe(true);
    expect(hostAllowed('api.crm-eu.example.com', allowed)).toBe(true);
    expect(hostAllowed('crm-eu.example.com', allowed)).toBe(false);
    expect(hostAllowed('crm.example.com.evil.io', allowed)).toBe(false);
    expect(hostAllowed('evilcrm.example.com', allowed)).toBe(false);
  });

  it('refuses at delivery, before the secret is resolved', async () => {
    const secrets = new SecretStore({ dir, env: {} });
    const deps = { secrets, signingSecrets: [] };
    await expect(prepareRequest(job('https://evil.example.net/x'), deps)).rejects.toMatchObject({
      code: 'FLOWHOOK_ERR_SECRET_HOST',
      retriable: false,
      message:
        'secret crm may only be sent to crm.example.com, *.crm-eu.example.com, not to evil.example.net',
    });
    const ok = await prepareRequest(job('https://crm.example.com/in'), deps);
    expect(ok.headers.Authorization).toBe('Bearer crm-token');
    await expect(
      prepareRequest(job('https://evil.example.net/x', '{{ secrets.free }}'), deps),
    ).resolves.toBeDefined();
  });

  it('refuses at validation, pointing at the header', () => {
    const doc = flowDoc(
      {},
      {
        actions: [
          webhook('hook', null, {
            url: 'https://evil.example.net/x',
            headers: { 'X-Key': '{{ secrets.crm }}' },
          }),
        ],
      },
    );
    expect(secretHostProblems(doc, dir)).toEqual([
      {
        path: '$.definition.actions[0].data.message.headers.X-Key',
        message: expect.stringContaining('not to evil.example.net'),
      },
    ]);
    const config = buildConfig({ FLOWHOOK_SECRETS_DIR: dir });
    const result = checkDocument(doc, { config });
    expect(result.ok).toBe(false);
    const fine = flowDoc(
      {},
      {
        actions: [
          webhook('hook', null, {
            url: 'https://crm.example.com/x',
            headers: { 'X-Key': '{{ secrets.crm }}' },
          }),
        ],
      },
    );
    expect(checkDocument(fine, { config }).ok).toBe(true);
  });
});
