import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { metricsTable, settingsTable } from '../../src/config/docs';

// The README's tables are part of the interface: they must say what the code does.
const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

function between(start: string, end: string): string {
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < 0) throw new Error(`README lacks the markers ${start} … ${end}`);
  return readme.slice(readme.indexOf('\n', from) + 1, to).trim();
}

describe('README', () => {
  it('has the configuration table generated from the settings', () => {
    expect(between('<!-- settings:start', '<!-- settings:end')).toBe(settingsTable());
  });

  it('has the metrics table generated from the metrics the service exports', () => {
    expect(between('<!-- metrics:start', '<!-- metrics:end')).toBe(metricsTable());
  });

  it('has a two-command quick start: run the service, run the tests', () => {
    expect(readme).toMatch(/## Quick start[\s\S]*npm start[\s\S]*npm test/);
  });
});
