// TemplateCache: compile once per (flow id, version, key), reuse on the hot path.
import { TemplateCache, TemplateLimitError, TemplateSyntaxError } from '../../../src/template';
import { makeInput } from './helpers';

const BODY = '{"order": "{{ event.OrderId }}"}';

describe('TemplateCache', () => {
  it('compiles once and returns the same template afterwards', () => {
    const cache = new TemplateCache();
    const a = cache.get('flow-1', 3, 'body', BODY, 'body');
    const b = cache.get('flow-1', 3, 'body', BODY, 'body');
    expect(b).toBe(a);
    expect(cache.stats()).toEqual({ entries: 1, hits: 1, misses: 1, compiles: 1, failures: 0 });
    expect(a.render(makeInput())).toBe('{"order": "A-1001"}');
  });

  it('keeps templates apart by flow, version and key', () => {
    const cache = new TemplateCache();
    const a = cache.get('flow-1', 1, 'body', BODY, 'body');
    // The same source compiles to one shared template (see compileTemplate), in its own entry.
    expect(cache.get('flow-2', 1, 'body', BODY, 'body')).toBe(a);
    expect(cache.get('flow-1', 2, 'body', BODY, 'body')).toBe(a);
    expect(cache.get('flow-1', 1, 'header:X-Id', '{{ event.OrderId }}', 'header')).not.toBe(a);
    expect(cache.size).toBe(4);
    expect(cache.stats().compiles).toBe(4);
  });

  it('recompiles when the same key comes back with another source or kind', () => {
    const cache = new TemplateCache();
    const a = cache.get('flow-1', 1, 'k', '"x"', 'body');
    const b = cache.get('flow-1', 1, 'k', '"y"', 'body');
    expect(b).not.toBe(a);
    expect(b.render(makeInput())).toBe('"y"');
    const c = cache.get('flow-1', 1, 'k', '"y"', 'header');
    expect(c.kind).toBe('header');
    expect(cache.size).toBe(1);
  });

  it('drop(flowId) forgets every version of a flow', () => {
    const cache = new TemplateCache();
    cache.get('flow-1', 1, 'body', BODY, 'body');
    cache.get('flow-1', 2, 'body', BODY, 'body');
    const other = cache.get('flow-2', 1, 'body', BODY, 'body');
    cache.drop('flow-1');
    expect(cache.size).toBe(1);
    expect(cache.get('flow-2', 1, 'body', BODY, 'body')).toBe(other);
    expect(cache.stats().misses).toBe(3);
    cache.get('flow-1', 1, 'body', BODY, 'body');
    expect(cache.stats().misses).toBe(4);
    cache.drop('unknown-flow');
    expect(cache.size).toBe(2);
  });

  it('drop(flowId, keepVersion) keeps only that version', () => {
    const cache = new TemplateCache();
    cache.get('flow-1', 1, 'body', BODY, 'body');
    const v2 = cache.get('flow-1', 2, 'body', BODY, 'body');
    cache.drop('flow-1', 2);
    expect(cache.size).toBe(1);
    expect(cache.get('flow-1', 2, 'body', BODY, 'body')).toBe(v2);
  });

  it('caches compile errors: the same error, without compiling again', () => {
    const cache = new TemplateCache();
    const get = (): unknown => cache.get('flow-1', 1, 'body', '{{ x|bogus }}', 'body');
    let first: unknown;
    try {
      get();
    } catch (e) {
      first = e;
    }
    expect(first).toBeInstanceOf(TemplateSyntaxError);
    expect(get).toThrow(TemplateSyntaxError);
    try {
      get();
    } catch (e) {
      expect(e).toBe(first);
    }
    expect(cache.stats()).toMatchObject({ compiles: 1, failures: 1 });
  });

  it('evicts the least recently used entries beyond maxEntries', () => {
    const cache = new TemplateCache({ maxEntries: 2 });
    const a = cache.get('f', 1, 'a', '"a"', 'body');
    cache.get('f', 1, 'b', '"b"', 'body');
    expect(cache.get('f', 1, 'a', '"a"', 'body')).toBe(a); // a is now the most recent
    cache.get('f', 1, 'c', '"c"', 'body'); // evicts b
    expect(cache.size).toBe(2);
    expect(cache.get('f', 1, 'a', '"a"', 'body')).toBe(a);
    const before = cache.stats().compiles;
    cache.get('f', 1, 'b', '"b"', 'body');
    expect(cache.stats().compiles).toBe(before + 1);
    cache.drop('f');
    expect(cache.size).toBe(0);
  });

  it('gives its limits to the templates it compiles', () => {
    const cache = new TemplateCache({ limits: { maxLoopIterations: 2 } });
    const t = cache.get(
      'f',
      1,
      'body',
      '"{% for x in event.ItemNames %}{{ x }}{% endfor %}"',
      'body',
    );
    expect(() => t.render(makeInput())).toThrow(TemplateLimitError);
  });

  it('clear() forgets everything', () => {
    const cache = new TemplateCache();
    cache.get('f', 1, 'a', '"a"', 'body');
    cache.clear();
    expect(cache.size).toBe(0);
  });
});
