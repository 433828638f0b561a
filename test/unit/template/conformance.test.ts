// Runs the conformance table (conformance-cases.ts): every tag and filter, Django's documented
// behaviour, Klaviyo's examples, and what is refused.
import {
  checkTemplate,
  compileTemplate,
  renderBody,
  renderHeader,
  TemplateLimitError,
  TemplateRenderError,
  TemplateSyntaxError,
} from '../../../src/template';
import { CASES, type ConformanceCase } from './conformance-cases';
import { makeInput } from './helpers';

function render(c: ConformanceCase): string {
  const input = makeInput({
    ...(c.event === undefined ? {} : { event: c.event }),
    ...(c.profile === undefined ? {} : { profile: c.profile }),
    ...(c.now === undefined ? {} : { now: c.now }),
  });
  const mode = c.mode ?? 'text';
  if (mode === 'header') return renderHeader(compileTemplate(c.template, 'header'), input);
  if (mode === 'body') return renderBody(compileTemplate(c.template, 'body'), input);
  // text: the template is the content of a JSON string; decode it back to plain text.
  const out = renderBody(compileTemplate(`"${c.template}"`, 'body'), input);
  const decoded: unknown = JSON.parse(out);
  if (typeof decoded !== 'string') throw new Error(`expected a JSON string, got ${out}`);
  return decoded;
}

function errorType(e: unknown): string {
  if (e instanceof TemplateSyntaxError) return 'syntax';
  if (e instanceof TemplateLimitError) return 'limit';
  if (e instanceof TemplateRenderError) return 'render';
  return `unexpected ${e instanceof Error ? e.name : typeof e}`;
}

describe('template conformance', () => {
  it('has unique case names', () => {
    const names = CASES.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
  });

  describe.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    if (c.expectedError !== undefined) {
      const expected = c.expectedError;
      it(`fails with a ${expected.type} error`, () => {
        let caught: unknown;
        try {
          render(c);
        } catch (e) {
          caught = e;
        }
        expect(errorType(caught)).toBe(expected.type);
        const err = caught as TemplateSyntaxError | TemplateRenderError;
        if (expected.message !== undefined) {
          const messages =
            err instanceof TemplateSyntaxError ? err.problems.map((p) => p.message) : [err.message];
          expect(messages.some((m) => expected.message?.test(m))).toBe(true);
        }
        if (expected.line !== undefined) expect(err.line).toBe(expected.line);
        if (expected.type === 'syntax') {
          // checkTemplate reports the same problems without throwing.
          const kind = (c.mode ?? 'text') === 'header' ? 'header' : 'body';
          const source = (c.mode ?? 'text') === 'text' ? `"${c.template}"` : c.template;
          expect(checkTemplate(source, kind).length).toBeGreaterThan(0);
        }
      });
    } else if (c.expectedJson !== undefined) {
      it('renders the expected JSON', () => {
        expect(JSON.parse(render(c))).toEqual(c.expectedJson);
      });
    } else {
      it('renders the expected text', () => {
        expect(render(c)).toBe(c.expected);
      });
    }
  });
});
