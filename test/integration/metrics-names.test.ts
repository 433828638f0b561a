import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { buildConfig } from '../../src/config/load';
import { ROLE_FACTORIES } from '../../src/roles';
import { FlowhookService } from '../../src/service/service';
import { testSettings } from '../support/flowhook-harness';
import { createTopic, silentLogger, testKafka, uniqueName } from '../support/kafka';
import { waitFor } from '../support/wait';

// Every metric the Grafana dashboard and the alert rules of the Helm chart query must be one a
// running flowhook exports: a renamed or removed metric would otherwise leave a silent panel or
// an alert that can never fire. The service runs every role with the production metrics set-up
// (flowhook_* plus prom-client's process and Node.js metrics), as `flowhook run` does.

const CHART = join(__dirname, '..', '..', 'helm', 'flowhook');

const PROMQL_KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'and',
  'or',
  'unless',
  'atan2',
  'inf',
  'nan',
]);

/** Metric names an expression selects (function names, labels and keywords removed). */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery selectors
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\$\{?\w+\}?/g, ' '); // Grafana variables, the chart's $threshold
  const names = [...stripped.matchAll(/(?<![\w:.])([a-zA-Z_:][\w:]*)\b(?!\s*\()/g)].map(
    (m) => m[1],
  );
  return names.filter((n) => !PROMQL_KEYWORDS.has(n.toLowerCase()));
}

interface Query {
  where: string;
  expr: string;
}

function dashboardQueries(): Query[] {
  const dashboard = JSON.parse(
    readFileSync(join(CHART, 'dashboards', 'flowhook.json'), 'utf8'),
  ) as {
    panels: { title: string; targets?: { expr: string }[]; panels?: unknown[] }[];
    templating: { list: { name: string; type: string; definition?: string }[] };
  };
  const queries: Query[] = [];
  for (const panel of dashboard.panels) {
    for (const t of panel.targets ?? [])
      queries.push({ where: `panel "${panel.title}"`, expr: t.expr });
  }
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query' || !v.definition) continue;
    // label_values(METRIC{…}, label): only the first argument is a selector.
    const m = /^label_values\(\s*([^,]+),/.exec(v.definition);
    if (!m) throw new Error(`variable ${v.name}: unexpected query ${v.definition}`);
    queries.push({ where: `variable $${v.name}`, expr: m[1] });
  }
  return queries;
}

function alertQueries(): Query[] {
  const rules = parse(readFileSync(join(CHART, 'rules', 'alerts.yaml'), 'utf8')) as {
    alert: string;
    expr: string;
  }[];
  return rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }));
}

/** `# TYPE name type` lines of a Prometheus text exposition. */
function exportedTypes(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1], m[2]);
  return types;
}

/** Whether a queried name is exported: itself, or a histogram's / summary's series. */
function isExported(name: string, types: Map<string, string>): boolean {
  if (types.has(name)) return true;
  const m = /^(.+)_(bucket|sum|count)$/.exec(name);
  if (!m) return false;
  const type = types.get(m[1]);
  return type === 'histogram' || (type === 'summary' && m[2] !== 'bucket');
}

describe('metric names in PromQL', () => {
  it('finds selectors and leaves out functions, labels, keywords and variables', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, group) (rate(flowhook_batch_duration_seconds_bucket{namespace=~"$namespace"}[$__rate_interval])))',
      ),
    ).toEqual(['flowhook_batch_duration_seconds_bucket']);
    expect(
      metricNames(
        'rate(process_cpu_seconds_total{a="b"}[5m]) * on (job, instance) group_left (roles) flowhook_build_info',
      ),
    ).toEqual(['process_cpu_seconds_total', 'flowhook_build_info']);
    expect(
      metricNames(
        'sum by (g) (max by (g, p) (flowhook_consumer_lag offset 15m)) > $threshold unless count(up == 0) or vector(1.5e3)',
      ),
    ).toEqual(['flowhook_consumer_lag', 'up']);
  });
});

describe('the Helm chart’s dashboard and alert rules', () => {
  const queries = [...dashboardQueries(), ...alertQueries()];
  let service: FlowhookService | undefined;
  let exposition = '';

  beforeAll(async () => {
    const prefix = `${uniqueName('metrics')}.`;
    const kafka = testKafka();
    await createTopic(kafka, `${prefix}events`, 1);
    const config = buildConfig(
      testSettings(prefix, {
        FLOWHOOK_ROLES: 'trigger,delivery,delay',
        FLOWHOOK_EVENT_TOPICS: `${prefix}events`,
        FLOWHOOK_PROFILE_TOPICS: `${prefix}profiles`,
        FLOWHOOK_CATALOG_TOPICS: `${prefix}catalog`,
      }),
    ) as ReturnType<typeof buildConfig> & { kafka: { brokers: string[] } };
    // No `metrics` option: the service builds FlowhookMetrics() with the default process
    // metrics, as in production (the test harness leaves them out).
    service = new FlowhookService({ config, logger: silentLogger, roles: ROLE_FACTORIES });
    await service.start();
    await waitFor(() => service?.isReady(), { what: 'every role ready', timeoutMs: 60_000 });
    // flowhook_ready is refreshed once a second after start.
    await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${service?.httpPort}/metrics`);
        exposition = await res.text();
        return res.status === 200 && /^flowhook_ready\{role="delay"\} 1$/m.test(exposition);
      },
      { what: '/metrics with flowhook_ready', timeoutMs: 15_000 },
    );
  }, 120_000);

  afterAll(async () => {
    await service?.stop();
  });

  it('query something (the parser found the metrics)', () => {
    const names = new Set(queries.flatMap((q) => metricNames(q.expr)));
    expect(queries.length).toBeGreaterThan(30);
    expect(names.size).toBeGreaterThan(25);
    for (const expected of [
      'flowhook_events_consumed_total',
      'flowhook_webhook_attempts_total',
      'flowhook_webhook_attempt_duration_seconds_bucket',
      'flowhook_webhook_end_to_end_seconds_bucket',
      'flowhook_webhook_dlq_total',
      'flowhook_consumer_lag',
      'flowhook_circuit_open',
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
    ]) {
      expect(names).toContain(expected);
    }
  });

  it('query only metrics a running flowhook exports', () => {
    const types = exportedTypes(exposition);
    expect(types.get('flowhook_build_info')).toBe('gauge');
    const missing = queries.flatMap((q) =>
      metricNames(q.expr)
        .filter((n) => !isExported(n, types))
        .map((n) => `${n} (${q.where})`),
    );
    expect(missing).toEqual([]);
  });
});
