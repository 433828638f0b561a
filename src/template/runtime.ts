// The nunjucks side: one locked-down Environment (no loader, no globals, no built-in filters or
// tests), the filters our translation calls, and the per-render state that enforces the limits.
import nunjucks from 'nunjucks';
import { TemplateLimitError, TemplateRenderError } from '../errors';
import { orderedKeys } from '../json-order';
import { RenderRoot } from './context';
import { formatDate, toDate } from './dates';
import { FILTERS, currencyFormat } from './filters';
import type { TemplateInput, TemplateKind, TemplateLimits } from './types';
import {
  MappingView,
  RawJson,
  SafeText,
  escapeJsonString,
  getMember,
  isPlainObject,
  isTruthy,
  plain,
  pyCompare,
  pyContains,
  pyEquals,
  toJsonText,
  toText,
} from './values';

// ---- nunjucks internals we rely on (nunjucks 3.2.x) -------------------------------------------

interface NjNodeList {
  findAll(type: unknown): { value?: unknown }[];
}
interface NjForNode {
  body: NjNodeList;
}
interface NjCompiler {
  _emitLine(code: string): void;
  _emitLoopBindings(node: NjForNode, arr: string, i: string, len: string): void;
  compile(ast: unknown): void;
  getCode(): string;
}
interface NjInternals {
  compiler: { Compiler: new (name: string, throwOnUndefined: boolean) => NjCompiler };
  parser: { parse(src: string, extensions: unknown[], opts: unknown): unknown };
  nodes: { Symbol: unknown };
  Template: new (
    src: { type: 'code'; obj: unknown },
    env: nunjucks.Environment,
    path: string,
    eagerCompile: boolean,
  ) => nunjucks.Template;
}
const nj = nunjucks as unknown as NjInternals;

// ---- per-render state ------------------------------------------------------------------------

/** What the emitters need to know about the template being rendered. */
export interface Program {
  kind: TemplateKind;
  source: string;
  limits: TemplateLimits;
  positions: { start: number; end: number }[];
  lineOf(offset: number): { line: number; column: number };
}

interface RenderState {
  program: Program;
  root: RenderRoot;
  deadline: number;
  chars: number;
  iterations: number;
  ops: number;
  /** Ids of the block bodies that ran (see JsonShape in translate.ts). */
  signature: string;
  error: Error | undefined;
}

/** nunjucks renders synchronously, so the state of the render in progress can be global. */
let current: RenderState | undefined;

function state(): RenderState {
  if (current === undefined) throw new Error('template helper called outside a render');
  return current;
}

function fail(st: RenderState, err: Error): never {
  st.error = err;
  throw err;
}

function limitError(st: RenderState, limit: keyof TemplateLimits, message: string): never {
  return fail(
    st,
    new TemplateLimitError(limit, message, { details: { value: st.program.limits[limit] } }),
  );
}

function checkTime(st: RenderState): void {
  if (Date.now() > st.deadline) {
    limitError(st, 'timeoutMs', `template render exceeded ${st.program.limits.timeoutMs} ms`);
  }
}

function account(st: RenderState, chars: number): void {
  st.chars += chars;
  if (st.chars > st.program.limits.maxOutputBytes) {
    limitError(
      st,
      'maxOutputBytes',
      `template output exceeded ${st.program.limits.maxOutputBytes} bytes`,
    );
  }
  if ((++st.ops & 31) === 0) checkTime(st);
}

function outputError(st: RenderState, id: number, problem: string): never {
  const pos = st.program.positions[id];
  const where = pos === undefined ? { line: 0, column: 0 } : st.program.lineOf(pos.start);
  const tag = pos === undefined ? '' : st.program.source.slice(pos.start, pos.end);
  return fail(
    st,
    new TemplateRenderError(`line ${where.line}, column ${where.column}: ${tag} ${problem}`, {
      line: where.line,
      column: where.column,
      where: 'template',
    }),
  );
}

// ---- emitters --------------------------------------------------------------------------------

/** Inside a JSON string (or where that is not known): JSON string escaping. */
function emitInString(value: unknown, id: number): string {
  let s: string;
  if (typeof value === 'string') s = escapeJsonString(value);
  else if (value instanceof SafeText) s = value.text;
  else if (value instanceof RawJson) s = escapeJsonString(value.json);
  else s = escapeJsonString(toText(value));
  account(state(), s.length);
  void id;
  return s;
}

// One JSON scalar token: a number, true, false, null, or one complete string.
const JSON_SCALAR =
  // eslint-disable-next-line no-control-regex
  /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")$/;

/** Outside a JSON string: exactly one JSON value, or an error naming the tag. */
function emitOutsideString(value: unknown, id: number): string {
  const st = state();
  let s: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) outputError(st, id, 'is not a finite number');
    s = String(value);
  } else if (typeof value === 'boolean') {
    s = value ? 'true' : 'false';
  } else if (value instanceof RawJson) {
    s = value.json;
  } else if (Array.isArray(value) || isPlainObject(value) || value instanceof MappingView) {
    s = toJsonText(value);
  } else if (typeof value === 'string' || value instanceof SafeText) {
    s = typeof value === 'string' ? value : value.text;
    if (!JSON_SCALAR.test(s)) {
      outputError(
        st,
        id,
        `renders ${JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s)} outside a JSON string: ` +
          'put the tag inside quotes, or use |tojson',
      );
    }
  } else if (value === null || value === undefined) {
    return outputError(
      st,
      id,
      'is empty outside a JSON string: give it a |default, or use |tojson (null)',
    );
  } else {
    return outputError(st, id, 'is not a JSON value: put the tag inside quotes, or use |tojson');
  }
  account(st, s.length);
  return s;
}

/** Headers: plain text. Line breaks are refused after rendering; NUL here (it marks secrets). */
function emitHeader(value: unknown, id: number): string {
  const st = state();
  const s = toText(value);
  if (s.includes('\u0000')) outputError(st, id, 'contains a NUL character');
  account(st, s.length);
  return s;
}

// ---- helpers the translation calls -----------------------------------------------------------

function iterate(value: unknown, nvars: number, reversed: number): unknown[] {
  const st = state();
  checkTime(st);
  const v = plain(value);
  let arr: unknown[];
  if (Array.isArray(v)) arr = v;
  else if (typeof v === 'string') arr = Array.from(v);
  else if (isPlainObject(v)) {
    const keys = orderedKeys(v);
    arr = nvars >= 2 ? keys.map((k) => [k, getMember(v, k)]) : keys;
  } else arr = [];
  if (nvars >= 2) arr = arr.map((x) => (Array.isArray(x) ? x : [x]));
  if (reversed === 1) arr = arr.slice().reverse();
  st.iterations += arr.length;
  if (st.iterations > st.program.limits.maxLoopIterations) {
    limitError(
      st,
      'maxLoopIterations',
      `template loops exceeded ${st.program.limits.maxLoopIterations} iterations`,
    );
  }
  return arr;
}

function compare(test: (c: number) => boolean): (a: unknown, b: unknown) => boolean {
  return (a, b) => {
    const c = pyCompare(a, b);
    return c !== undefined && test(c);
  };
}

function pyIs(a: unknown, b: unknown): boolean {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  return plain(a) === plain(b);
}

type Helper = (...args: never[]) => unknown;

const HELPERS: Record<string, Helper> = {
  __r0: (name: string) => state().root.get(name),
  __r1: (name: string, a: string | number) => state().root.member(name, a),
  __r2: (name: string, a: string | number, b: string | number) =>
    getMember(state().root.member(name, a), b),
  __r3: (name: string, a: string | number, b: string | number, c: string | number) =>
    getMember(getMember(state().root.member(name, a), b), c),
  __rn: (name: string, a: string | number, ...rest: (string | number)[]) =>
    rest.reduce<unknown>((o, k) => getMember(o, k), state().root.member(name, a)),
  __g1: (o: unknown, a: string | number) => getMember(o, a),
  __g2: (o: unknown, a: string | number, b: string | number) => getMember(getMember(o, a), b),
  __g3: (o: unknown, a: string | number, b: string | number, c: string | number) =>
    getMember(getMember(getMember(o, a), b), c),
  __gn: (o: unknown, ...keys: (string | number)[]) =>
    keys.reduce<unknown>((x, k) => getMember(x, k), o),
  __e: emitInString,
  __n: emitOutsideString,
  __h: emitHeader,
  __t: (chars: number) => {
    account(state(), chars);
    return '';
  },
  __iter: iterate,
  __p: (id: number) => {
    state().signature += String.fromCharCode(id);
    return '';
  },
  __tp: (chars: number, id: number) => {
    const st = state();
    st.signature += String.fromCharCode(id);
    account(st, chars);
    return '';
  },
  __bool: (v: unknown) => isTruthy(v),
  __eq: (a: unknown, b: unknown) => pyEquals(a, b),
  __ne: (a: unknown, b: unknown) => !pyEquals(a, b),
  __lt: compare((c) => c < 0),
  __le: compare((c) => c <= 0),
  __gt: compare((c) => c > 0),
  __ge: compare((c) => c >= 0),
  __in: (a: unknown, b: unknown) => pyContains(b, a) === true,
  __notin: (a: unknown, b: unknown) => pyContains(b, a) === false,
  __is: pyIs,
  __isnot: (a: unknown, b: unknown) => !pyIs(a, b),
  __num: (s: string) => Number(s),
  __now: (format: unknown) => {
    const now = toDate(state().root.input.now);
    return now === undefined ? '' : formatDate(now, toText(format));
  },
  __firstof: (...values: unknown[]) => values.find((v) => isTruthy(v)) ?? '',
  __currency: (v: unknown) => currencyFormat(v),
};

// ---- the environment -------------------------------------------------------------------------

/** A loader that loads nothing: include/extends/import are refused before this, and here. */
class RefusingLoader extends nunjucks.Loader implements nunjucks.ILoader {
  getSource(name: string): nunjucks.LoaderSource {
    throw new Error(`templates cannot load other templates (${name})`);
  }
}

function createEnvironment(): nunjucks.Environment {
  const env = new nunjucks.Environment(new RefusingLoader(), {
    autoescape: false,
    throwOnUndefined: false,
    trimBlocks: false,
    lstripBlocks: false,
  });
  const mutable = env as unknown as {
    globals: Record<string, unknown>;
    filters: Record<string, unknown>;
    tests: Record<string, unknown>;
  };
  // No range/cycler/joiner, no nunjucks filters or tests: only what we register below.
  mutable.globals = Object.create(null) as Record<string, unknown>;
  mutable.filters = Object.create(null) as Record<string, unknown>;
  mutable.tests = Object.create(null) as Record<string, unknown>;
  for (const [name, spec] of FILTERS) {
    env.addFilter(`f_${name}`, (value: unknown, arg?: unknown) => spec.fn(value, arg));
  }
  for (const [name, fn] of Object.entries(HELPERS)) {
    env.addFilter(name, fn as (...args: unknown[]) => unknown);
  }
  return env;
}

const env = createEnvironment();

/**
 * Compiles generated nunjucks source. The compiler is nunjucks' own, with one change: a loop
 * binds `loop` (as a single object) only when its body reads it.
 */
export function compileNunjucks(source: string, name: string): nunjucks.Template {
  const compiler = new nj.compiler.Compiler(name, false);
  compiler._emitLoopBindings = function emitLoopBindings(node, _arr, i, len) {
    const usesLoop = node.body.findAll(nj.nodes.Symbol).some((s) => s.value === 'loop');
    if (!usesLoop) return;
    this._emitLine(
      `frame.variables["loop"] = {index: ${i} + 1, index0: ${i}, revindex: ${len} - ${i}, ` +
        `revindex0: ${len} - ${i} - 1, first: ${i} === 0, last: ${i} === ${len} - 1, length: ${len}};`,
    );
  };
  // No async filters, blocks or extensions: nunjucks' transformer would leave the AST unchanged.
  compiler.compile(nj.parser.parse(source, [], { autoescape: false }));
  // Resolve every filter once, at compile time, instead of `env.getFilter(name)` per call.
  const filters: unknown[] = [];
  const slots = new Map<string, number>();
  const code = compiler
    .getCode()
    // Loop and `set` variables have dot-free names: Frame.set(name, v) is this assignment.
    .replace(/frame\.set\("(_[a-z]\d+)", (t_\d+)\);/g, 'frame.variables["$1"] = $2;')
    .replace(/env\.getFilter\("([A-Za-z0-9_]+)"\)/g, (_m, f: string) => {
      let slot = slots.get(f);
      if (slot === undefined) {
        slot = filters.length;
        filters.push(env.getFilter(f));
        slots.set(f, slot);
      }
      return `__filters[${slot}]`;
    });
  const props: unknown = new Function('__filters', code)(filters);
  return new nj.Template({ type: 'code', obj: props }, env, name, true);
}

const NO_CONTEXT: object = Object.freeze({});

export interface RenderResult {
  output: string;
  /** The path taken through the blocks that can change a body's JSON structure. */
  signature: string;
}

/** Renders with limits; any failure is a FlowhookError (TemplateRenderError or TemplateLimitError). */
export function runTemplate(
  template: nunjucks.Template,
  program: Program,
  input: TemplateInput,
): RenderResult {
  const st: RenderState = {
    program,
    root: new RenderRoot(input),
    deadline: Date.now() + program.limits.timeoutMs,
    chars: 0,
    iterations: 0,
    ops: 0,
    signature: '',
    error: undefined,
  };
  const previous = current;
  current = st;
  try {
    const output = template.render(NO_CONTEXT);
    return { output, signature: st.signature };
  } catch (e) {
    if (st.error !== undefined) throw st.error;
    const message = e instanceof Error ? e.message : String(e);
    throw new TemplateRenderError(`template render failed: ${message}`, { cause: e });
  } finally {
    current = previous;
  }
}
