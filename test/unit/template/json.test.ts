// The JSON checker that locates errors: it must accept exactly what JSON.parse accepts.
import { findJsonError, lineColumn } from '../../../src/template/json';
import { prng } from './helpers';

function parses(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

const SAMPLES = [
  '{}',
  '[]',
  ' { "a" : [ 1 , 2.5e-3 , -0 , true , false , null , "x\\u00e9\\n" ] } ',
  '"just a string"',
  '0',
  '-12.5E+3',
  '{"a":{"b":{"c":[[[]]]}}}',
  '',
  ' ',
  '{',
  '}',
  '{"a" 1}',
  '{"a":1,}',
  '[1,]',
  '[,1]',
  '{,}',
  '{"a":1 "b":2}',
  '[01]',
  '[1.]',
  '[.5]',
  '[1e]',
  '[+1]',
  '[-]',
  '["\\x41"]',
  '["\\u12G4"]',
  '["a\nb"]',
  '["\t"]',
  '[tru]',
  '[nul]',
  '[True]',
  "['a']",
  '{a:1}',
  '[1] [2]',
  '[1]x',
  '\ufeff[]',
  '[NaN]',
  '[Infinity]',
  '{"a":1}}',
  '[[1]',
  '"\\"',
  '"\\/"',
];

describe('findJsonError', () => {
  it.each(SAMPLES.map((s) => [JSON.stringify(s), s]))('agrees with JSON.parse on %s', (_l, s) => {
    expect(findJsonError(s) === null).toBe(parses(s));
  });

  it('agrees with JSON.parse on random mutations of valid JSON (seeded)', () => {
    const random = prng(42);
    const seeds = [
      '{"a": [1, 2, {"b": "c\\"d"}], "e": -1.5e3, "f": true, "g": null}',
      '[{"sku": "S-1", "qty": 2}, {"sku": "M-2", "qty": 1}]',
      '{"k": "\\u2028 \\ud83d\\ude00", "n": 0}',
    ];
    const junk = [
      '"',
      ',',
      ':',
      '{',
      '}',
      '[',
      ']',
      '\\',
      '0',
      '1',
      '-',
      '.',
      'e',
      ' ',
      't',
      'n',
      '\n',
    ];
    for (let i = 0; i < 3000; i++) {
      const base = seeds[i % seeds.length] as string;
      let s = base;
      const edits = 1 + Math.floor(random() * 3);
      for (let k = 0; k < edits; k++) {
        const at = Math.floor(random() * (s.length + 1));
        const op = random();
        if (op < 0.4) s = s.slice(0, at) + s.slice(at + 1);
        else if (op < 0.8)
          s = s.slice(0, at) + (junk[Math.floor(random() * junk.length)] as string) + s.slice(at);
        else s = s.slice(0, at);
      }
      expect([s, findJsonError(s) === null]).toEqual([s, parses(s)]);
    }
  });

  it('points at the first offending character', () => {
    expect(findJsonError('{"a": 1,}')).toEqual({
      offset: 8,
      message: "unexpected '}', expected a property name in double quotes",
    });
    expect(findJsonError('[1 2]')?.offset).toBe(3);
    expect(findJsonError('{"a": "x\ny"}')?.message).toBe('control character in a string');
    expect(findJsonError('[1')?.message).toBe("unexpected end of JSON, expected ',' or ']'");
  });

  it('gives 1-based lines and columns', () => {
    expect(lineColumn('ab\ncd\nef', 0)).toEqual({ line: 1, column: 1 });
    expect(lineColumn('ab\ncd\nef', 4)).toEqual({ line: 2, column: 2 });
    expect(lineColumn('ab\ncd\nef', 6)).toEqual({ line: 3, column: 1 });
  });
});
