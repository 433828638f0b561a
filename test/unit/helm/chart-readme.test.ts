import { readFileSync, writeFileSync } from 'node:fs';
import {
  leafPaths,
  parseParams,
  README_FILE,
  readmeParamKeys,
  readValues,
  renderParamsTable,
  TABLE_END,
  TABLE_START,
  valueAt,
  VALUES_FILE,
} from './chart';

// values.yaml documents every parameter with a `## @param key description` line (Bitnami's
// readme-generator convention) and helm/flowhook/README.md lists them in a table generated from
// those lines. `bash scripts/helm.sh readme` (UPDATE_CHART_README=1) rewrites the table.

const valuesText = readFileSync(VALUES_FILE, 'utf8');
const params = parseParams(valuesText).flatMap((s) => s.params);
const paramKeys = params.map((p) => p.key);

describe('helm/flowhook values.yaml documentation', () => {
  it('documents parameters under sections, each once and with a description', () => {
    expect(params.length).toBeGreaterThan(50);
    expect(new Set(paramKeys).size).toBe(paramKeys.length);
    expect(params.filter((p) => p.description === '').map((p) => p.key)).toEqual([]);
  });

  it('has a value for every @param', () => {
    const values = readValues();
    expect(paramKeys.filter((k) => valueAt(values, k) === undefined)).toEqual([]);
  });

  it('documents every value: each leaf has a @param for itself or an enclosing key', () => {
    const documented = new Set(paramKeys);
    const covered = (path: string) => {
      const parts = path.split('.');
      return parts.some((_, i) => documented.has(parts.slice(0, i + 1).join('.')));
    };
    expect(leafPaths(readValues()).filter((p) => !covered(p))).toEqual([]);
  });
});

describe('helm/flowhook README.md parameters table', () => {
  const expected = renderParamsTable(valuesText);
  if (process.env.UPDATE_CHART_README === '1') {
    const readme = readFileSync(README_FILE, 'utf8');
    const start = readme.indexOf(TABLE_START);
    const end = readme.indexOf(TABLE_END);
    if (start < 0 || end < start) throw new Error(`README.md lacks ${TABLE_START} … ${TABLE_END}`);
    const updated = `${readme.slice(0, start + TABLE_START.length)}\n\n${expected}${readme.slice(end)}`;
    writeFileSync(README_FILE, updated);
  }
  const readme = readFileSync(README_FILE, 'utf8');

  it('lists every @param of values.yaml, and nothing else', () => {
    const inReadme = readmeParamKeys(readme);
    expect(paramKeys.filter((k) => !inReadme.includes(k))).toEqual([]);
    expect(inReadme.filter((k) => !paramKeys.includes(k))).toEqual([]);
    expect(inReadme).toEqual(paramKeys);
  });

  it('matches values.yaml (descriptions and defaults); `bash scripts/helm.sh readme` regenerates it', () => {
    const start = readme.indexOf(TABLE_START) + TABLE_START.length;
    const end = readme.indexOf(TABLE_END);
    expect(readme.slice(start, end).trim()).toBe(expected.trim());
  });
});
