import { SETTINGS, type SettingSpec } from '../../../src/config/settings';
import { CHART_MANAGED_SETTINGS, isObject, readValues } from './chart';

const specs: readonly SettingSpec[] = SETTINGS;
const names: string[] = specs.map((s) => s.name);

describe('helm/flowhook values.yaml config', () => {
  const values = readValues();
  const config = values.config;

  it('is a mapping of setting names to strings', () => {
    expect(isObject(config)).toBe(true);
    if (!isObject(config)) return;
    const notStrings = Object.entries(config).filter(([, v]) => typeof v !== 'string');
    expect(notStrings).toEqual([]);
  });

  it('lists every setting of src/config/settings.ts that the chart does not derive, and no other', () => {
    if (!isObject(config)) throw new Error('config is not a mapping');
    const expected = names.filter((n) => !CHART_MANAGED_SETTINGS.includes(n)).sort();
    expect(Object.keys(config).sort()).toEqual(expected);
    expect(CHART_MANAGED_SETTINGS.filter((n) => !names.includes(n))).toEqual([]);
  });

  it("carries flowhook's defaults (empty = unset)", () => {
    if (!isObject(config)) throw new Error('config is not a mapping');
    const differing = specs
      .filter((s) => s.name in config)
      .map((s) => ({ name: s.name, chart: config[s.name], flowhook: s.default ?? '' }))
      .filter((d) => d.chart !== d.flowhook);
    expect(differing).toEqual([]);
  });

  it('derives FLOWHOOK_SHUTDOWN_GRACE and the pod grace period from one value', () => {
    const grace = specs.find((s) => s.name === 'FLOWHOOK_SHUTDOWN_GRACE');
    expect(`${String(values.shutdownGraceSeconds)}s`).toBe(grace?.default);
    expect(values.terminationGraceExtraSeconds).toBeGreaterThanOrEqual(5);
  });
});
