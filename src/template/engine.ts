// Validation, compilation and the two render entry points (body, header).
import type nunjucks from 'nunjucks';
import {
  ConfigError,
  TemplateLimitError,
  TemplateRenderError,
  TemplateSyntaxError,
} from '../errors';
import { findJsonError, lineColumn } from './json';
import type { LineIndex } from './lexer';
import { parseTemplate } from './parser';
import { compileNunjucks, runTemplate, type Program } from './runtime';
import { SECRET_SENTINEL, translate, type JsonShape, type Translation } from './translate';
import {
  DEFAULT_TEMPLATE_LIMITS,
  type CompiledTemplate,
  type TemplateInput,
  type TemplateKind,
  type TemplateLimits,
  type TemplateProblem,
} from './types';

interface Analysis {
  problems: TemplateProblem[];
  translation: Translation | undefined;
  lines: LineIndex;
}

function analyze(source: string, kind: TemplateKind): Analysis {
  const parsed = parseTemplate(source, kind);
  if (parsed.problems.length > 0) {
    return { problems: sortProblems(parsed.problems), translation: undefined, lines: parsed.lines };
  }
  const translation = translate(parsed.nodes, kind, parsed.lines, parsed.secrets);
  return { problems: sortProblems(translation.problems), translation, lines: parsed.lines };
}

function sortProblems(problems: TemplateProblem[]): TemplateProblem[] {
  return [...problems].sort(
    (a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0),
  );
}

function checkKind(kind: unknown): asserts kind is TemplateKind {
  if (kind !== 'body' && kind !== 'header') {
    throw new TemplateSyntaxError([
      { message: `unknown template kind ${JSON.stringify(kind)} (expected 'body' or 'header')` },
    ]);
  }
}

/** Every reason `source` cannot be used as a template of this kind; empty when it is fine. */
export function checkTemplate(source: string, kind: TemplateKind): TemplateProblem[] {
  checkKind(kind);
  if (typeof source !== 'string') return [{ message: 'a template must be a string' }];
  return analyze(source, kind).problems;
}

function resolveLimits(limits: Partial<TemplateLimits> | undefined): TemplateLimits {
  const out: TemplateLimits = { ...DEFAULT_TEMPLATE_LIMITS };
  if (limits === undefined) return out;
  const problems: { name: string; value: string | undefined; allowed: string }[] = [];
  for (const key of Object.keys(DEFAULT_TEMPLATE_LIMITS) as (keyof TemplateLimits)[]) {
    const v = limits[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      problems.push({
        name: `template limit ${key}`,
        value: String(v),
        allowed: 'a positive number',
      });
    } else {
      out[key] = v;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}

class DjangoTemplate implements CompiledTemplate, Program {
  /** The nunjucks program, generated on first render: see compileTemplate. */
  private compiled: nunjucks.Template | Error | undefined;

  constructor(
    readonly kind: TemplateKind,
    readonly source: string,
    readonly limits: TemplateLimits,
    readonly positions: { start: number; end: number }[],
    private readonly lines: LineIndex,
    private readonly nunjucksSource: string,
    readonly shape: JsonShape | null,
    readonly secrets: number,
  ) {}

  lineOf(offset: number): { line: number; column: number } {
    return this.lines.position(offset);
  }

  /** The nunjucks program, compiled the first time it is needed (before a render's deadline starts). */
  get template(): nunjucks.Template {
    if (this.compiled === undefined) {
      try {
        this.compiled = compileNunjucks(this.nunjucksSource, `flowhook-${this.kind}`);
      } catch (e) {
        // The translation only produces valid nunjucks; reaching this is a bug, reported as such.
        const message = e instanceof Error ? e.message : String(e);
        this.compiled = new TemplateRenderError(`internal template error: ${message}`, {
          cause: e,
        });
      }
    }
    if (this.compiled instanceof Error) throw this.compiled;
    return this.compiled;
  }

  render(input: TemplateInput): string {
    return this.kind === 'body' ? renderBody(this, input) : renderHeader(this, input);
  }
}

/**
 * Compiled templates by kind, limits and source, for as long as something (a loaded flow) holds
 * them: flows cloned from one another share their compiled templates, and a start with
 * thousands of flows compiles each distinct template once. A DjangoTemplate is immutable and
 * renders reentrantly, so sharing it is safe; weak references hold no memory of their own.
 */
const shared = new Map<string, WeakRef<DjangoTemplate>>();
const LIMIT_NAMES = Object.keys(DEFAULT_TEMPLATE_LIMITS) as (keyof TemplateLimits)[];
const forget = new FinalizationRegistry<string>((key) => {
  if (shared.get(key)?.deref() === undefined) shared.delete(key);
});

/**
 * Validates and compiles once; the result renders any number of times. Throws
 * TemplateSyntaxError (with line and column) when checkTemplate would report problems.
 *
 * Every problem is found here, by the analysis. Generating the nunjucks program from the
 * translation (two thirds of the work, and V8 compiling it) waits for the first render: a start
 * with thousands of flows validates them all but compiles only those that fire.
 */
export function compileTemplate(
  source: string,
  kind: TemplateKind,
  limits?: Partial<TemplateLimits>,
): CompiledTemplate {
  checkKind(kind);
  if (typeof source !== 'string') {
    throw new TemplateSyntaxError([{ message: 'a template must be a string' }]);
  }
  const resolved = resolveLimits(limits);
  const key = `${kind}\0${LIMIT_NAMES.map((n) => resolved[n]).join(',')}\0${source}`;
  const known = shared.get(key)?.deref();
  if (known !== undefined) return known;
  const template = compileNew(source, kind, resolved);
  shared.set(key, new WeakRef(template));
  forget.register(template, key);
  return template;
}

function compileNew(source: string, kind: TemplateKind, resolved: TemplateLimits): DjangoTemplate {
  const a = analyze(source, kind);
  if (a.problems.length > 0 || a.translation === undefined) {
    throw new TemplateSyntaxError(a.problems);
  }
  const t = a.translation;
  return new DjangoTemplate(
    kind,
    source,
    resolved,
    t.positions,
    a.lines,
    t.source,
    t.shape,
    t.secrets,
  );
}

function asDjangoTemplate(t: CompiledTemplate, kind: TemplateKind): DjangoTemplate {
  if (!(t instanceof DjangoTemplate)) {
    throw new TemplateRenderError('not a template compiled by compileTemplate');
  }
  if (t.kind !== kind) {
    throw new TemplateRenderError(`a ${t.kind} template cannot be rendered as a ${kind}`);
  }
  return t;
}

function checkSize(t: DjangoTemplate, out: string): void {
  const max = t.limits.maxOutputBytes;
  if (out.length * 3 <= max) return;
  if (Buffer.byteLength(out, 'utf8') > max) {
    throw new TemplateLimitError('maxOutputBytes', `template output exceeded ${max} bytes`, {
      details: { value: max },
    });
  }
}

/** Renders a body. The result always parses as JSON; otherwise TemplateRenderError (never sent). */
export function renderBody(t: CompiledTemplate, input: TemplateInput): string {
  const tpl = asDjangoTemplate(t, 'body');
  const { output: out, signature } = runTemplate(tpl.template, tpl, input);
  checkSize(tpl, out);
  const shape = tpl.shape;
  // A path already proven to always give JSON needs no parse (see JsonShape).
  if (shape === null || !shape.isProven(signature)) {
    try {
      JSON.parse(out);
    } catch (e) {
      const problem = findJsonError(out) ?? { offset: 0, message: String(e) };
      const { line, column } = lineColumn(out, problem.offset);
      throw new TemplateRenderError(
        `the rendered body is not valid JSON (line ${line}, column ${column} of the output): ${problem.message}`,
        { line, column, where: 'output', cause: e },
      );
    }
    shape?.prove(signature);
  }
  return out;
}

const SECRET_PLACEHOLDER = new RegExp(`${SECRET_SENTINEL}S:([A-Za-z0-9_]+)${SECRET_SENTINEL}`, 'g');
// eslint-disable-next-line no-control-regex
const HEADER_FORBIDDEN = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/**
 * Renders a header value: plain text on one line. `{{ secrets.NAME }}` stays as written
 * (resolved by the delivery worker). Line breaks, control characters and template delimiters
 * coming from values are refused (TemplateRenderError).
 */
export function renderHeader(t: CompiledTemplate, input: TemplateInput): string {
  const tpl = asDjangoTemplate(t, 'header');
  let out = runTemplate(tpl.template, tpl, input).output;
  checkSize(tpl, out);
  const delimiter = out.search(/\{\{|\{%/);
  if (delimiter >= 0) {
    throw new TemplateRenderError(
      `a value substituted into the header contains a template delimiter at column ${delimiter + 1} ` +
        '(it could forge a secrets placeholder)',
      { line: 1, column: delimiter + 1, where: 'output' },
    );
  }
  if (tpl.secrets > 0) out = out.replace(SECRET_PLACEHOLDER, '{{ secrets.$1 }}');
  const bad = HEADER_FORBIDDEN.exec(out);
  if (bad !== null) {
    const what =
      bad[0] === '\n' || bad[0] === '\r' ? 'a line break (CR/LF)' : 'a control character';
    throw new TemplateRenderError(
      `the rendered header contains ${what} at column ${bad.index + 1}`,
      { line: 1, column: bad.index + 1, where: 'output' },
    );
  }
  return out;
}
