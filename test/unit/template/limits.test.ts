// Bounded work: loop iterations, output size and render time are limited, each configurable,
// and exceeding one is a TemplateLimitError raised during the render (never a hung process).
import { ConfigError } from '../../../src/errors';
import {
  compileTemplate,
  DEFAULT_TEMPLATE_LIMITS,
  renderBody,
  renderHeader,
  TemplateLimitError,
} from '../../../src/template';
import { makeInput } from './helpers';

function limitOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof TemplateLimitError) return e.limit;
    throw e;
  }
  return undefined;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('template limits', () => {
  afterEach(() => jest.restoreAllMocks());

  it('has the documented defaults', () => {
    expect(DEFAULT_TEMPLATE_LIMITS).toEqual({
      timeoutMs: 50,
      maxOutputBytes: 512 * 1024,
      maxLoopIterations: 10_000,
    });
  });

  it('stops nested loops at the iteration limit', () => {
    const t = compileTemplate(
      '"{% for a in event.big %}{% for b in event.big %}{% endfor %}{% endfor %}"',
      'body',
    );
    const input = makeInput({ event: { big: range(200) } });
    expect(limitOf(() => renderBody(t, input))).toBe('maxLoopIterations');
  });

  it('stops deeply nested loops long before they could run', () => {
    const t = compileTemplate(
      '"{% for a in event.big %}{% for b in event.big %}{% for c in event.big %}{{ c }}{% endfor %}{% endfor %}{% endfor %}"',
      'body',
    );
    const started = Date.now();
    expect(limitOf(() => renderBody(t, makeInput({ event: { big: range(5000) } })))).toBe(
      'maxLoopIterations',
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('counts iterations of all loops together, and the limit is configurable', () => {
    const t = compileTemplate(
      '"{% for a in event.l %}{% endfor %}{% for b in event.l %}{% endfor %}"',
      'body',
      { maxLoopIterations: 6 },
    );
    expect(renderBody(t, makeInput({ event: { l: range(3) } }))).toBe('""');
    expect(limitOf(() => renderBody(t, makeInput({ event: { l: range(4) } })))).toBe(
      'maxLoopIterations',
    );
  });

  it('stops output that grows past the limit (values)', () => {
    const t = compileTemplate('"{{ event.s }}"', 'body', { maxOutputBytes: 100 });
    expect(limitOf(() => renderBody(t, makeInput({ event: { s: 'x'.repeat(98) } })))).toBe(
      undefined,
    );
    expect(limitOf(() => renderBody(t, makeInput({ event: { s: 'x'.repeat(200) } })))).toBe(
      'maxOutputBytes',
    );
  });

  it('stops output that grows past the limit (literal text repeated by loops)', () => {
    const t = compileTemplate('"{% for x in event.l %}0123456789{% endfor %}"', 'body', {
      maxOutputBytes: 100,
    });
    expect(limitOf(() => renderBody(t, makeInput({ event: { l: range(9) } })))).toBe(undefined);
    expect(limitOf(() => renderBody(t, makeInput({ event: { l: range(11) } })))).toBe(
      'maxOutputBytes',
    );
  });

  it('measures the limit in UTF-8 bytes', () => {
    const t = compileTemplate('"{{ event.s }}"', 'body', { maxOutputBytes: 100 });
    // 40 characters, 120 bytes.
    expect(limitOf(() => renderBody(t, makeInput({ event: { s: '€'.repeat(40) } })))).toBe(
      'maxOutputBytes',
    );
  });

  it('stops a render during the loop, not after building a huge string', () => {
    const kb = 'k'.repeat(1024);
    const t = compileTemplate(
      `"{% for a in event.l %}{% for b in event.l %}${kb}{% endfor %}{% endfor %}"`,
      'body',
    );
    const err = (() => {
      try {
        renderBody(t, makeInput({ event: { l: range(100) } }));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(TemplateLimitError);
    expect((err as TemplateLimitError).limit).toBe('maxOutputBytes');
    expect((err as TemplateLimitError).code).toBe('FLOWHOOK_ERR_TEMPLATE_LIMIT');
    expect((err as TemplateLimitError).retriable).toBe(false);
  });

  it('stops a render that runs past its time budget', () => {
    const t = compileTemplate('"{% for x in event.l %}{{ x }}{% endfor %}"', 'body', {
      timeoutMs: 20,
    });
    // Each clock reading is 15 ms later than the previous one.
    let clock = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => (clock += 15));
    let err: unknown;
    try {
      renderBody(t, makeInput({ event: { l: range(100) } }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TemplateLimitError);
    expect((err as TemplateLimitError).limit).toBe('timeoutMs');
    // Wall-clock time can run out on a busy machine: worth another try.
    expect((err as TemplateLimitError).retriable).toBe(true);
  });

  it('checks the time while values are emitted, not only at loops', () => {
    const many = Array.from({ length: 200 }, (_, i) => `{{ event.v${i % 10} }}`).join('');
    const t = compileTemplate(`"${many}"`, 'body', {
      timeoutMs: 20,
    });
    let clock = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => (clock += 15));
    expect(limitOf(() => renderBody(t, makeInput()))).toBe('timeoutMs');
  });

  it('a limit error leaves the next render unaffected', () => {
    const t = compileTemplate('"{% for x in event.l %}{{ x }}{% endfor %}"', 'body', {
      maxLoopIterations: 3,
    });
    expect(limitOf(() => renderBody(t, makeInput({ event: { l: range(4) } })))).toBe(
      'maxLoopIterations',
    );
    expect(renderBody(t, makeInput({ event: { l: range(3) } }))).toBe('"012"');
  });

  it('applies to headers too', () => {
    const t = compileTemplate('{{ event.s }}', 'header', { maxOutputBytes: 10 });
    expect(limitOf(() => renderHeader(t, makeInput({ event: { s: 'x'.repeat(11) } })))).toBe(
      'maxOutputBytes',
    );
  });

  it.each([[{ timeoutMs: 0 }], [{ maxOutputBytes: -1 }], [{ maxLoopIterations: Number.NaN }]])(
    'refuses invalid limits %j',
    (limits) => {
      expect(() => compileTemplate('"x"', 'body', limits)).toThrow(ConfigError);
    },
  );
});
