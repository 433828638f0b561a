import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startFlowhook, type Harness } from '../support/flowhook-harness';

// The chart's alert rules evaluated by Prometheus' own promtool (Debian's `prometheus`
// package; .ci/run installs it): `check rules`, `test rules` with one case per alert (fires on
// a failing flowhook, silent on a healthy one), and `check metrics` on a real /metrics scrape.

const ROOT = join(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'flowhook-promtool-'));

function promtool(args: string[], input?: string): { code: number | null; output: string } {
  const r = spawnSync('promtool', args, { input, encoding: 'utf8' });
  if (r.error) {
    throw new Error(
      `promtool is not installed (Debian: apt-get install prometheus; .ci/run does it): ${r.error.message}`,
    );
  }
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

interface AlertSource {
  key: string;
  alert: string;
  expr: string;
  summary: string;
  description: string;
}
interface RuleSettings {
  enabled: boolean;
  threshold: number;
  for: string;
  severity: string;
}

/** rules/alerts.yaml with the chart's default settings, as templates/prometheusrule.yaml renders it. */
function renderedRules(): {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}[] {
  const sources = parse(
    readFileSync(join(ROOT, 'helm/flowhook/rules/alerts.yaml'), 'utf8'),
  ) as AlertSource[];
  const values = parse(readFileSync(join(ROOT, 'helm/flowhook/values.yaml'), 'utf8')) as {
    metrics: { prometheusRule: { rules: Record<string, RuleSettings> } };
  };
  return sources
    .filter((s) => values.metrics.prometheusRule.rules[s.key]?.enabled)
    .map((s) => {
      const cfg = values.metrics.prometheusRule.rules[s.key] as RuleSettings;
      const threshold = String(cfg.threshold);
      return {
        alert: s.alert,
        expr: s.expr.replaceAll('$threshold', threshold).trim(),
        for: cfg.for,
        labels: { severity: cfg.severity },
        annotations: {
          summary: s.summary,
          description: s.description.replaceAll('$threshold', threshold),
        },
      };
    });
}

const NS = 'namespace="shop"';

/** Per alert: input series of a failing and of a healthy flowhook, and the alert's labels. */
const CASES: Record<
  string,
  { failing: string[][]; healthy: string[][]; at: string; labels: Record<string, string> }
> = {
  FlowhookWebhookDeadLetters: {
    failing: [[`flowhook_webhook_dlq_total{${NS}}`, '0+60x60']],
    healthy: [[`flowhook_webhook_dlq_total{${NS}}`, '0+0x60']],
    at: '30m',
    labels: { namespace: 'shop' },
  },
  FlowhookConsumerLagGrowing: {
    failing: [
      [
        `flowhook_consumer_lag{${NS},group="flowhook-delivery",topic="flowhook.jobs",partition="0"}`,
        '0+100x90',
      ],
    ],
    healthy: [
      [
        `flowhook_consumer_lag{${NS},group="flowhook-delivery",topic="flowhook.jobs",partition="0"}`,
        '5000x90',
      ],
    ],
    at: '60m',
    labels: { namespace: 'shop', group: 'flowhook-delivery' },
  },
  FlowhookCircuitsOpen: {
    failing: [[`flowhook_circuit_open{${NS},pod="d-1"}`, '1x60']],
    healthy: [[`flowhook_circuit_open{${NS},pod="d-1"}`, '0x60']],
    at: '30m',
    labels: { namespace: 'shop' },
  },
  FlowhookNoDeliveries: {
    failing: [
      [`flowhook_jobs_emitted_total{${NS}}`, '0+10x90'],
      [`flowhook_webhook_delivered_total{${NS}}`, '0x90'],
    ],
    healthy: [
      [`flowhook_jobs_emitted_total{${NS}}`, '0+10x90'],
      [`flowhook_webhook_delivered_total{${NS}}`, '0+10x90'],
    ],
    at: '60m',
    labels: { namespace: 'shop' },
  },
  FlowhookRoleNotReady: {
    failing: [[`flowhook_ready{${NS},role="delivery",pod="d-1"}`, '0x60']],
    healthy: [[`flowhook_ready{${NS},role="delivery",pod="d-1"}`, '1x60']],
    at: '30m',
    labels: { namespace: 'shop', role: 'delivery' },
  },
};

describe('alert rules under promtool', () => {
  const rules = renderedRules();
  const rulesFile = join(dir, 'rules.yaml');
  writeFileSync(rulesFile, stringify({ groups: [{ name: 'flowhook', rules }] }));

  it('pass promtool check rules', () => {
    const r = promtool(['check', 'rules', rulesFile]);
    expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.code).toBe(0);
  });

  it('fire on a failing flowhook and stay silent on a healthy one (promtool test rules)', () => {
    expect(Object.keys(CASES).sort()).toEqual(rules.map((r) => r.alert).sort());
    // Annotations are Prometheus templates over $value; the cases check expr, for and labels.
    const bare = join(dir, 'bare-rules.yaml');
    writeFileSync(
      bare,
      stringify({
        groups: [{ name: 'flowhook', rules: rules.map(({ annotations: _a, ...r }) => r) }],
      }),
    );
    const tests = Object.entries(CASES).flatMap(([alert, c]) => {
      const severity = rules.find((r) => r.alert === alert)?.labels.severity as string;
      const series = (s: string[][]) => s.map(([name, values]) => ({ series: name, values }));
      return [
        {
          name: `${alert} fires on a failing flowhook`,
          interval: '1m',
          input_series: series(c.failing),
          alert_rule_test: [
            {
              eval_time: c.at,
              alertname: alert,
              exp_alerts: [{ exp_labels: { ...c.labels, severity } }],
            },
          ],
        },
        {
          name: `${alert} stays silent on a healthy flowhook`,
          interval: '1m',
          input_series: series(c.healthy),
          alert_rule_test: [{ eval_time: c.at, alertname: alert, exp_alerts: [] }],
        },
      ];
    });
    const testsFile = join(dir, 'tests.yaml');
    writeFileSync(testsFile, stringify({ rule_files: [bare], evaluation_interval: '1m', tests }));
    const r = promtool(['test', 'rules', testsFile]);
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  describe('on a real scrape', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startFlowhook({
        name: 'prom',
        settings: { FLOWHOOK_ROLES: 'trigger,delivery,delay' },
      });
    });
    afterAll(async () => {
      await h?.stop();
    });

    it('/metrics passes promtool check metrics', async () => {
      const res = await fetch(`http://127.0.0.1:${h.service.httpPort}/metrics`);
      const text = await res.text();
      expect(text).toContain('flowhook_ready');
      const r = promtool(['check', 'metrics'], text);
      expect(r.output).toBe('');
      expect(r.code).toBe(0);
    });
  });
});
