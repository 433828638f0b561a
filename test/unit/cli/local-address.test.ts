import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../../src/config/load';
import { cliConfig, localDevelopment } from '../../../src/cli/io';
import { readLocalAddress, writeLocalAddress } from '../../../src/kafka/local-address';

const env = (): NodeJS.ProcessEnv => ({
  FLOWHOOK_LOCAL_BROKER_FILE: join(mkdtempSync(join(tmpdir(), 'flowhook-addr-')), 'b.json'),
});
const SECRET = `whsec_${Buffer.from('local key').toString('base64')}`;

describe('the local instance address', () => {
  it('is found by one-shot commands when KAFKA_BROKERS is unset, with the local allowances', () => {
    const e = env();
    const forget = writeLocalAddress({ brokers: ['127.0.0.1:40001'], signing_secret: SECRET }, e);
    const config = cliConfig(e);
    expect(config.kafka.brokers).toEqual(['127.0.0.1:40001']);
    expect(config.delivery).toMatchObject({
      allowHttp: true,
      destinationAllowlist: ['127.0.0.1/32'],
      signingSecrets: [SECRET],
    });
    forget();
    expect(readLocalAddress(e)).toBeUndefined();
    expect(cliConfig(e).kafka.brokers).toBeUndefined();
  });

  it('is ignored when its process is gone, and never overrides KAFKA_BROKERS', () => {
    const e = env();
    writeLocalAddress({ brokers: ['127.0.0.1:40002'] }, e);
    expect(readLocalAddress(e, () => false)).toBeUndefined();
    const explicit = cliConfig({ ...e, KAFKA_BROKERS: 'kafka:9092' });
    expect(explicit.kafka.brokers).toEqual(['kafka:9092']);
    expect(explicit.delivery.allowHttp).toBe(false);
  });

  it('keeps explicit delivery settings', () => {
    const raw = { FLOWHOOK_ALLOW_HTTP: 'false', FLOWHOOK_DESTINATION_ALLOWLIST: '10.0.0.0/8' };
    const config = localDevelopment(buildConfig(raw), raw, ['127.0.0.1:1'], SECRET);
    expect(config.delivery.allowHttp).toBe(false);
    expect(config.delivery.destinationAllowlist).toEqual(['10.0.0.0/8']);
  });
});
