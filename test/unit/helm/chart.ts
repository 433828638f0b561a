// Helpers for the Helm chart tests: values.yaml and its `## @param` documentation, the README's
// parameters table, and rendering the chart with the pinned helm (scripts/helm.sh).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export const ROOT = join(__dirname, '..', '..', '..');
export const CHART = join(ROOT, 'helm', 'flowhook');
export const VALUES_FILE = join(CHART, 'values.yaml');
export const README_FILE = join(CHART, 'README.md');
export const HELM_SCRIPT = join(ROOT, 'scripts', 'helm.sh');

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function readValues(): JsonObject {
  const values: unknown = parse(readFileSync(VALUES_FILE, 'utf8'));
  if (!isObject(values)) throw new Error(`${VALUES_FILE} is not a mapping`);
  return values;
}

/** The value at a dotted key path, or undefined. */
export function valueAt(values: JsonObject, key: string): Json | undefined {
  let node: Json | undefined = values;
  for (const part of key.split('.')) {
    if (!isObject(node) || !(part in node)) return undefined;
    node = node[part];
  }
  return node;
}

// `config:` in helm/flowhook/values.yaml maps onto flowhook's settings by their environment
// names, with flowhook's own defaults; the settings below are derived by the chart instead
// (templates/_helpers.tpl, flowhook.validate and flowhook.env.common). A setting added to
// src/config/settings.ts must be added here or to values.yaml.
export const CHART_MANAGED_SETTINGS = [
  'FLOWHOOK_ROLES', // one Deployment per role
  'FLOWHOOK_INSTANCE_ID', // the pod name
  'FLOWHOOK_STATE_DIR', // stateStore.mountPath
  'FLOWHOOK_HTTP_PORT', // containerPorts.http
  'FLOWHOOK_SHUTDOWN_GRACE', // shutdownGraceSeconds
  'KAFKA_SASL_PASSWORD', // never in a ConfigMap: kafka.sasl.* → KAFKA_SASL_PASSWORD_FILE
  'KAFKA_SASL_PASSWORD_FILE',
  'KAFKA_SSL_CA_FILE', // kafka.tls.*
  'KAFKA_SSL_CERT_FILE',
  'KAFKA_SSL_KEY_FILE',
  'FLOWHOOK_SIGNING_SECRET', // signing.*
  'FLOWHOOK_SECRETS_DIR', // headerSecrets.*
  'FLOWHOOK_ACTIVITY_DATABASE_URL', // a credential: from a Secret, with the admin role's Deployment
  'FLOWHOOK_FLOW_SIGNING_KEY', // a private key: never in a ConfigMap (the admin role is not deployed yet)
];

// ---- `## @param` documentation (Bitnami readme-generator style) ----

export interface ChartParam {
  key: string;
  description: string;
}
export interface ChartSection {
  title: string;
  params: ChartParam[];
}

export function parseParams(valuesText: string): ChartSection[] {
  const sections: ChartSection[] = [];
  for (const line of valuesText.split('\n')) {
    const section = /^\s*## @section (.+?)\s*$/.exec(line);
    if (section) {
      sections.push({ title: section[1], params: [] });
      continue;
    }
    const param = /^\s*## @param (\S+)\s*(.*?)\s*$/.exec(line);
    if (param) {
      if (sections.length === 0) throw new Error(`@param ${param[1]} before any @section`);
      sections[sections.length - 1].params.push({ key: param[1], description: param[2] });
    }
  }
  return sections;
}

/** Paths of every leaf of the values: scalars, lists, and empty mappings. */
export function leafPaths(node: Json, prefix = ''): string[] {
  if (isObject(node) && Object.keys(node).length > 0) {
    return Object.entries(node).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
  }
  return [prefix];
}

function cellValue(value: Json): string {
  if (value === '') return '`""`';
  if (value === null) return '`nil`';
  if (typeof value === 'string') return '`' + value + '`';
  if (typeof value === 'number' || typeof value === 'boolean') return '`' + String(value) + '`';
  return '`' + JSON.stringify(value) + '`';
}

const escapeCell = (text: string) => text.replace(/\|/g, '\\|');

/** The README's parameters section, generated from values.yaml. */
export function renderParamsTable(valuesText: string): string {
  const values: unknown = parse(valuesText);
  if (!isObject(values)) throw new Error('values.yaml is not a mapping');
  const out: string[] = [];
  for (const section of parseParams(valuesText)) {
    out.push(`### ${section.title}`, '', '| Name | Description | Value |', '| --- | --- | --- |');
    for (const p of section.params) {
      const value = valueAt(values, p.key);
      if (value === undefined) throw new Error(`@param ${p.key} has no value in values.yaml`);
      out.push(`| \`${p.key}\` | ${escapeCell(p.description)} | ${escapeCell(cellValue(value))} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

export const TABLE_START =
  '<!-- parameters:start (generated from values.yaml by `bash scripts/helm.sh readme`) -->';
export const TABLE_END = '<!-- parameters:end -->';

/** The keys in the first column of the README's parameter tables. */
export function readmeParamKeys(readme: string): string[] {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start)
    throw new Error(`README.md lacks the ${TABLE_START} … ${TABLE_END} block`);
  return [...readme.slice(start, end).matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
}

// ---- rendering ----

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: Json | undefined | Manifest['metadata'];
}

/** Runs scripts/helm.sh (which builds the pinned helm on first use) and returns its stdout. */
export function helmScript(args: string[]): string {
  return execFileSync('bash', [HELM_SCRIPT, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** `helm template` output split into objects (empty documents dropped). */
export function parseManifests(text: string, source: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0].message}`);
    const obj: unknown = doc.toJSON();
    if (obj === null || obj === undefined) continue;
    if (!isObject(obj) || typeof obj.kind !== 'string' || typeof obj.apiVersion !== 'string') {
      throw new Error(
        `${source}: a document without apiVersion/kind: ${JSON.stringify(obj).slice(0, 200)}`,
      );
    }
    out.push(obj as unknown as Manifest);
  }
  return out;
}

/** Renders the chart with every ci/*-values.yaml into a new directory; objects by values name. */
export function renderCiValues(): { dir: string; rendered: Map<string, Manifest[]> } {
  const dir = mkdtempSync(join(tmpdir(), 'flowhook-helm-'));
  helmScript(['render', dir]);
  const rendered = new Map<string, Manifest[]>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    const path = join(dir, file);
    rendered.set(file.replace(/\.yaml$/, ''), parseManifests(readFileSync(path, 'utf8'), path));
  }
  return { dir, rendered };
}
