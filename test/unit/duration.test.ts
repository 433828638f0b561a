import { formatDuration, parseDuration } from '../../src/duration';

describe('parseDuration', () => {
  it('reads a number and a unit', () => {
    expect(['250ms', '10s', ' 7m ', '1.5h', '2d'].map((t) => parseDuration(t))).toEqual([
      250, 10_000, 420_000, 5_400_000, 172_800_000,
    ]);
  });

  it('refuses a bare number unless told its unit (settings read it as seconds)', () => {
    expect(parseDuration('2')).toBeUndefined();
    expect(parseDuration('2', { bareNumberUnit: 's' })).toBe(2000);
  });

  it('refuses what is not a duration', () => {
    for (const text of ['soon', '', '-1s', '1w', '1e3s'])
      expect(parseDuration(text)).toBeUndefined();
  });

  it('formats with the largest unit that divides', () => {
    expect([600_000, 1500, 7_200_000].map(formatDuration)).toEqual(['10m', '1500ms', '2h']);
  });
});
