import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig, loadConfig } from '../../../src/config/load';
import { SETTINGS } from '../../../src/config/settings';
import { ConfigError } from '../../../src/errors';

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

function problemsOf(raw: Record<string, string>): { name: string; value?: string }[] {
  return errorOf(() => buildConfig(raw)).problems;
}

describe('configuration', () => {
  it('has a default for every setting that needs one, and they validate', () => {
    const config = buildConfig({});
    expect(config.kafka.brokers).toBeUndefined();
    expect(config.roles).toEqual(['trigger', 'delivery', 'delay', 'admin']);
    expect(config.http.port).toBe(8080);
    expect(config.topicPrefix).toBe('flowhook.');
    expect(config.eventTopics).toEqual(['events']);
    expect(config.delivery.allowHttp).toBe(false);
    expect(config.delivery.timeoutMs).toBe(10_000);
    expect(config.delivery.maxBodyBytes).toBe(512 * 1024);
    expect(config.delivery.retryScheduleMs).toBeUndefined();
    expect(config.shutdownGraceMs).toBe(25_000);
    expect(config.logLevel).toBe('info');
  });

  it('reports every invalid value at once, with the value given and what is allowed', () => {
    const problems = problemsOf({
      FLOWHOOK_HTTP_PORT: '70000',
      FLOWHOOK_ROLES: 'trigger,mailer',
      FLOWHOOK_ALLOW_HTTP: 'perhaps',
      FLOWHOOK_RETRY_SCHEDULE: '10s,soon',
      LOG_LEVEL: 'loud',
    });
    expect(problems.map((p) => p.name).sort()).toEqual([
      'FLOWHOOK_ALLOW_HTTP',
      'FLOWHOOK_HTTP_PORT',
      'FLOWHOOK_RETRY_SCHEDULE',
      'FLOWHOOK_ROLES',
      'LOG_LEVEL',
    ]);
    const error = errorOf(() => buildConfig({ FLOWHOOK_HTTP_PORT: '70000', LOG_LEVEL: 'loud' }));
    expect(error.message).toContain(
      'FLOWHOOK_HTTP_PORT="70000": expected an integer from 0 to 65535',
    );
    expect(error.message).toContain('LOG_LEVEL="loud": expected one of fatal, error');
    expect(error.code).toBe('FLOWHOOK_ERR_CONFIG');
  });

  it('stores activity in SQLite under the state dir unless a PostgreSQL URL is set, 30 days', () => {
    const config = buildConfig({ FLOWHOOK_STATE_DIR: '/var/lib/flowhook' });
    expect(config.activity).toEqual({
      databaseUrl: undefined,
      sqliteFile: '/var/lib/flowhook/activity.sqlite',
      retentionMs: 30 * 86_400_000,
      pruneIntervalMs: 300_000,
    });
    const url = 'postgres://u:p@db:5432/flowhook';
    expect(buildConfig({ FLOWHOOK_ACTIVITY_DATABASE_URL: url }).activity.databaseUrl).toBe(url);
    expect(problemsOf({ FLOWHOOK_ACTIVITY_RETENTION: '0s' }).map((p) => p.name)).toEqual([
      'FLOWHOOK_ACTIVITY_RETENTION',
    ]);
  });

  it('never echoes a secret back in an error', () => {
    const { message } = errorOf(() =>
      buildConfig({ FLOWHOOK_SIGNING_SECRET: 'not-a-whsec-value-hunter2' }),
    );
    expect(message).toContain('FLOWHOOK_SIGNING_SECRET');
    expect(message).not.toContain('hunter2');
  });

  it('refuses unknown FLOWHOOK_* names, which are almost always typos', () => {
    expect(problemsOf({ FLOWHOOK_ALOW_HTTP: 'true' })).toEqual([
      { name: 'FLOWHOOK_ALOW_HTTP', value: 'true', allowed: 'a known setting (see README)' },
    ]);
  });

  it('parses lists, durations, event topic regexes and roles', () => {
    const config = buildConfig({
      KAFKA_BROKERS: 'a:9092, b:9092',
      FLOWHOOK_EVENT_TOPICS: '/^shop\\..*/',
      FLOWHOOK_ROLES: 'delivery,delay',
      FLOWHOOK_RETRY_SCHEDULE: '10s,1m,10m,1h',
      FLOWHOOK_DESTINATION_ALLOWLIST: '10.0.0.0/8,crm.internal',
      FLOWHOOK_SIGNING_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_b2xkc2VjcmV0',
    });
    expect(config.kafka.brokers).toEqual(['a:9092', 'b:9092']);
    expect(config.eventTopics).toEqual(/^shop\..*/);
    expect(config.roles).toEqual(['delivery', 'delay']);
    expect(config.delivery.retryScheduleMs).toEqual([10_000, 60_000, 600_000, 3_600_000]);
    expect(config.delivery.destinationAllowlist).toEqual(['10.0.0.0/8', 'crm.internal']);
    expect(config.delivery.signingSecrets).toHaveLength(2);
  });

  it('requires user and password with a SASL mechanism, and reads the password from a file', () => {
    expect(problemsOf({ KAFKA_SASL_MECHANISM: 'scram-sha-512' }).map((p) => p.name)).toEqual([
      'KAFKA_SASL_USERNAME',
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'flowhook-config-'));
    writeFileSync(join(dir, 'password'), 's3cret\n');
    const config = buildConfig({
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'flowhook',
      KAFKA_SASL_PASSWORD_FILE: join(dir, 'password'),
    });
    expect(config.kafka.sasl).toEqual({
      mechanism: 'scram-sha-512',
      username: 'flowhook',
      password: 's3cret',
    });
    expect(config.kafka.ssl).toBe(false);
  });

  it('reads a settings file (JSON or NAME=value) under the environment, which wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowhook-config-'));
    const json = join(dir, 'settings.json');
    writeFileSync(json, JSON.stringify({ FLOWHOOK_HTTP_PORT: 9100, LOG_LEVEL: 'debug' }));
    expect(loadConfig({ FLOWHOOK_CONFIG_FILE: json }).http.port).toBe(9100);
    expect(loadConfig({ FLOWHOOK_CONFIG_FILE: json, FLOWHOOK_HTTP_PORT: '9200' }).http.port).toBe(
      9200,
    );
    const env = join(dir, 'settings.env');
    writeFileSync(env, '# comment\nFLOWHOOK_TOPIC_PREFIX="shop."\nFLOWHOOK_ALLOW_HTTP=true\n');
    const config = loadConfig({}, env);
    expect(config.topicPrefix).toBe('shop.');
    expect(config.delivery.allowHttp).toBe(true);
    expect(() => loadConfig({}, join(dir, 'missing'))).toThrow(ConfigError);
  });

  it('documents every setting', () => {
    for (const s of SETTINGS) expect(s.description.length).toBeGreaterThan(10);
  });
});

describe('FLOWHOOK_METRIC_CATALOG', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowhook-catalog-'));
  const file = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it('reads an id → name object or the body of GET /api/metrics', () => {
    const plain = file('plain.json', '{"XyZ9aB": "Placed Order"}');
    const api = file(
      'api.json',
      '{"data": [{"type": "metric", "id": "XyZ9aB", "attributes": {"name": "Placed Order"}}]}',
    );
    for (const path of [plain, api]) {
      expect({ ...buildConfig({ FLOWHOOK_METRIC_CATALOG: path }).trigger.metricCatalog }).toEqual({
        XyZ9aB: 'Placed Order',
      });
    }
    expect(buildConfig({}).trigger.metricCatalog).toEqual({});
  });

  it('refuses a file that is missing or not a catalog', () => {
    for (const path of [join(dir, 'absent.json'), file('bad.json', '{"XyZ9aB": 3}')]) {
      expect(() => buildConfig({ FLOWHOOK_METRIC_CATALOG: path })).toThrow(
        /FLOWHOOK_METRIC_CATALOG/,
      );
    }
  });
});
