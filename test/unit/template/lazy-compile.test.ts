// compileTemplate finds every problem up front but generates the nunjucks program on first use:
// a start with thousands of flows validates all of them and compiles only those that fire.
import { randomUUID } from 'node:crypto';
import { compileTemplate, TemplateSyntaxError } from '../../../src/template';
import * as runtime from '../../../src/template/runtime';
import { makeInput } from './helpers';

// Each test its own source: identical templates are shared (see compileTemplate).
const unique = (body: string): string => `{"test": "${randomUUID()}", ${body}}`;

describe('compileTemplate: the program is generated on first render', () => {
  afterEach(() => jest.restoreAllMocks());

  it('generates nothing at compile, once at the first render, never again', () => {
    const generate = jest.spyOn(runtime, 'compileNunjucks');
    const source = unique('"order": "{{ event.OrderId }}"');
    const t = compileTemplate(source, 'body');
    expect(generate).not.toHaveBeenCalled();
    const first = t.render(makeInput());
    expect(JSON.parse(first)).toMatchObject({ order: 'A-1001' });
    expect(t.render(makeInput())).toBe(first);
    expect(generate).toHaveBeenCalledTimes(1);
  });

  it('still refuses a bad template at compile, with its line and column', () => {
    const generate = jest.spyOn(runtime, 'compileNunjucks');
    let error: unknown;
    try {
      compileTemplate(unique('"x": "{{ event.Total|no_such_filter }}"'), 'body');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TemplateSyntaxError);
    expect((error as TemplateSyntaxError).problems).toEqual([
      expect.objectContaining({ line: 1, name: 'no_such_filter' }),
    ]);
    expect(generate).not.toHaveBeenCalled();
  });
});
