// Every setting flowhook reads, with its default, in one table. The loader, the validator,
// the README's configuration table (`npm run docs`) and the Helm ConfigMap all derive
// from this list, so a setting cannot exist in one place and be missing in another.

export type SettingType =
  | { kind: 'string' }
  | { kind: 'secret' }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'bool' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'list'; values?: readonly string[] }
  | { kind: 'duration' }
  | { kind: 'durationList' }
  | { kind: 'url' };

export interface SettingSpec {
  /** Environment variable name; also the key in the optional settings file. */
  name: string;
  type: SettingType;
  /** Default as the text a user would write; undefined = unset. */
  default?: string;
  description: string;
}

export const ROLE_NAMES = ['trigger', 'delivery', 'delay', 'admin'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const SETTINGS = [
  // ---- Kafka ----
  {
    name: 'KAFKA_BROKERS',
    type: { kind: 'list' },
    description:
      'Comma list of bootstrap brokers (host:port). Unset: a local single-node broker is started for you.',
  },
  {
    name: 'KAFKA_CLIENT_ID',
    type: { kind: 'string' },
    default: 'flowhook',
    description: 'Kafka client id.',
  },
  {
    name: 'KAFKA_SSL',
    type: { kind: 'bool' },
    default: 'false',
    description: 'Connect with TLS.',
  },
  {
    name: 'KAFKA_SSL_CA_FILE',
    type: { kind: 'string' },
    description: 'PEM file with the CA(s) that signed the brokers; implies KAFKA_SSL.',
  },
  {
    name: 'KAFKA_SSL_CERT_FILE',
    type: { kind: 'string' },
    description: 'PEM client certificate for mutual TLS; implies KAFKA_SSL.',
  },
  {
    name: 'KAFKA_SSL_KEY_FILE',
    type: { kind: 'string' },
    description: 'PEM private key of the client certificate.',
  },
  {
    name: 'KAFKA_SSL_REJECT_UNAUTHORIZED',
    type: { kind: 'bool' },
    default: 'true',
    description: "Verify the brokers' certificates.",
  },
  {
    name: 'KAFKA_SASL_MECHANISM',
    type: { kind: 'enum', values: ['plain', 'scram-sha-256', 'scram-sha-512'] },
    description: 'SASL mechanism; unset = no SASL.',
  },
  {
    name: 'KAFKA_SASL_USERNAME',
    type: { kind: 'string' },
    description: 'SASL user name.',
  },
  {
    name: 'KAFKA_SASL_PASSWORD',
    type: { kind: 'secret' },
    description: 'SASL password (never logged). Prefer KAFKA_SASL_PASSWORD_FILE.',
  },
  {
    name: 'KAFKA_SASL_PASSWORD_FILE',
    type: { kind: 'string' },
    description: 'File holding the SASL password (e.g. a mounted Kubernetes secret).',
  },
  {
    name: 'KAFKA_CONNECT_RETRIES',
    type: { kind: 'int', min: 0, max: 1000 },
    default: '10',
    description: 'Attempts to reach an unreachable cluster at start-up before giving up.',
  },
  {
    name: 'KAFKA_SESSION_TIMEOUT',
    type: { kind: 'duration' },
    default: '30s',
    description:
      'Consumer group session timeout: how long a replica that died without leaving holds its partitions.',
  },
  {
    name: 'FLOWHOOK_TOPIC_PREFIX',
    type: { kind: 'string' },
    default: 'flowhook.',
    description: "Prefix of flowhook's own topics.",
  },
  {
    name: 'FLOWHOOK_TOPIC_PARTITIONS',
    type: { kind: 'int', min: 1, max: 10000 },
    default: '6',
    description: 'Partitions of the topics flowhook creates (jobs, retry and delay tiers, state).',
  },
  {
    name: 'FLOWHOOK_TOPIC_REPLICATION',
    type: { kind: 'int', min: -1, max: 32 },
    default: '-1',
    description:
      "Replication factor of created topics; -1 = the broker's default.replication.factor.",
  },
  {
    name: 'FLOWHOOK_CREATE_TOPICS',
    type: { kind: 'bool' },
    default: 'true',
    description: 'Create missing topics at start-up (turn off where an operator manages them).',
  },
  {
    name: 'FLOWHOOK_EVENT_TOPICS',
    type: { kind: 'string' },
    default: 'events',
    description: 'Input event topics: a comma list, or /regex/.',
  },
  {
    name: 'FLOWHOOK_INSTANCE_ID',
    type: { kind: 'string' },
    description:
      "Stable id of this replica (default: the host name); part of the transactional id, so a restarted replica fences its predecessor's open transaction.",
  },
  {
    name: 'FLOWHOOK_STATE_DIR',
    type: { kind: 'string' },
    default: '~/.cache/flowhook/state',
    description:
      'Directory of the local state-store copies (LMDB, with changelog checkpoints); a lost directory is rebuilt from the changelog topics. Mount a volume here.',
  },
  {
    name: 'FLOWHOOK_COMMIT_INTERVAL',
    type: { kind: 'duration' },
    default: '100ms',
    description:
      'Longest a processed record waits for its commit under load (an idle input commits at once); one interval for every role.',
  },
  // ---- service ----
  {
    name: 'FLOWHOOK_ROLES',
    type: { kind: 'list', values: [...ROLE_NAMES, 'all'] },
    default: 'all',
    description: `Roles this process runs: ${ROLE_NAMES.join(', ')}, or all.`,
  },
  {
    name: 'FLOWHOOK_HTTP_PORT',
    type: { kind: 'int', min: 0, max: 65535 },
    default: '8080',
    description: 'Port of /metrics, /healthz and /readyz (0 = any free port).',
  },
  {
    name: 'FLOWHOOK_HTTP_HOST',
    type: { kind: 'string' },
    default: '0.0.0.0',
    description: 'Address the metrics and health server listens on.',
  },
  {
    name: 'FLOWHOOK_SHUTDOWN_GRACE',
    type: { kind: 'duration' },
    default: '25s',
    description:
      'On SIGTERM, time to finish in-flight work and commit before exiting anyway (keep below the pod terminationGracePeriodSeconds).',
  },
  {
    name: 'LOG_LEVEL',
    type: { kind: 'enum', values: LOG_LEVELS },
    default: 'info',
    description: 'pino log level.',
  },
  // ---- delivery ----
  {
    name: 'FLOWHOOK_ALLOW_HTTP',
    type: { kind: 'bool' },
    default: 'false',
    description: 'Allow http:// webhook URLs (https only otherwise).',
  },
  {
    name: 'FLOWHOOK_DESTINATION_ALLOWLIST',
    type: { kind: 'list' },
    description:
      'CIDRs and host names exempt from the private-address guard (e.g. 10.0.0.0/8,crm.internal).',
  },
  {
    name: 'FLOWHOOK_SIGNING_SECRET',
    type: { kind: 'secret' },
    description:
      'Standard Webhooks signing secret(s), whsec_…; several (space separated) during rotation.',
  },
  {
    name: 'FLOWHOOK_SECRETS_DIR',
    type: { kind: 'string' },
    description: 'Directory of files read by {{ secrets.NAME }} in header values.',
  },
  {
    name: 'FLOWHOOK_RETRY_SCHEDULE',
    type: { kind: 'durationList' },
    description:
      'Delays between attempts, e.g. 10s,1m,10m,1h. Default: 17 retries within 24 h, exponential with jitter.',
  },
  {
    name: 'FLOWHOOK_HTTP_TIMEOUT',
    type: { kind: 'duration' },
    default: '10s',
    description: 'Per-attempt timeout of a webhook request.',
  },
  {
    name: 'FLOWHOOK_MAX_BODY_BYTES',
    type: { kind: 'int', min: 1, max: 100 * 1024 * 1024 },
    default: String(512 * 1024),
    description: 'Largest webhook body rendered or sent.',
  },
  {
    name: 'FLOWHOOK_DELIVERY_CONCURRENCY',
    type: { kind: 'int', min: 1, max: 10000 },
    default: '64',
    description: 'Webhook requests in flight per delivery process.',
  },
  {
    name: 'FLOWHOOK_DELIVERY_THREADS',
    type: { kind: 'int', min: 0, max: 64 },
    default: '1',
    description:
      'Worker threads that make the webhook HTTP requests, beside the thread that consumes Kafka; 0 makes them on that thread (a process limited to one CPU).',
  },
  {
    name: 'FLOWHOOK_HOST_CONCURRENCY',
    type: { kind: 'int', min: 1, max: 10000 },
    default: '16',
    description: 'Webhook requests in flight per destination host.',
  },
  {
    name: 'FLOWHOOK_CIRCUIT_FAILURES',
    type: { kind: 'int', min: 1, max: 10000 },
    default: '5',
    description: 'Consecutive failures after which a host is paused.',
  },
  {
    name: 'FLOWHOOK_CIRCUIT_COOLDOWN',
    type: { kind: 'duration' },
    default: '30s',
    description: 'How long a paused host waits before one probe request.',
  },
  // ---- control plane (admin role) ----
  {
    name: 'FLOWHOOK_ADMIN_PORT',
    type: { kind: 'int', min: 0, max: 65535 },
    default: '8081',
    description: 'Port of the admin API (/api/…), apart from the metrics port (0 = any free port).',
  },
  {
    name: 'FLOWHOOK_ADMIN_HOST',
    type: { kind: 'string' },
    default: '127.0.0.1',
    description:
      'Address the admin API listens on. Anything but loopback requires FLOWHOOK_OIDC_ISSUER.',
  },
  {
    name: 'FLOWHOOK_ADMIN_STATE_DIR',
    type: { kind: 'string' },
    default: '.flowhook',
    description:
      "Local state of the embedded sign-in (no FLOWHOOK_OIDC_ISSUER): the local user's TOTP secret and the issuer's keys.",
  },
  {
    name: 'FLOWHOOK_OIDC_ISSUER',
    type: { kind: 'url' },
    description:
      'OpenID Connect issuer whose bearer JWTs sign people in to the admin API (its discovery document gives the JWKS). Unset: an embedded issuer for one local user, loopback only.',
  },
  {
    name: 'FLOWHOOK_OIDC_CONSOLE_CLIENT_ID',
    type: { kind: 'string' },
    default: 'flowhook-console',
    description:
      "The web console's client at FLOWHOOK_OIDC_ISSUER: a public client (no secret) allowed the authorization code flow with PKCE, redirecting to <admin URL>/console/.",
  },
  {
    name: 'FLOWHOOK_OIDC_CONSOLE_SCOPE',
    type: { kind: 'string' },
    default: 'openid',
    description:
      'Scopes the web console asks for (space-separated); its token must carry the FLOWHOOK_OIDC_AUDIENCE (sent as the RFC 8707 resource when it is an absolute URI).',
  },
  {
    name: 'FLOWHOOK_OIDC_AUDIENCE',
    type: { kind: 'string' },
    default: 'flowhook',
    description: 'The aud a token must carry.',
  },
  {
    name: 'FLOWHOOK_OIDC_ROLE_CLAIM',
    type: { kind: 'string' },
    default: 'flowhook_role',
    description:
      'Claim holding the role (owner, admin, manager, analyst, viewer; a dotted path for nested claims; an array takes its highest role). Missing or unknown: viewer.',
  },
  {
    name: 'FLOWHOOK_OIDC_MFA_AMR',
    type: { kind: 'list' },
    default: 'mfa,otp,hwk,swk',
    description: 'amr values that count as MFA evidence (needed to add or change a webhook).',
  },
  {
    name: 'FLOWHOOK_OIDC_MFA_ACR',
    type: { kind: 'list' },
    description: 'acr values that count as MFA evidence (in addition to FLOWHOOK_OIDC_MFA_AMR).',
  },
  {
    name: 'FLOWHOOK_OIDC_ALGORITHMS',
    type: {
      kind: 'list',
      values: [
        'RS256',
        'RS384',
        'RS512',
        'PS256',
        'PS384',
        'PS512',
        'ES256',
        'ES384',
        'ES512',
        'EdDSA',
      ],
    },
    default: 'RS256,PS256,ES256,EdDSA',
    description: 'JWS algorithms accepted on tokens (none and HMAC never are).',
  },
  {
    name: 'FLOWHOOK_FLOW_SIGNING_KEY',
    type: { kind: 'secret' },
    description:
      'Ed25519 private key (PEM text, or the path of a PEM file) with which the admin role signs every flow it publishes. Set, or with FLOWHOOK_FLOW_VERIFY_KEYS, the trigger refuses webhook flows not signed by a known key.',
  },
  {
    name: 'FLOWHOOK_FLOW_VERIFY_KEYS',
    type: { kind: 'list' },
    description:
      "Ed25519 public keys (paths of PEM files) the trigger accepts flow signatures from; several during a rotation. The signing key's own public key is always accepted.",
  },
  // ---- trigger ----
  {
    name: 'SCHEMA_REGISTRY_URL',
    type: { kind: 'url' },
    description: 'Confluent-API schema registry for framed (Avro / JSON Schema) events.',
  },
  {
    name: 'FLOWHOOK_ORGANIZATION_NAME',
    type: { kind: 'string' },
    default: '',
    description: '{{ organization.name }} in templates.',
  },
  {
    name: 'FLOWHOOK_ORGANIZATION_URL',
    type: { kind: 'string' },
    default: '',
    description: '{{ organization.url }} in templates.',
  },
  {
    name: 'FLOWHOOK_TEMPLATE_TIMEOUT',
    type: { kind: 'duration' },
    default: '50ms',
    description: 'Longest time one template may render.',
  },
  {
    name: 'FLOWHOOK_TEMPLATE_MAX_LOOP',
    type: { kind: 'int', min: 1, max: 10_000_000 },
    default: '10000',
    description: 'Most loop iterations one render may run.',
  },
  {
    name: 'FLOWHOOK_ALLOW_LITERAL_CREDENTIALS',
    type: { kind: 'bool' },
    default: 'false',
    description:
      'Accept credential headers (Authorization, Cookie, X-Api-Key, …) with a literal value instead of {{ secrets.NAME }}; such values travel in clear on flowhook.jobs.',
  },
  {
    name: 'FLOWHOOK_METRIC_CATALOG',
    type: { kind: 'string' },
    description:
      'JSON file mapping Klaviyo metric ids to names ({"XyZ9aB": "Placed Order"} or the body of GET /api/metrics): a trigger may name its metric by id or by name.',
  },
  // ---- activity log and review queue (admin role) ----
  {
    name: 'FLOWHOOK_ACTIVITY_DATABASE_URL',
    type: { kind: 'secret' },
    description:
      'PostgreSQL URL (postgres://user:password@host:5432/db) of the activity store shared by every admin replica. Unset: an embedded SQLite file, FLOWHOOK_STATE_DIR/activity.sqlite, per replica.',
  },
  {
    name: 'FLOWHOOK_ACTIVITY_RETENTION',
    type: { kind: 'duration' },
    default: '30d',
    description: 'How long activity records are kept in the activity store.',
  },
  {
    name: 'FLOWHOOK_ACTIVITY_PRUNE_INTERVAL',
    type: { kind: 'duration' },
    default: '5m',
    description: 'How often records older than the retention are deleted.',
  },
  // ---- profiles ----
  {
    name: 'FLOWHOOK_PROFILE_STORE',
    type: { kind: 'bool' },
    default: 'true',
    description:
      'Keep the profile store (current profile, lists, segments, consent, metric history) for flows to read; false refuses flows whose conditions need it.',
  },
  {
    name: 'FLOWHOOK_PROFILE_TOPICS',
    type: { kind: 'list' },
    default: 'profiles',
    description:
      'Profile-update topics (canonical profile updates or Klaviyo profile-import bodies), keyed by the profile key like the event topics.',
  },
  {
    name: 'FLOWHOOK_PROFILE_HISTORY_RETENTION',
    type: { kind: 'duration' },
    default: '400d',
    description:
      "How long a profile's metric history is kept for time-bounded conditions (lifetime totals stay).",
  },
  // ---- catalog (price-drop and low-inventory triggers) ----
  {
    name: 'FLOWHOOK_CATALOG',
    type: { kind: 'bool' },
    default: 'true',
    description:
      "Read catalog items and keep each item's audience (who viewed, added to cart, started checkout, bought) for price-drop and low-inventory triggers; false refuses those flows.",
  },
  {
    name: 'FLOWHOOK_CATALOG_TOPICS',
    type: { kind: 'list' },
    default: 'catalog',
    description:
      'Catalog-item topics (Klaviyo catalog items with variants), keyed by the item id (the ProductID events carry), for price-drop and low-inventory triggers.',
  },
  {
    name: 'FLOWHOOK_CATALOG_AUDIENCE_RETENTION',
    type: { kind: 'duration' },
    default: '90d',
    description:
      'How long who viewed, added to cart, started checkout for or bought an item is kept for price-drop and low-inventory audiences: the longest flow timeframe_days allowed.',
  },
] as const satisfies readonly SettingSpec[];

export type SettingName = (typeof SETTINGS)[number]['name'];
