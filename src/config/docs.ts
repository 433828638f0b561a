import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS, type SettingSpec } from './settings';
import { FlowhookMetrics } from '../observability/metrics';

/** The README's configuration table, generated from SETTINGS (`npm run docs`). */
export function settingsTable(): string {
  const rows = (SETTINGS as readonly SettingSpec[]).map((s) => {
    const def = s.default === undefined ? '—' : s.default === '' ? '(empty)' : `\`${s.default}\``;
    return `| \`${s.name}\` | ${def} | ${s.description.replace(/\|/g, '\\|')} |`;
  });
  return ['| Setting | Default | Meaning |', '|---|---|---|', ...rows].join('\n');
}

/** The README's metrics table, generated from FlowhookMetrics (`npm run docs`). */
export function metricsTable(): string {
  const metrics = new FlowhookMetrics({ defaultMetrics: false });
  const rows = metrics.registry.getMetricsAsArray().map((m) => {
    const { name, help, labelNames } = m as unknown as {
      name: string;
      help: string;
      labelNames?: string[];
    };
    const type = m.constructor.name.toLowerCase();
    const labels = labelNames?.length ? labelNames.map((l) => `\`${l}\``).join(', ') : '—';
    return `| \`${name}\` | ${type} | ${labels} | ${help.replace(/\|/g, '\\|')} |`;
  });
  return ['| Metric | Type | Labels | Meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** `npm run docs` rewrites the generated tables of README.md in place. */
if (require.main === module) {
  const file = join(__dirname, '..', '..', '..', 'README.md');
  let text = readFileSync(file, 'utf8');
  const replace = (marker: string, table: string) => {
    const start = text.indexOf(`<!-- ${marker}:start`);
    const end = text.indexOf(`<!-- ${marker}:end`);
    text = text.slice(0, text.indexOf('\n', start) + 1) + table + '\n' + text.slice(end);
  };
  replace('settings', settingsTable());
  replace('metrics', metricsTable());
  writeFileSync(file, text);
}
