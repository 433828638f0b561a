// checkTemplate / compileTemplate: every problem, with its line, column and name.
import {
  checkTemplate,
  compileTemplate,
  TemplateRenderError,
  TemplateSyntaxError,
  type TemplateKind,
} from '../../../src/template';
import { makeInput, prng } from './helpers';

describe('checkTemplate', () => {
  it('returns no problems for a valid template', () => {
    expect(checkTemplate('{"email": "{{ person.email|default:\'\' }}"}', 'body')).toEqual([]);
    expect(checkTemplate('Bearer {{ secrets.TOKEN }}', 'header')).toEqual([]);
  });

  it('reports every problem, in order, with line, column and name', () => {
    const source = [
      '{',
      '  "a": "{{ event.x|bogus }}",',
      '  "b": "{% coupon_code \'X\' %}",',
      '  "c": "{{ feeds.News.title }}"',
      '}',
    ].join('\n');
    const problems = checkTemplate(source, 'body');
    expect(problems).toEqual([
      { message: "unknown filter 'bogus'", line: 2, column: 20, name: 'bogus' },
      {
        message: '{% coupon_code %} is not supported: coupon codes are not supported in webhooks',
        line: 3,
        column: 9,
        name: 'coupon_code',
      },
      { message: 'web feeds are not supported in webhooks', line: 4, column: 12, name: 'feeds' },
    ]);
  });

  it('keeps going after a broken block opener', () => {
    const problems = checkTemplate(
      '{% for %}{{ x|nope }}{% endfor %}{% if %}y{% endif %}',
      'header',
    );
    expect(problems.map((p) => p.name)).toEqual(['for', 'nope', 'if']);
  });

  it('refuses a tag right after a backslash inside a JSON string', () => {
    const problems = checkTemplate('{"a": "x\\{{ event.v }}"}', 'body');
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/backslash/);
  });

  it('reports a body that can never be JSON at the right place', () => {
    const problems = checkTemplate('{\n  "a": "{{ event.v }}"\n  "b": 1\n}', 'body');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ line: 3, column: 3 });
    expect(problems[0]?.message).toMatch(/not valid JSON/);
  });

  it('refuses a value whose place (inside or outside a string) depends on the path', () => {
    const problems = checkTemplate(
      '[{% if event.q %}"{% endif %}{{ event.v }}{% if event.q %}"{% endif %}]',
      'body',
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ line: 1, column: 30 });
    expect(problems[0]?.message).toMatch(/cannot tell whether this tag is inside a JSON string/);
  });

  it('does not judge bodies whose shape depends on the data', () => {
    expect(checkTemplate('[{% for x in event.l %}{{ x|tojson }},{% endfor %}]', 'body')).toEqual(
      [],
    );
  });

  it('refuses an unknown kind', () => {
    expect(() => checkTemplate('x', 'html' as TemplateKind)).toThrow(TemplateSyntaxError);
  });
});

describe('compileTemplate', () => {
  it('shares one compiled template between identical sources of the same kind and limits', () => {
    const source = '{"order": "{{ event.OrderId }}"}';
    const a = compileTemplate(source, 'body');
    expect(compileTemplate(source, 'body')).toBe(a);
    expect(compileTemplate(source, 'body', { maxOutputBytes: 1000 })).not.toBe(a);
    expect(compileTemplate(source, 'header')).not.toBe(a);
    expect(compileTemplate(`${source} `, 'body')).not.toBe(a);
    expect(compileTemplate(source, 'body').render(makeInput())).toBe('{"order": "A-1001"}');
  });

  it('throws TemplateSyntaxError with the problems and the first line', () => {
    let err: unknown;
    try {
      compileTemplate('ok\n{{ a|nope }}\n{% include "x" %}', 'body');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TemplateSyntaxError);
    const e = err as TemplateSyntaxError;
    expect(e.line).toBe(2);
    expect(e.column).toBe(6);
    expect(e.problems).toHaveLength(2);
    expect(e.code).toBe('FLOWHOOK_ERR_TEMPLATE_SYNTAX');
    expect(e.retriable).toBe(false);
    expect(e.message).toContain('line 2, column 6: unknown filter');
    expect(e.message).toContain('line 3, column 1');
  });

  it('keeps the source and kind', () => {
    const t = compileTemplate('"x"', 'body');
    expect(t.source).toBe('"x"');
    expect(t.kind).toBe('body');
  });
});

describe('random templates (seeded)', () => {
  const pieces = [
    '{{ event.a }}',
    '{{ event.l|join:"," }}',
    '{{ event.l|tojson }}',
    '{% if event.a %}',
    '{% elif event.b %}',
    '{% else %}',
    '{% endif %}',
    '{% for x in event.l %}',
    '{{ x }}',
    '{{ forloop.counter }}',
    '{% empty %}',
    '{% endfor %}',
    '{% with y=event.a %}',
    '{{ y }}',
    '{% endwith %}',
    '{% comment %}',
    '{% endcomment %}',
    '{# c #}',
    '{% now "Y" %}',
    '{% templatetag openbrace %}',
    '"',
    '{',
    '}',
    '[',
    ']',
    ',',
    ':',
    '\\',
    '\n',
    ' ',
    '#}',
    '%}',
    '}}',
    '{{',
    '{%',
    '{#',
    'abc',
    '1',
    "'",
    '{{ secrets.K }}',
  ];
  const random = prng(1234);
  const input = makeInput({ event: { a: 'v"1', b: 2, l: ['p', 'q'] } });

  it('always end in problems, a value, or a template error (never anything else)', () => {
    for (let i = 0; i < 1500; i++) {
      let source = '';
      const n = 1 + Math.floor(random() * 12);
      for (let k = 0; k < n; k++) source += pieces[Math.floor(random() * pieces.length)];
      const variants = [
        ['body', source],
        ['body', `["${source}"]`],
        ['header', source],
      ] as const;
      for (const [kind, src] of variants) {
        const problems = checkTemplate(src, kind);
        if (problems.length > 0) {
          expect(() => compileTemplate(src, kind)).toThrow(TemplateSyntaxError);
          continue;
        }
        const t = compileTemplate(src, kind);
        try {
          const out = t.render(input);
          if (kind === 'body') expect(() => JSON.parse(out) as unknown).not.toThrow();
        } catch (e) {
          expect([src, e]).toEqual([src, expect.any(TemplateRenderError)]);
        }
      }
    }
  });
});

describe('large templates', () => {
  it('checks a 300 KB single-line JSON body full of braces quickly', () => {
    const item = '{"a": {"b": [{"c": "{{ event.v }}"}]}}';
    const source = `[${Array.from({ length: 8000 }, () => item).join(',')}]`;
    const started = Date.now();
    expect(checkTemplate(source, 'body')).toEqual([]);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('lexes unmatched openers on long lines quickly', () => {
    const source = '"' + '{ {% {{ '.repeat(20000) + '"';
    const started = Date.now();
    expect(checkTemplate(source, 'body').length).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
