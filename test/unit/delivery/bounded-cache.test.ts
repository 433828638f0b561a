import { BoundedCache } from '../../../src/delivery/bounded-cache';

describe('BoundedCache', () => {
  test('computes a value once per key', () => {
    const cache = new BoundedCache<string, number>(10);
    const compute = jest.fn((key: string) => key.length);
    expect(cache.get('abc', compute)).toBe(3);
    expect(cache.get('abc', compute)).toBe(3);
    expect(cache.get('de', compute)).toBe(2);
    expect(compute.mock.calls.map(([key]) => key)).toEqual(['abc', 'de']);
  });

  test('starts over when full, so it never holds more than its limit', () => {
    const cache = new BoundedCache<number, number>(2);
    const compute = jest.fn((key: number) => key * 10);
    cache.get(1, compute);
    cache.get(2, compute);
    cache.get(3, compute); // full: cleared, then 3 remembered
    cache.get(3, compute);
    cache.get(1, compute); // forgotten: computed again
    expect(compute.mock.calls.map(([key]) => key)).toEqual([1, 2, 3, 1]);
  });

  test('does not remember a throw', () => {
    const cache = new BoundedCache<string, string>(10);
    let fail = true;
    const compute = (key: string): string => {
      if (fail) throw new Error(`bad ${key}`);
      return key;
    };
    expect(() => cache.get('x', compute)).toThrow('bad x');
    fail = false;
    expect(cache.get('x', compute)).toBe('x');
  });
});
