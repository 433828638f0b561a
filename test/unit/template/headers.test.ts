// Header values: same engine, plain text (no JSON escaping), one line only, and
// `{{ secrets.NAME }}` kept literally for the delivery worker.
import {
  checkTemplate,
  compileTemplate,
  renderBody,
  renderHeader,
  TemplateRenderError,
  TemplateSyntaxError,
} from '../../../src/template';
import type { JsonObject } from '../../../src/documents';
import { makeInput } from './helpers';

function header(template: string, event: JsonObject = {}): string {
  return renderHeader(compileTemplate(template, 'header'), makeInput({ event }));
}

function renderError(fn: () => unknown): TemplateRenderError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TemplateRenderError) return e;
    throw e;
  }
  throw new Error('expected a TemplateRenderError');
}

describe('header templates', () => {
  it('renders plain text without JSON escaping', () => {
    expect(header('{{ event.v }}', { v: `O'Neil "Jr" \\ ü` })).toBe(`O'Neil "Jr" \\ ü`);
  });

  it('keeps {{ secrets.NAME }} literally (the delivery worker resolves it)', () => {
    expect(header('Bearer {{ secrets.CRM_TOKEN }}')).toBe('Bearer {{ secrets.CRM_TOKEN }}');
    expect(header('{{secrets.A_1}}:{{  secrets.b2  }}')).toBe('{{ secrets.A_1 }}:{{ secrets.b2 }}');
  });

  it('mixes secrets with values', () => {
    expect(header('Token {{ secrets.KEY }} for {{ person.email }}')).toBe(
      'Token {{ secrets.KEY }} for shah@example.com',
    );
  });

  it('keeps secrets inside if blocks', () => {
    const t = compileTemplate('{% if event.v %}Bearer {{ secrets.KEY }}{% endif %}', 'header');
    expect(renderHeader(t, makeInput({ event: { v: 'x' } }))).toBe('Bearer {{ secrets.KEY }}');
    expect(renderHeader(t, makeInput({ event: {} }))).toBe('');
  });

  it.each([
    ['{{ secrets.KEY|upper }}'],
    ['{% if secrets.KEY %}x{% endif %}'],
    ['{% with s=secrets.KEY %}{{ s }}{% endwith %}'],
    ["{{ secrets|lookup:'KEY' }}"],
    ['{{ secrets }}'],
    ['{{ secrets.bad-name }}'],
  ])('refuses other uses of secrets: %s', (template) => {
    expect(checkTemplate(template, 'header').length).toBeGreaterThan(0);
  });

  it('refuses secrets in a body (a body is written to Kafka)', () => {
    const problems = checkTemplate('{"auth": "{{ secrets.KEY }}"}', 'body');
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/secrets cannot be used in a body/);
    expect(problems[0]?.line).toBe(1);
    expect(() => compileTemplate('{"auth": "{{ secrets.KEY }}"}', 'body')).toThrow(
      TemplateSyntaxError,
    );
  });

  it.each([
    ['\n', 3],
    ['\r', 3],
    ['\r\n', 3],
    ['a\nb', 4],
  ])('refuses a value with a line break (%j)', (v, column) => {
    const err = renderError(() => header('X {{ event.v }}', { v }));
    expect(err.message).toMatch(/line break/);
    expect(err.where).toBe('output');
    expect(err.column).toBe(column);
  });

  it('refuses other control characters', () => {
    expect(() => header('{{ event.v }}', { v: 'a\u0001b' })).toThrow(TemplateRenderError);
    expect(() => header('{{ event.v }}', { v: 'a\u0000b' })).toThrow(TemplateRenderError);
  });

  it('allows tabs', () => {
    expect(header('a\t{{ event.v }}', { v: 'b\tc' })).toBe('a\tb\tc');
  });

  it('refuses a line break written in the template itself, when it is checked', () => {
    const problems = checkTemplate('Bearer x\nInjected: y', 'header');
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/line break/);
    expect(problems[0]?.line).toBe(1);
  });

  it('refuses values that would forge a secrets placeholder', () => {
    expect(() => header('{{ event.v }}', { v: '{{ secrets.OTHER }}' })).toThrow(
      TemplateRenderError,
    );
    // Even when two values only form one together.
    expect(() => header('{{ event.a }}{{ event.b }} secrets.X }}', { a: '{', b: '{' })).toThrow(
      TemplateRenderError,
    );
  });

  it('renders the same engine features as bodies', () => {
    expect(
      header(
        '{% for n in event.l %}{{ n|upper }}{% if not forloop.last %},{% endif %}{% endfor %}',
        { l: ['a', 'b'] },
      ),
    ).toBe('A,B');
  });

  it('refuses to render a body template as a header and the other way round', () => {
    const body = compileTemplate('{}', 'body');
    const head = compileTemplate('x', 'header');
    expect(() => renderHeader(body, makeInput())).toThrow(TemplateRenderError);
    expect(() => renderBody(head, makeInput())).toThrow(TemplateRenderError);
    expect(body.render(makeInput())).toBe('{}');
    expect(head.render(makeInput())).toBe('x');
  });
});
