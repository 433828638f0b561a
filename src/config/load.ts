import { readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { parseDuration } from '../duration';
import { join } from 'node:path';
import { ConfigError, type ConfigProblem } from '../errors';
import { type MetricCatalog, parseMetricCatalog } from './metric-catalog';
import {
  ROLE_NAMES,
  SETTINGS,
  type RoleName,
  type SettingName,
  type SettingSpec,
} from './settings';

export interface KafkaSettings {
  /** undefined: no cluster configured, a local broker is to be started. */
  brokers: string[] | undefined;
  clientId: string;
  ssl: false | { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean };
  sasl:
    | undefined
    | {
        mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
        username: string;
        password: string;
      };
  connectRetries: number;
  sessionTimeoutMs: number;
}

export interface FlowhookConfig {
  kafka: KafkaSettings;
  topicPrefix: string;
  topicPartitions: number;
  /** -1 = broker default. */
  topicReplication: number;
  createTopics: boolean;
  /** Either explicit topic names or one regular expression. */
  eventTopics: string[] | RegExp;
  instanceId: string;
  /** Local state-store directory, `~` expanded. */
  stateDir: string;
  commitIntervalMs: number;
  roles: RoleName[];
  http: { port: number; host: string };
  shutdownGraceMs: number;
  logLevel: string;
  delivery: {
    allowHttp: boolean;
    destinationAllowlist: string[];
    signingSecrets: string[];
    secretsDir: string | undefined;
    /** undefined = the built-in default schedule. */
    retryScheduleMs: number[] | undefined;
    timeoutMs: number;
    maxBodyBytes: number;
    concurrency: number;
    /** Sender threads; 0 = requests on the main thread. */
    threads: number;
    hostConcurrency: number;
    circuitFailures: number;
    circuitCooldownMs: number;
  };
  admin: {
    port: number;
    host: string;
    /** Local state of the embedded sign-in (no issuer configured). */
    stateDir: string;
    oidc: {
      /** undefined: the embedded local issuer (loopback only). */
      issuer: string | undefined;
      audience: string;
      roleClaim: string;
      mfaAmr: string[];
      mfaAcr: string[];
      algorithms: string[];
      /** The web console's public client at the issuer. */
      consoleClientId: string;
      consoleScope: string;
    };
  };
  /** Signed flows: PEM texts (files already read). */
  flowSigning: {
    signingKey: string | undefined;
    verifyKeys: string[];
  };
  trigger: {
    schemaRegistryUrl: string | undefined;
    organization: { name: string; url: string };
    templateTimeoutMs: number;
    templateMaxLoop: number;
    allowLiteralCredentials: boolean;
    /** Klaviyo metric id → metric name (FLOWHOOK_METRIC_CATALOG); empty without the setting. */
    metricCatalog: MetricCatalog;
  };
  profiles: {
    enabled: boolean;
    topics: string[];
    historyRetentionMs: number;
  };
  /** Price-drop and low-inventory triggers (FLOWHOOK_CATALOG=false: off). */
  catalog: {
    enabled: boolean;
    topics: string[];
    audienceRetentionMs: number;
  };
  activity: {
    /** PostgreSQL; undefined = the embedded SQLite file `sqliteFile`. */
    databaseUrl: string | undefined;
    sqliteFile: string;
    retentionMs: number;
    pruneIntervalMs: number;
  };
}

export type RawSettings = Partial<Record<string, string>>;

/**
 * FLOWHOOK_* variables read elsewhere than the service's configuration: the settings file's
 * name, and the local-broker launcher's (src/kafka/local-broker.ts). `FLOWHOOK_SECRET_<NAME>`
 * variables are header secrets.
 */
const OTHER_VARIABLES = new Set([
  'FLOWHOOK_CONFIG_FILE',
  'FLOWHOOK_CACHE_DIR',
  'FLOWHOOK_NO_CONTAINERS',
  'FLOWHOOK_KAFKA_IMAGE',
  // The throw-away PostgreSQL of the tests (scripts/test-postgres.sh).
  'FLOWHOOK_TEST_DATABASE_URL',
  'FLOWHOOK_TEST_PG_DIR',
  'FLOWHOOK_LOCAL_BROKER_FILE',
]);

/** `250ms`, `10s`, `1m`, `2h`, `1d`; in settings a bare number means seconds. */
function parseSettingDuration(text: string): number | undefined {
  return parseDuration(text, { bareNumberUnit: 's' });
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

type Parsed = string | number | boolean | string[] | number[] | undefined;

function describeAllowed(spec: SettingSpec): string {
  const t = spec.type;
  switch (t.kind) {
    case 'int':
      return `an integer from ${t.min} to ${t.max}`;
    case 'bool':
      return 'true or false';
    case 'enum':
      return `one of ${t.values.join(', ')}`;
    case 'list':
      return t.values ? `a comma list of ${t.values.join(', ')}` : 'a comma list';
    case 'duration':
      return 'a duration such as 500ms, 10s, 5m, 1h';
    case 'durationList':
      return 'a comma list of durations such as 10s,1m,10m,1h';
    case 'url':
      return 'an absolute http(s) URL';
    default:
      return 'a string';
  }
}

function parseValue(spec: SettingSpec, text: string): Parsed | typeof INVALID {
  const t = spec.type;
  switch (t.kind) {
    case 'string':
    case 'secret':
      return text;
    case 'int': {
      if (!/^-?\d+$/.test(text.trim())) return INVALID;
      const n = Number(text);
      return n >= t.min && n <= t.max ? n : INVALID;
    }
    case 'bool': {
      const v = text.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off', ''].includes(v)) return false;
      return INVALID;
    }
    case 'enum':
      return t.values.includes(text.trim()) ? text.trim() : INVALID;
    case 'list': {
      const items = splitList(text);
      if (t.values && items.some((i) => !t.values?.includes(i))) return INVALID;
      return items;
    }
    case 'duration':
      return parseSettingDuration(text) ?? INVALID;
    case 'durationList': {
      const items = splitList(text).map(parseSettingDuration);
      if (items.length === 0 || items.some((i) => i === undefined || i <= 0)) return INVALID;
      return items as number[];
    }
    case 'url': {
      try {
        const u = new URL(text);
        return u.protocol === 'http:' || u.protocol === 'https:' ? text : INVALID;
      } catch {
        return INVALID;
      }
    }
  }
}
const INVALID = Symbol('invalid');

/**
 * Reads a settings file: JSON (`{"KAFKA_BROKERS": "…"}`) or dotenv-style `NAME=value` lines.
 * Values from the environment win over the file.
 */
export function readSettingsFile(path: string): RawSettings {
  const text = readFileSync(path, 'utf8');
  if (text.trimStart().startsWith('{')) {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError([
        { name: 'FLOWHOOK_CONFIG_FILE', value: path, allowed: 'a JSON object' },
      ]);
    }
    return Object.fromEntries(
      Object.entries(parsed).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]),
    );
  }
  const out: RawSettings = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) out[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

/**
 * Builds the configuration from raw text values (environment merged over file) and validates
 * every setting at once: one ConfigError lists every problem.
 */
export function buildConfig(raw: RawSettings): FlowhookConfig {
  const problems: ConfigProblem[] = [];
  const values = new Map<SettingName, Parsed>();
  const known = new Set<string>(SETTINGS.map((s) => s.name));

  for (const spec of SETTINGS as readonly SettingSpec[]) {
    const given = raw[spec.name];
    const text = given !== undefined && given !== '' ? given : spec.default;
    if (text === undefined) {
      values.set(spec.name as SettingName, undefined);
      continue;
    }
    const parsed = parseValue(spec, text);
    if (parsed === INVALID) {
      problems.push({
        name: spec.name,
        value: spec.type.kind === 'secret' ? '<redacted>' : text,
        allowed: describeAllowed(spec),
      });
    } else {
      values.set(spec.name as SettingName, parsed);
    }
  }
  // Typos in flowhook's own namespace are almost always mistakes worth stopping for.
  for (const name of Object.keys(raw)) {
    if (
      name.startsWith('FLOWHOOK_') &&
      !known.has(name) &&
      !OTHER_VARIABLES.has(name) &&
      !name.startsWith('FLOWHOOK_SECRET_')
    ) {
      problems.push({ name, value: raw[name], allowed: 'a known setting (see README)' });
    }
  }

  const str = (n: SettingName) => values.get(n) as string | undefined;
  const num = (n: SettingName) => values.get(n) as number;
  const bool = (n: SettingName) => values.get(n) as boolean;
  const list = (n: SettingName) => values.get(n) as string[] | undefined;

  // Cross-field rules.
  type SaslMechanism = NonNullable<KafkaSettings['sasl']>['mechanism'];
  const saslMechanism = str('KAFKA_SASL_MECHANISM') as SaslMechanism | undefined;
  let saslPassword = str('KAFKA_SASL_PASSWORD');
  const passwordFile = str('KAFKA_SASL_PASSWORD_FILE');
  if (passwordFile) {
    try {
      saslPassword = readFileSync(passwordFile, 'utf8').trim();
    } catch {
      problems.push({
        name: 'KAFKA_SASL_PASSWORD_FILE',
        value: passwordFile,
        allowed: 'a readable file',
      });
    }
  }
  if (saslMechanism && (!str('KAFKA_SASL_USERNAME') || !saslPassword)) {
    problems.push({
      name: 'KAFKA_SASL_USERNAME',
      value: str('KAFKA_SASL_USERNAME'),
      allowed:
        'a user name and a password (KAFKA_SASL_PASSWORD or _FILE) when KAFKA_SASL_MECHANISM is set',
    });
  }
  const readPem = (n: SettingName): string | undefined => {
    const path = str(n);
    if (!path) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch {
      problems.push({ name: n, value: path, allowed: 'a readable PEM file' });
      return undefined;
    }
  };
  let metricCatalog: MetricCatalog = {};
  const catalogFile = str('FLOWHOOK_METRIC_CATALOG');
  if (catalogFile) {
    let parsed: MetricCatalog | undefined;
    try {
      parsed = parseMetricCatalog(JSON.parse(readFileSync(catalogFile, 'utf8')) as unknown);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined) {
      problems.push({
        name: 'FLOWHOOK_METRIC_CATALOG',
        value: catalogFile,
        allowed:
          'a readable JSON file: {"<metric id>": "<metric name>", …} or a GET /api/metrics body',
      });
    } else metricCatalog = parsed;
  }
  const ca = readPem('KAFKA_SSL_CA_FILE');
  const cert = readPem('KAFKA_SSL_CERT_FILE');
  const key = readPem('KAFKA_SSL_KEY_FILE');
  const useSsl = bool('KAFKA_SSL') || ca !== undefined || cert !== undefined;

  let eventTopics: string[] | RegExp = ['events'];
  const topicsText = str('FLOWHOOK_EVENT_TOPICS') ?? 'events';
  const rx = /^\/(.+)\/([a-z]*)$/.exec(topicsText.trim());
  if (rx) {
    try {
      eventTopics = new RegExp(rx[1], rx[2]);
    } catch {
      problems.push({
        name: 'FLOWHOOK_EVENT_TOPICS',
        value: topicsText,
        allowed: 'a valid /regex/',
      });
    }
  } else {
    eventTopics = splitList(topicsText);
    if (eventTopics.length === 0) {
      problems.push({
        name: 'FLOWHOOK_EVENT_TOPICS',
        value: topicsText,
        allowed: 'at least one topic',
      });
    }
  }
  const signingSecrets = (str('FLOWHOOK_SIGNING_SECRET') ?? '')
    .split(/[\s,]+/)
    .filter((s) => s.length > 0);
  if (signingSecrets.some((s) => !/^whsec_[A-Za-z0-9+/=]+$/.test(s))) {
    problems.push({
      name: 'FLOWHOOK_SIGNING_SECRET',
      value: '<redacted>',
      allowed: 'whsec_ followed by base64, several separated by spaces',
    });
  }

  // Zero would delete the whole activity log, or prune in a busy loop.
  for (const [n, minMs, allowed] of [
    ['FLOWHOOK_ACTIVITY_RETENTION', 60_000, 'a duration of at least 1m'],
    ['FLOWHOOK_ACTIVITY_PRUNE_INTERVAL', 1000, 'a duration of at least 1s'],
  ] as const) {
    const ms = values.get(n);
    if (typeof ms === 'number' && ms < minMs) problems.push({ name: n, value: raw[n], allowed });
  }
  const pemOrFile = (name: SettingName, text: string): string | undefined => {
    if (text.trimStart().startsWith('-----BEGIN')) return text;
    try {
      return readFileSync(text, 'utf8');
    } catch {
      problems.push({
        name,
        value: name === 'FLOWHOOK_FLOW_SIGNING_KEY' ? '<redacted>' : text,
        allowed: 'PEM text or a readable PEM file',
      });
      return undefined;
    }
  };
  const signingKeyText = str('FLOWHOOK_FLOW_SIGNING_KEY');
  const flowSigningKey = signingKeyText
    ? pemOrFile('FLOWHOOK_FLOW_SIGNING_KEY', signingKeyText)
    : undefined;
  const flowVerifyKeys = (list('FLOWHOOK_FLOW_VERIFY_KEYS') ?? [])
    .map((item) => pemOrFile('FLOWHOOK_FLOW_VERIFY_KEYS', item))
    .filter((k): k is string => k !== undefined);

  if (problems.length > 0) throw new ConfigError(problems);

  const roles = list('FLOWHOOK_ROLES') ?? ['all'];
  const stateDir = expandHome(str('FLOWHOOK_STATE_DIR') ?? '~/.cache/flowhook/state');
  return {
    kafka: {
      brokers: list('KAFKA_BROKERS')?.length ? list('KAFKA_BROKERS') : undefined,
      clientId: str('KAFKA_CLIENT_ID') ?? 'flowhook',
      ssl: useSsl
        ? { ca, cert, key, rejectUnauthorized: bool('KAFKA_SSL_REJECT_UNAUTHORIZED') }
        : false,
      sasl:
        saslMechanism && saslPassword
          ? {
              mechanism: saslMechanism,
              username: str('KAFKA_SASL_USERNAME') ?? '',
              password: saslPassword,
            }
          : undefined,
      connectRetries: num('KAFKA_CONNECT_RETRIES'),
      sessionTimeoutMs: num('KAFKA_SESSION_TIMEOUT'),
    },
    topicPrefix: str('FLOWHOOK_TOPIC_PREFIX') ?? '',
    topicPartitions: num('FLOWHOOK_TOPIC_PARTITIONS'),
    topicReplication: num('FLOWHOOK_TOPIC_REPLICATION'),
    createTopics: bool('FLOWHOOK_CREATE_TOPICS'),
    eventTopics,
    instanceId: str('FLOWHOOK_INSTANCE_ID') ?? hostname(),
    stateDir,
    commitIntervalMs: num('FLOWHOOK_COMMIT_INTERVAL'),
    roles: roles.includes('all') ? [...ROLE_NAMES] : (roles as RoleName[]),
    http: { port: num('FLOWHOOK_HTTP_PORT'), host: str('FLOWHOOK_HTTP_HOST') ?? '0.0.0.0' },
    shutdownGraceMs: num('FLOWHOOK_SHUTDOWN_GRACE'),
    logLevel: str('LOG_LEVEL') ?? 'info',
    delivery: {
      allowHttp: bool('FLOWHOOK_ALLOW_HTTP'),
      destinationAllowlist: list('FLOWHOOK_DESTINATION_ALLOWLIST') ?? [],
      signingSecrets,
      secretsDir: str('FLOWHOOK_SECRETS_DIR'),
      retryScheduleMs: values.get('FLOWHOOK_RETRY_SCHEDULE') as number[] | undefined,
      timeoutMs: num('FLOWHOOK_HTTP_TIMEOUT'),
      maxBodyBytes: num('FLOWHOOK_MAX_BODY_BYTES'),
      concurrency: num('FLOWHOOK_DELIVERY_CONCURRENCY'),
      threads: num('FLOWHOOK_DELIVERY_THREADS'),
      hostConcurrency: num('FLOWHOOK_HOST_CONCURRENCY'),
      circuitFailures: num('FLOWHOOK_CIRCUIT_FAILURES'),
      circuitCooldownMs: num('FLOWHOOK_CIRCUIT_COOLDOWN'),
    },
    admin: {
      port: num('FLOWHOOK_ADMIN_PORT'),
      host: str('FLOWHOOK_ADMIN_HOST') ?? '127.0.0.1',
      stateDir: str('FLOWHOOK_ADMIN_STATE_DIR') ?? '.flowhook',
      oidc: {
        issuer: str('FLOWHOOK_OIDC_ISSUER'),
        audience: str('FLOWHOOK_OIDC_AUDIENCE') ?? 'flowhook',
        roleClaim: str('FLOWHOOK_OIDC_ROLE_CLAIM') ?? 'flowhook_role',
        mfaAmr: list('FLOWHOOK_OIDC_MFA_AMR') ?? [],
        mfaAcr: list('FLOWHOOK_OIDC_MFA_ACR') ?? [],
        algorithms: list('FLOWHOOK_OIDC_ALGORITHMS') ?? [],
        consoleClientId: str('FLOWHOOK_OIDC_CONSOLE_CLIENT_ID') ?? 'flowhook-console',
        consoleScope: str('FLOWHOOK_OIDC_CONSOLE_SCOPE') ?? 'openid',
      },
    },
    flowSigning: { signingKey: flowSigningKey, verifyKeys: flowVerifyKeys },
    trigger: {
      schemaRegistryUrl: str('SCHEMA_REGISTRY_URL'),
      organization: {
        name: str('FLOWHOOK_ORGANIZATION_NAME') ?? '',
        url: str('FLOWHOOK_ORGANIZATION_URL') ?? '',
      },
      templateTimeoutMs: num('FLOWHOOK_TEMPLATE_TIMEOUT'),
      templateMaxLoop: num('FLOWHOOK_TEMPLATE_MAX_LOOP'),
      allowLiteralCredentials: bool('FLOWHOOK_ALLOW_LITERAL_CREDENTIALS'),
      metricCatalog,
    },
    profiles: {
      enabled: bool('FLOWHOOK_PROFILE_STORE'),
      topics: values.get('FLOWHOOK_PROFILE_TOPICS') as string[],
      historyRetentionMs: num('FLOWHOOK_PROFILE_HISTORY_RETENTION'),
    },
    catalog: {
      enabled:
        bool('FLOWHOOK_CATALOG') && (values.get('FLOWHOOK_CATALOG_TOPICS') as string[]).length > 0,
      topics: values.get('FLOWHOOK_CATALOG_TOPICS') as string[],
      audienceRetentionMs: num('FLOWHOOK_CATALOG_AUDIENCE_RETENTION'),
    },
    activity: {
      databaseUrl: str('FLOWHOOK_ACTIVITY_DATABASE_URL'),
      sqliteFile: join(stateDir, 'activity.sqlite'),
      retentionMs: num('FLOWHOOK_ACTIVITY_RETENTION'),
      pruneIntervalMs: num('FLOWHOOK_ACTIVITY_PRUNE_INTERVAL'),
    },
  };
}

/** Environment over the optional file named by FLOWHOOK_CONFIG_FILE (or `configFile`). */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  configFile?: string,
): FlowhookConfig {
  const file = configFile ?? env.FLOWHOOK_CONFIG_FILE;
  let fromFile: RawSettings = {};
  if (file) {
    try {
      fromFile = readSettingsFile(file);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError([
        {
          name: 'FLOWHOOK_CONFIG_FILE',
          value: file,
          allowed: 'a readable JSON or NAME=value file',
        },
      ]);
    }
  }
  const fromEnv: RawSettings = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) fromEnv[k] = v;
  return buildConfig({ ...fromFile, ...fromEnv });
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? homedir() + path.slice(1) : path;
}
