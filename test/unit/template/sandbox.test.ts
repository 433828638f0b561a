// The sandbox: a template sees its context and nothing else. Known nunjucks escapes are
// refused when the template is checked, and lookups are safe at run time anyway.
import {
  checkTemplate,
  compileTemplate,
  renderBody,
  renderHeader,
  TemplateSyntaxError,
} from '../../../src/template';
import { getMember } from '../../../src/template/values';
import { makeInput } from './helpers';

const escapes = [
  '{{ range.constructor("return process")() }}',
  "{{ ''.constructor.constructor('return process')() }}",
  '{{ "".constructor.constructor("return this")().process.exit() }}',
  '{{ cycler.constructor("return global")() }}',
  '{{ joiner.constructor.prototype }}',
  '{{ person.__proto__ }}',
  '{{ person.__proto__.polluted }}',
  '{{ event.constructor }}',
  '{{ event.prototype }}',
  '{{ lipsum.__globals__ }}',
  '{{ self.__init__ }}',
  '{{ "".toString() }}',
  '{{ [].map }}',
  '{{ {}.constructor }}',
  '{{ x if y else z }}',
  '{{ range(10) }}',
  "{{ person|lookup:'constructor' }}",
  "{{ person|lookup:'__proto__' }}",
  '{% set x = range.constructor %}',
  '{% include "/etc/passwd" %}',
  '{% import "/etc/passwd" as x %}',
  '{% extends "/etc/passwd" %}',
  '{% raw %}{{ x }}{% endraw %}',
  '{% macro m() %}{% endmacro %}',
  '{% call m() %}{% endcall %}',
  '{% filter upper %}x{% endfilter %}',
];

describe('sandbox: escapes are refused when checked', () => {
  it.each(escapes.map((t) => [t]))('%s', (template) => {
    expect(checkTemplate(template, 'header').length).toBeGreaterThan(0);
    expect(() => compileTemplate(template, 'body')).toThrow(TemplateSyntaxError);
  });
});

describe('sandbox: what does compile reaches nothing', () => {
  const input = makeInput();
  const harmless = [
    '{{ range }}',
    '{{ cycler }}',
    '{{ joiner }}',
    '{{ this }}',
    '{{ process }}',
    '{{ global }}',
    '{{ globalThis }}',
    '{{ require }}',
    '{{ loop }}',
    '{{ person.toString }}',
    '{{ person.valueOf }}',
    '{{ person.hasOwnProperty }}',
    '{{ event.toString }}',
    '{{ event.Items.map }}',
    '{{ event.Items.length }}',
    '{{ event.OrderId.length }}',
    '{{ event.OrderId.toUpperCase }}',
    '{{ now.getTime }}',
    '{{ flow.constructor_name }}',
    '{{ event.OrderId|escapejs|lookup:"text" }}',
  ];

  it.each(harmless.map((t) => [t]))('%s renders nothing', (template) => {
    expect(renderHeader(compileTemplate(template, 'header'), input)).toBe('');
  });

  it('lookups with keys from data cannot reach prototypes or functions', () => {
    const t = compileTemplate(
      '{% for k in event.keys %}[{{ event|lookup:k }}{{ person|lookup:k }}{{ event.OrderId|lookup:k }}]{% endfor %}',
      'header',
    );
    const keys = [
      'constructor',
      '__proto__',
      'prototype',
      'toString',
      'valueOf',
      'length',
      '__defineGetter__',
    ];
    const event = { keys, OrderId: 'A' };
    expect(renderHeader(t, makeInput({ event }))).toBe('[]'.repeat(keys.length));
  });

  it('own data under a dangerous name is only data', () => {
    const event = JSON.parse('{"__proto__": {"polluted": 1}, "constructor": "c"}') as Record<
      string,
      never
    >;
    const t = compileTemplate(
      "{% with c='constructor' k='__proto__' %}{{ event|lookup:c }}|{{ event|lookup:k|tojson }}{% endwith %}",
      'header',
    );
    expect(renderHeader(t, makeInput({ event }))).toBe('c|{"polluted":1}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('renders leave global state untouched', () => {
    const before = Object.getOwnPropertyNames(globalThis).length;
    const t = compileTemplate(
      '{"a": "{% with c=event.x %}{{ c }}{% endwith %}{% for x in event.l %}{{ range }}{{ x }}{% endfor %}"}',
      'body',
    );
    expect(JSON.parse(renderBody(t, makeInput({ event: { x: 1, l: [2] } })))).toEqual({ a: '12' });
    expect(Object.getOwnPropertyNames(globalThis).length).toBe(before);
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});

describe('getMember (the only way templates read data)', () => {
  it('reads own data of plain objects and arrays', () => {
    expect(getMember({ a: 1 }, 'a')).toBe(1);
    expect(getMember([10, 20], 1)).toBe(20);
    expect(getMember([10, 20], '1')).toBe(20);
    expect(getMember('abc', 1)).toBe('b');
  });

  it.each([
    [{}, 'constructor'],
    [{}, '__proto__'],
    [{}, 'toString'],
    [{}, 'hasOwnProperty'],
    [[], 'map'],
    [[], 'length'],
    [[], 'constructor'],
    [[1], '-1'],
    [[1], '01'],
    ['abc', 'constructor'],
    ['abc', 'length'],
    [new Date(), 'getTime'],
    [new Date(), 'constructor'],
    [() => 1, 'call'],
    [{ f: () => 1 }, 'f'],
    [new Map([['a', 1]]), 'a'],
    [Object.create({ inherited: 1 }) as object, 'inherited'],
    [null, 'x'],
    [undefined, 'x'],
    [42, 'toFixed'],
  ])('%p . %s is undefined', (obj, key) => {
    expect(getMember(obj, key)).toBeUndefined();
  });
});

describe('names that look like JavaScript internals', () => {
  it.each([['{{ toString }}'], ['{{ valueOf }}'], ['{{ hasOwnProperty }}']])(
    '%s is just a missing variable',
    (template) => {
      expect(checkTemplate(template, 'header')).toEqual([]);
      expect(renderHeader(compileTemplate(template, 'header'), makeInput())).toBe('');
    },
  );

  it.each([
    ['{% toString %}', /unknown tag 'toString'/],
    ['{% templatetag constructor_ %}', /templatetag/],
    ['{% templatetag toString %}', /templatetag/],
    ['{{ x|toString }}', /unknown filter 'toString'/],
    ['{{ x|hasOwnProperty }}', /unknown filter 'hasOwnProperty'/],
  ])('%s is refused with a clear message', (template, message) => {
    const problems = checkTemplate(template, 'header');
    expect(problems.map((p) => p.message).join()).toMatch(message);
    expect(problems.every((p) => typeof p.message === 'string')).toBe(true);
  });

  it.each([
    ['{% for x in event.l %}{{ forloop.toString }}{% endfor %}'],
    ['{% for x in event.l %}{{ forloop.hasOwnProperty }}{% endfor %}'],
  ])('%s is refused', (template) => {
    expect(checkTemplate(template, 'header')[0]?.message).toMatch(/forloop\.counter/);
  });

  it('a custom property named __proto__ stays a plain key of person', () => {
    const profile = JSON.parse(
      '{"email": "a@b.c", "properties": {"__proto__": {"x": 1}}}',
    ) as never;
    const t = compileTemplate(
      "{{ person|length }}|{% with k='__proto__' %}{{ person|lookup:k|tojson }}{% endwith %}|{{ person|tojson }}",
      'header',
    );
    expect(renderHeader(t, makeInput({ profile }))).toBe(
      '2|{"x":1}|{"__proto__":{"x":1},"email":"a@b.c"}',
    );
  });
});

describe('odd but valid names', () => {
  it('handles huge numeric path segments and unicode names', () => {
    const t = compileTemplate(
      '[{{ event.l.100000000000000000000000 }}][{{ event.Präis }}][{{ event.l.0 }}]',
      'header',
    );
    expect(renderHeader(t, makeInput({ event: { l: ['a'], Präis: 3 } }))).toBe('[][3][a]');
  });
});
