import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { buildConfig, type RawSettings } from '../../../src/config/load';
import { SETTINGS, type SettingSpec } from '../../../src/config/settings';

// A setting in the table that nothing reads is a lie in the README and the Helm chart. For each
// setting: give it another valid value, see which configuration fields change, and require
// that code outside src/config reads one of them (or an enclosing field it hands on whole).

const SRC = join(__dirname, '..', '..', '..', 'src');
const dir = mkdtempSync(join(tmpdir(), 'flowhook-settings-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const PEM = '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n';
const flowKeys = generateKeyPairSync('ed25519');
const pem = (key: typeof flowKeys.privateKey, type: 'pkcs8' | 'spki') =>
  key.export({ type, format: 'pem' }).toString();

/** Settings that only take effect together with others. */
const BASE: RawSettings = {
  KAFKA_SSL: 'true',
  KAFKA_SASL_MECHANISM: 'plain',
  KAFKA_SASL_USERNAME: 'user',
  KAFKA_SASL_PASSWORD: 'password',
};

/** Values that a generic one per type cannot give. */
const VALUES: RawSettings = {
  KAFKA_SSL_CA_FILE: file('ca.pem', PEM),
  KAFKA_SSL_CERT_FILE: file('cert.pem', PEM),
  KAFKA_SSL_KEY_FILE: file('key.pem', PEM),
  KAFKA_SASL_PASSWORD_FILE: file('password', 'from-file\n'),
  KAFKA_SASL_MECHANISM: 'scram-sha-256',
  FLOWHOOK_SIGNING_SECRET: `whsec_${Buffer.from('another key').toString('base64')}`,
  FLOWHOOK_METRIC_CATALOG: file('metrics.json', '{"XyZ9aB": "Placed Order"}'),
  FLOWHOOK_ACTIVITY_RETENTION: '2d',
  FLOWHOOK_FLOW_SIGNING_KEY: file('flow-signing.pem', pem(flowKeys.privateKey, 'pkcs8')),
  FLOWHOOK_FLOW_VERIFY_KEYS: file('flow-verify.pem', pem(flowKeys.publicKey, 'spki')),
};

function otherValue(spec: SettingSpec): string {
  const given = VALUES[spec.name];
  if (given !== undefined) return given;
  const t = spec.type;
  const d = BASE[spec.name] ?? spec.default;
  switch (t.kind) {
    case 'int':
      return String(d === String(t.min) ? t.min + 1 : t.min);
    case 'duration':
      return d === '7s' ? '8s' : '7s';
    case 'durationList':
      return '3s,4s';
    case 'bool':
      return d === 'true' ? 'false' : 'true';
    case 'enum':
    case 'list':
      return t.values?.find((v) => v !== d) ?? 'another';
    case 'url':
      return 'https://another.example';
    default:
      return 'another';
  }
}

function leaves(value: unknown, path: string[], out: Map<string, string>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    if (!(value instanceof RegExp)) {
      for (const [k, v] of Object.entries(value)) leaves(v, [...path, k], out);
      return;
    }
  }
  out.set(path.join('.'), value instanceof RegExp ? String(value) : JSON.stringify(value));
}

function changedFields(spec: SettingSpec): string[] {
  const before = new Map<string, string>();
  const after = new Map<string, string>();
  leaves(buildConfig(BASE), [], before);
  leaves(buildConfig({ ...BASE, [spec.name]: otherValue(spec) }), [], after);
  return [...new Set([...before.keys(), ...after.keys()])].filter(
    (k) => before.get(k) !== after.get(k),
  );
}

function sourcesOutsideConfig(dirPath: string): string[] {
  return readdirSync(dirPath).flatMap((name) => {
    const path = join(dirPath, name);
    if (statSync(path).isDirectory()) {
      return relative(SRC, path) === 'config' ? [] : sourcesOutsideConfig(path);
    }
    return name.endsWith('.ts') ? [readFileSync(path, 'utf8')] : [];
  });
}
const code = sourcesOutsideConfig(SRC).join('\n');

/** `a.b.c` is read when `.c` is accessed, or `.b` (handed on whole); the group `a` is not enough. */
function isRead(field: string): boolean {
  const segments = field.split('.');
  const candidates = segments.length > 1 ? segments.slice(1) : segments;
  return candidates.some((name) => new RegExp(`\\.${name}\\b|[{,]\\s*${name}\\s*[,}:]`).test(code));
}

describe('settings', () => {
  it.each((SETTINGS as readonly SettingSpec[]).map((s) => [s.name, s]))(
    '%s changes the configuration and is read by the code',
    (_name, spec) => {
      const fields = changedFields(spec);
      expect(fields).not.toEqual([]);
      expect(fields.filter(isRead)).not.toEqual([]);
    },
  );
});
