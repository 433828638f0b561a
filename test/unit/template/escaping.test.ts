// JSON safety: whatever a profile or event holds, a rendered body is valid JSON that decodes
// back to the original values, and no value can add keys or change the body's structure.
import {
  compileTemplate,
  renderBody,
  TemplateRenderError,
  type CompiledTemplate,
} from '../../../src/template';
import type { JsonValue } from '../../../src/documents';
import { makeInput, prng } from './helpers';

const NASTY = [
  `O'Neil "Jr"`,
  'line one\nline two\r\nline three',
  'tab\there',
  'back\\slash \\" \\\\',
  '", "admin": true, "x": "',
  '"}, {"admin": true}, {"x": "',
  '</script><script>alert(1)</script>',
  '\u2028 and \u2029',
  'emoji 😀 and flags 🇫🇷',
  'lone surrogates \ud800 and \udfff',
  'control \u0000\u0001\u001f\u007f',
  '{{ secrets.API_KEY }} {% if %}',
  '\\u0022 not an escape',
  '',
  ' ',
];

function renderWith(t: CompiledTemplate, event: Record<string, JsonValue>): string {
  return renderBody(t, makeInput({ event }));
}

describe('JSON escaping of values inside strings', () => {
  const t = compileTemplate('{"name": "{{ event.v }}", "upper": "{{ event.v|upper }}"}', 'body');

  it.each(NASTY.map((s) => [JSON.stringify(s), s]))('%s parses back to itself', (_label, s) => {
    const out = renderWith(t, { v: s });
    const parsed = JSON.parse(out) as Record<string, unknown>;
    expect(parsed).toEqual({ name: s, upper: s.toUpperCase() });
    expect(Object.keys(parsed)).toEqual(['name', 'upper']);
  });

  it('escapes U+2028/2029 and control characters instead of writing them raw', () => {
    const out = renderWith(t, { v: '\u2028\u2029\u0000\n' });
    for (const raw of ['\u2028', '\u2029', '\u0000', '\n']) expect(out.includes(raw)).toBe(false);
    expect(out).toContain('\\u2028\\u2029\\u0000\\n');
  });

  it('keeps "</script>" as it is (valid JSON, same value)', () => {
    expect(renderWith(t, { v: '</script>' })).toContain('"</script>"');
  });

  it('round-trips random strings made of hostile characters (seeded)', () => {
    const alphabet = [
      '"',
      '\\',
      "'",
      '\n',
      '\r',
      '\t',
      '\u0000',
      '\u001f',
      '\u2028',
      '\u2029',
      '\ud83d',
      '\ude00',
      '😀',
      '{',
      '}',
      '[',
      ']',
      ':',
      ',',
      '{{',
      '%}',
      'a',
      'é',
      ' ',
      '/',
      '<',
      '>',
      '&',
    ];
    const random = prng(20240305);
    for (let i = 0; i < 500; i++) {
      const len = Math.floor(random() * 24);
      let s = '';
      for (let j = 0; j < len; j++) s += alphabet[Math.floor(random() * alphabet.length)];
      const parsed = JSON.parse(renderWith(t, { v: s })) as Record<string, unknown>;
      expect(parsed.name).toBe(s);
      expect(Object.keys(parsed)).toEqual(['name', 'upper']);
    }
  });

  it('escapes values from every source: profile, organization, loops, filters', () => {
    const body = compileTemplate(
      '{"p": "{{ person.first_name }}", "o": "{{ organization.name }}", ' +
        '"l": "{% for x in event.l %}{{ x }}|{% endfor %}", "j": "{{ event.l|join:"," }}"}',
      'body',
    );
    const input = makeInput({ event: { l: ['"a"', 'b\\'] } });
    input.profile = { first_name: '"}' };
    input.organization = { name: 'A "B" \\ C' };
    expect(JSON.parse(renderBody(body, input))).toEqual({
      p: '"}',
      o: 'A "B" \\ C',
      l: '"a"|b\\|',
      j: '"a",b\\',
    });
  });

  it('escapes objects and lists printed inside a string (as JSON text)', () => {
    const body = compileTemplate('{"x": "{{ event.o }}"}', 'body');
    const o = { k: 'v"', n: [1, '2'] };
    const parsed = JSON.parse(renderWith(body, { o })) as { x: string };
    expect(JSON.parse(parsed.x)).toEqual(o);
  });

  it('escapejs output inside a string decodes back to the original', () => {
    const body = compileTemplate('{"x": "{{ event.v|escapejs }}"}', 'body');
    for (const s of NASTY) {
      expect(JSON.parse(renderWith(body, { v: s }))).toEqual({ x: s });
    }
  });

  it('tojson inside a string becomes JSON text, so it cannot inject keys', () => {
    const body = compileTemplate('[{"x": "{{ event.o|tojson }}"}, 2]', 'body');
    // Rendered raw, this object would close the string and add an element and a key.
    const o = { '}, 5, {': ':' };
    const parsed = JSON.parse(renderWith(body, { o })) as [{ x: string }, number];
    expect(parsed).toHaveLength(2);
    expect(JSON.parse(parsed[0].x)).toEqual(o);
  });
});

describe('values outside strings', () => {
  const t = compileTemplate('{"n": {{ event.v }}, "list": [{{ event.v }}]}', 'body');

  it.each([
    [42, 42],
    [-1.5, -1.5],
    [true, true],
    ['19.99', 19.99],
    ['1e3', 1000],
    ['null', null],
    ['"a \\"quoted\\" string"', 'a "quoted" string'],
  ] as const)('%j is emitted as a JSON value', (v, expected) => {
    expect(JSON.parse(renderWith(t, { v }))).toEqual({ n: expected, list: [expected] });
  });

  it('emits lists and objects as JSON', () => {
    expect(JSON.parse(renderWith(t, { v: [1, { a: '"' }] }))).toEqual({
      n: [1, { a: '"' }],
      list: [[1, { a: '"' }]],
    });
  });

  it.each([
    ['1, 2', 'extra array elements'],
    ['1}, "admin": true, "x": {', 'keys'],
    ['", "admin": true, "x": "', 'a string'],
    ['0x1F', 'a non-JSON number'],
    ['', 'nothing'],
    ['"a", "admin": true, "b": "c"', 'keys'],
    ['{"admin": true}', 'an object'],
  ])('refuses the string %j (would be %s)', (v) => {
    expect(() => renderWith(t, { v })).toThrow(TemplateRenderError);
  });

  it('names the tag and its line when it refuses a value', () => {
    const body = compileTemplate('{\n  "id": {{ event.OrderId }}\n}', 'body');
    let err: unknown;
    try {
      renderWith(body, { OrderId: 'A-1' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TemplateRenderError);
    expect((err as TemplateRenderError).line).toBe(2);
    expect((err as TemplateRenderError).message).toContain('{{ event.OrderId }}');
  });

  it('never lets hostile values add keys, whatever the position (seeded)', () => {
    const body = compileTemplate(
      '{"a": "{{ event.x }}", "b": {{ event.y|tojson }}, "c": [{% for i in event.l %}"{{ i }}"{% if not forloop.last %},{% endif %}{% endfor %}]}',
      'body',
    );
    const random = prng(7);
    const pieces = ['"', '}', '{', ',', ':', '"admin": true', '\\', ']', '[', 'x', '\n'];
    const pick = (): string => {
      let s = '';
      for (let i = 0; i < 8; i++) s += pieces[Math.floor(random() * pieces.length)];
      return s;
    };
    for (let i = 0; i < 300; i++) {
      const event = { x: pick(), y: { [pick()]: pick() }, l: [pick(), pick()] };
      const parsed = JSON.parse(renderWith(body, event)) as Record<string, unknown>;
      expect(Object.keys(parsed)).toEqual(['a', 'b', 'c']);
      expect(parsed).toEqual({ a: event.x, b: event.y, c: event.l });
    }
  });
});

describe('a rendered body must be JSON', () => {
  it('refuses output that is not JSON, with the position in the output', () => {
    const t = compileTemplate('{"a": [{% for n in event.l %}{{ n }} {% endfor %}]}', 'body');
    expect(JSON.parse(renderWith(t, { l: [1] }))).toEqual({ a: [1] });
    let err: unknown;
    try {
      renderWith(t, { l: [1, 2] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TemplateRenderError);
    const e = err as TemplateRenderError;
    expect(e.where).toBe('output');
    expect(e.line).toBe(1);
    expect(e.column).toBe(10);
    expect(e.code).toBe('FLOWHOOK_ERR_TEMPLATE_RENDER');
    expect(e.retriable).toBe(false);
  });

  it('reports lines of multi-line output', () => {
    const t = compileTemplate('{\n  "a": 1{% if event.bad %},{% endif %}\n  "b": 2\n}', 'body');
    expect(JSON.parse(renderWith(t, { bad: true }))).toEqual({ a: 1, b: 2 });
    let err: unknown;
    try {
      renderWith(t, { bad: false });
    } catch (e) {
      err = e;
    }
    expect((err as TemplateRenderError).line).toBe(3);
    expect((err as TemplateRenderError).column).toBe(3);
  });

  it('checks every new path through the template (proven paths stay correct)', () => {
    const t = compileTemplate(
      '[{% for i in event.l %}{% if i.s %}"{{ i.s }}"{% else %}{{ i.n }}{% endif %}{% if not forloop.last %},{% endif %}{% endfor %}]',
      'body',
    );
    const random = prng(99);
    for (let round = 0; round < 200; round++) {
      const l: JsonValue[] = [];
      const n = Math.floor(random() * 4);
      for (let k = 0; k < n; k++) {
        l.push(random() < 0.5 ? { s: `"]${k}` } : { n: Math.floor(random() * 100) });
      }
      const parsed = JSON.parse(renderWith(t, { l })) as unknown[];
      expect(parsed).toHaveLength(n);
    }
  });
});
