import { SETTINGS, type SettingSpec } from './settings';

/** The README's configuration table, generated from SETTINGS (`npm run docs:config`). */
export function settingsTable(): string {
  const rows = (SETTINGS as readonly SettingSpec[]).map((s) => {
    const def = s.default === undefined ? '—' : s.default === '' ? '(empty)' : `\`${s.default}\``;
    return `| \`${s.name}\` | ${def} | ${s.description.replace(/\|/g, '\\|')} |`;
  });
  return ['| Setting | Default | Meaning |', '|---|---|---|', ...rows].join('\n');
}
