// Turns the Django AST into nunjucks source. Every output goes through an emitter filter that
// escapes for where it lands (inside a JSON string, outside one, or a header), every loop goes
// through a bounded iterator, and every variable through the safe resolver. Line numbers of the
// generated source match the template's, so nunjucks positions stay meaningful.
import { findJsonError } from './json';
import type { LineIndex } from './lexer';
import type { Cond, Expr, ForNode, JsonContext, Node, OutputNode } from './parser';
import type { TemplateKind, TemplateProblem } from './types';

export interface Translation {
  source: string;
  /** Source span of each output tag, indexed by the emitter's argument. */
  positions: { start: number; end: number }[];
  problems: TemplateProblem[];
  /** Bodies whose JSON validity depends only on the path taken (null: always JSON.parse). */
  shape: JsonShape | null;
  /** Headers: number of `{{ secrets.NAME }}` placeholders. */
  secrets: number;
}

/** Marks a `{{ secrets.NAME }}` placeholder in a rendered header until it is restored. */
export const SECRET_SENTINEL = '\u0000';

// ---- nunjucks literals -----------------------------------------------------------------------

export function njString(s: string): string {
  return (
    '"' +
    s
      .replace(/\\/g, '\\\\')
      .replace(/"/g, '\\"')
      .replace(/\n/g, '\\n')
      .replace(/\r/g, '\\r')
      .replace(/\t/g, '\\t') +
    '"'
  );
}

function njNumber(n: number): string {
  const s = String(n);
  if (/^-?\d+(\.\d+)?$/.test(s)) return `(${s})`;
  return `(${njString(s)}|__num)`;
}

function njKey(k: string | number): string {
  return typeof k === 'number' ? String(k) : njString(k);
}

function pathLookup(base: string, path: (string | number)[], prefix: '__g' | '__r'): string {
  if (path.length === 0) return base;
  const fn = path.length <= 3 ? `${prefix}${path.length}` : `${prefix}n`;
  return `${base}|${fn}(${path.map(njKey).join(', ')})`;
}

function genExpr(e: Expr): string {
  switch (e.t) {
    case 'lit':
      if (typeof e.value === 'string') return njString(e.value);
      if (typeof e.value === 'number') return njNumber(e.value);
      if (e.value === null) return 'none';
      return e.value ? 'true' : 'false';
    case 'var': {
      const ref = e.ref;
      if (ref.kind === 'root') {
        if (e.path.length === 0) return `${njString(ref.name)}|__r0`;
        return pathLookup(njString(ref.name), e.path, '__r');
      }
      if (ref.kind === 'local') return pathLookup(ref.js, e.path, '__g');
      const base = ref.own ? `loop.${ref.attr}` : `_f${ref.target.id}.${ref.attr}`;
      return pathLookup(`(${base})`, e.path, '__g');
    }
    case 'filter':
      return e.arg === undefined
        ? `(${genExpr(e.base)})|f_${e.name}`
        : `(${genExpr(e.base)})|f_${e.name}(${genExpr(e.arg)})`;
    case 'call': {
      const [first, ...rest] = e.args;
      const head = first === undefined ? 'none' : genExpr(first);
      return rest.length === 0
        ? `(${head})|${e.fn}`
        : `(${head})|${e.fn}(${rest.map(genExpr).join(', ')})`;
    }
  }
}

const CMP_FILTERS: ReadonlyMap<string, string> = new Map(
  Object.entries({
    '==': '__eq',
    '!=': '__ne',
    '<': '__lt',
    '<=': '__le',
    '>': '__gt',
    '>=': '__ge',
    in: '__in',
    'not in': '__notin',
    is: '__is',
    'is not': '__isnot',
  }),
);

function genCond(c: Cond): string {
  switch (c.t) {
    case 'or':
    case 'and':
      return `(${genCond(c.a)}) ${c.t} (${genCond(c.b)})`;
    case 'not':
      return `not (${genCond(c.a)})`;
    case 'truth':
      return `(${genExpr(c.e)})|__bool`;
    case 'cmp':
      return `(${genExpr(c.a)})|${CMP_FILTERS.get(c.op) as string}(${genExpr(c.b)})`;
  }
}

// ---- JSON context analysis -------------------------------------------------------------------

type ScanState = 'out' | 'in' | 'esc' | 'unknown';

function scanText(text: string, state: ScanState): ScanState {
  if (state === 'unknown') return state;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (state === 'out') {
      if (c === 0x22) state = 'in';
    } else if (state === 'in') {
      if (c === 0x5c) state = 'esc';
      else if (c === 0x22) state = 'out';
    } else {
      state = 'in';
    }
  }
  return state;
}

/** Records, for every output of a body, whether it lands inside a JSON string. */
class JsonContextAnalysis {
  readonly escapeProblems = new Set<number>();
  /** State at the start of each if/for block (its last analysis wins). */
  readonly starts = new Map<Node, ScanState>();

  run(nodes: Node[], state: ScanState): ScanState {
    for (const node of nodes) state = this.node(node, state);
    return state;
  }

  private node(node: Node, state: ScanState): ScanState {
    switch (node.t) {
      case 'text':
        return scanText(node.text, state);
      case 'out':
        if (state === 'esc') this.escapeProblems.add(node.start);
        node.ctx = state === 'in' || state === 'esc' ? 'in' : state;
        return state === 'esc' ? 'in' : state;
      case 'if': {
        this.starts.set(node, state);
        const ends = node.branches.map((b) => this.run(b.body, state));
        if (node.branches[node.branches.length - 1]?.cond !== null) ends.push(state);
        return ends.every((s) => s === ends[0]) ? (ends[0] as ScanState) : 'unknown';
      }
      case 'for': {
        this.starts.set(node, state);
        let after = state;
        if (this.run(node.body, state) !== state) {
          this.run(node.body, 'unknown');
          after = 'unknown';
        }
        if (node.empty !== null && this.run(node.empty, state) !== after) after = 'unknown';
        return after;
      }
      case 'with':
        return this.run(node.body, state);
      default:
        return state;
    }
  }
}

// ---- JSON validity by control-flow path ---------------------------------------------------------
//
// In a body, a value inside a JSON string is always escaped into valid string content, and a
// value outside strings is always exactly one JSON value (or the render fails). So whether the
// output is JSON depends only on the literal text, that is on the path taken through if/for
// blocks. Each such block records an id when one of its bodies runs; the ids of a render are its
// signature. The "skeleton" of a signature (the text it emits, with "" for values in strings and
// 0 for values outside) is checked once; signatures whose skeleton is JSON need no JSON.parse.

/** Valid content of a JSON string (no quote, no control character, only valid escapes). */
function isJsonStringContent(text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*$/.test(text);
}

/** Every text and output of the block's bodies stays inside one JSON string. */
function staysInString(node: Node): boolean {
  const bodies: Node[][] =
    node.t === 'if'
      ? node.branches.map((b) => b.body)
      : node.t === 'for'
        ? [node.body, ...(node.empty === null ? [] : [node.empty])]
        : node.t === 'with'
          ? [node.body]
          : [];
  for (const body of bodies) {
    for (const child of body) {
      if (child.t === 'text' && !isJsonStringContent(child.text)) return false;
      if (child.t === 'out' && child.ctx !== 'in') return false;
      if ((child.t === 'if' || child.t === 'for' || child.t === 'with') && !staysInString(child)) {
        return false;
      }
    }
  }
  return true;
}

interface Skeleton {
  text: string;
  /** For each piece: offset in `text` and in the template source. */
  map: { at: number; source: number }[];
  placeholders: number[];
}

/** A placeholder stands for any JSON value only between structural characters. */
function placeholdersDelimited(sk: Skeleton): boolean {
  for (const p of sk.placeholders) {
    let i = p - 1;
    while (i >= 0 && /\s/.test(sk.text[i] as string)) i--;
    if (i >= 0 && !'[,:'.includes(sk.text[i] as string)) return false;
    let j = p + 1;
    while (j < sk.text.length && /\s/.test(sk.text[j] as string)) j++;
    if (j < sk.text.length && !',]}'.includes(sk.text[j] as string)) return false;
  }
  return true;
}

function sourceOffset(sk: Skeleton, at: number): number {
  let best = sk.map[0];
  for (const m of sk.map) {
    if (m.at <= at) best = m;
    else break;
  }
  if (best === undefined) return 0;
  return best.source + (at - best.at);
}

/** Per template: at most this many signatures are remembered, each at most this long. */
const MAX_SIGNATURES = 64;
const MAX_SIGNATURE_LENGTH = 128;

export class JsonShape {
  /** Signatures whose every render is valid JSON. */
  private readonly proven = new Set<string>();
  /** Signatures checked and found unprovable (their renders are always parsed). */
  private readonly unprovable = new Set<string>();
  /** Block bodies that record their id, with that id. */
  readonly ids = new Map<Node[], number>();

  constructor(private readonly nodes: Node[]) {}

  /** True when every render taking this path is known to be valid JSON. */
  isProven(signature: string): boolean {
    return this.proven.has(signature);
  }

  /** The skeleton of a signature, or null when the signature does not match the template. */
  skeleton(signature: string): Skeleton | null {
    const sk: Skeleton = { text: '', map: [], placeholders: [] };
    let pos = 0;
    const next = (): number => (pos < signature.length ? signature.charCodeAt(pos) : -1);
    const walk = (nodes: Node[]): void => {
      for (const node of nodes) {
        switch (node.t) {
          case 'text':
            sk.map.push({ at: sk.text.length, source: node.start });
            sk.text += node.text;
            break;
          case 'out':
            if (node.ctx === 'out') {
              sk.map.push({ at: sk.text.length, source: node.start });
              sk.placeholders.push(sk.text.length);
              sk.text += '0';
            }
            break;
          case 'with':
            walk(node.body);
            break;
          case 'if':
            for (const b of node.branches) {
              const id = this.ids.get(b.body);
              if (id !== undefined && id === next()) {
                pos++;
                walk(b.body);
                break;
              }
            }
            break;
          case 'for': {
            const bodyId = this.ids.get(node.body);
            if (bodyId === undefined) break;
            while (next() === bodyId) {
              pos++;
              walk(node.body);
            }
            const emptyId = node.empty === null ? undefined : this.ids.get(node.empty);
            if (node.empty !== null && emptyId !== undefined && next() === emptyId) {
              pos++;
              walk(node.empty);
            }
            break;
          }
          default:
            break;
        }
      }
    };
    walk(this.nodes);
    return pos === signature.length ? sk : null;
  }

  /** Checks a signature once; true when every render taking this path is valid JSON. */
  prove(signature: string): boolean {
    if (this.proven.has(signature)) return true;
    if (signature.length > MAX_SIGNATURE_LENGTH || this.unprovable.has(signature)) return false;
    const sk = this.skeleton(signature);
    const ok = sk !== null && placeholdersDelimited(sk) && findJsonError(sk.text) === null;
    const memory = ok ? this.proven : this.unprovable;
    if (memory.size < MAX_SIGNATURES) memory.add(signature);
    return ok;
  }
}

function unknownOutputs(nodes: Node[], found: OutputNode[]): OutputNode[] {
  for (const node of nodes) {
    if (node.t === 'out' && node.ctx === 'unknown') found.push(node);
    else if (node.t === 'if') for (const b of node.branches) unknownOutputs(b.body, found);
    else if (node.t === 'with') unknownOutputs(node.body, found);
    else if (node.t === 'for') {
      unknownOutputs(node.body, found);
      if (node.empty !== null) unknownOutputs(node.empty, found);
    }
  }
  return found;
}

/** Gives an id to the bodies of every block that can change the JSON structure. */
function assignIds(nodes: Node[], shape: JsonShape, starts: Map<Node, ScanState>): void {
  for (const node of nodes) {
    if (node.t === 'with') assignIds(node.body, shape, starts);
    if (node.t !== 'if' && node.t !== 'for') continue;
    // A block inside one JSON string cannot change the structure: no id, no recording.
    if (starts.get(node) === 'in' && staysInString(node)) continue;
    const bodies =
      node.t === 'if'
        ? node.branches.map((b) => b.body)
        : [node.body, ...(node.empty === null ? [] : [node.empty])];
    for (const body of bodies) {
      shape.ids.set(body, shape.ids.size + 1);
      assignIds(body, shape, starts);
    }
  }
}

// ---- code generation -------------------------------------------------------------------------

/** Length of the text a body outputs whatever its inner if/for blocks do. */
function unconditionalText(body: Node[]): number {
  let n = 0;
  for (const node of body) {
    if (node.t === 'text') n += node.text.length;
    else if (node.t === 'with') n += unconditionalText(node.body);
  }
  return n;
}

class Generator {
  private out = '';
  readonly positions: { start: number; end: number }[] = [];
  private loopDepth = 0;

  constructor(
    private readonly kind: TemplateKind,
    private readonly shape: JsonShape | null,
  ) {}

  /**
   * Emitted where a block body starts: records that it runs (see JsonShape) and, inside loops,
   * counts the text it will output (the output limit also covers literal text repeated by loops).
   */
  private enter(body: Node[]): void {
    const id = this.shape?.ids.get(body);
    const chars = this.loopDepth > 0 ? unconditionalText(body) : 0;
    if (id !== undefined && chars > 0) this.out += `{{ ${chars}|__tp(${id}) }}`;
    else if (id !== undefined) this.out += `{{ ${id}|__p }}`;
    else if (chars > 0) this.out += `{{ ${chars}|__t }}`;
  }

  run(nodes: Node[]): string {
    this.nodes(nodes);
    return this.out;
  }

  private nodes(nodes: Node[]): void {
    for (const node of nodes) this.node(node);
  }

  private text(text: string): void {
    if (text.length === 0) return;
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (i > 0) this.out += '\n';
      if (line.length === 0) return;
      // Anything nunjucks could read as a delimiter (or a stray "#}", which it refuses) goes out
      // as a string literal instead (a final "{" would merge with the tag that follows).
      const last = i === lines.length - 1;
      if (
        /\{[{%#]|#\}/.test(line) ||
        (last && line.endsWith('{')) ||
        line.includes(SECRET_SENTINEL)
      ) {
        this.out += `{{ ${njString(line)} }}`;
      } else {
        this.out += line;
      }
    });
  }

  private emitter(node: OutputNode): string {
    if (this.kind === 'header') return '__h';
    return node.ctx === 'out' ? '__n' : '__e';
  }

  private node(node: Node): void {
    switch (node.t) {
      case 'text':
        this.text(node.text);
        break;
      case 'out': {
        const id = this.positions.length;
        this.positions.push({ start: node.start, end: node.end });
        this.out += `{{ ${genExpr(node.e)}|${this.emitter(node)}(${id}) }}`;
        break;
      }
      case 'secret':
        // Restored to `{{ secrets.NAME }}` after rendering (values can never forge one).
        this.out += `{{ ${njString(`${SECRET_SENTINEL}S:${node.name}${SECRET_SENTINEL}`)} }}`;
        break;
      case 'if':
        node.branches.forEach((b, i) => {
          if (i === 0) this.out += `{% if ${genCond(b.cond as Cond)} %}`;
          else if (b.cond !== null) this.out += `{% elif ${genCond(b.cond)} %}`;
          else this.out += '{% else %}';
          this.enter(b.body);
          this.nodes(b.body);
        });
        this.out += '{% endif %}';
        break;
      case 'for':
        this.forLoop(node);
        break;
      case 'with':
        for (const b of node.binds) this.out += `{% set ${b.js} = ${genExpr(b.e)} %}`;
        this.nodes(node.body);
        break;
      case 'set':
        this.out += `{% set ${node.js} = ${genExpr(node.e)} %}`;
        break;
      case 'comment':
        if (node.newlines > 0) this.out += `{#${'\n'.repeat(node.newlines)}#}`;
        break;
    }
  }

  private forLoop(node: ForNode): void {
    const vars = node.vars.length > 0 ? node.vars.join(', ') : '_unused';
    const n = Math.max(1, node.vars.length);
    this.out += `{% for ${vars} in (${genExpr(node.iter)})|__iter(${n}, ${node.reversed ? 1 : 0}) %}`;
    if (node.capture) this.out += `{% set _f${node.id} = loop %}`;
    this.loopDepth++;
    this.enter(node.body);
    this.nodes(node.body);
    this.loopDepth--;
    if (node.empty !== null) {
      this.out += '{% else %}';
      this.enter(node.empty);
      this.nodes(node.empty);
    }
    this.out += '{% endfor %}';
  }
}

export function translate(
  nodes: Node[],
  kind: TemplateKind,
  lines: LineIndex,
  secrets: number,
): Translation {
  const problems: TemplateProblem[] = [];
  let shape: JsonShape | null = null;
  if (kind === 'body') {
    const analysis = new JsonContextAnalysis();
    analysis.run(nodes, 'out');
    for (const offset of analysis.escapeProblems) {
      problems.push({
        message: 'a tag cannot follow a backslash inside a JSON string',
        ...lines.position(offset),
      });
    }
    // A value must land clearly inside or outside a JSON string: refuse the ambiguous ones.
    for (const node of unknownOutputs(nodes, [])) {
      problems.push({
        message:
          'cannot tell whether this tag is inside a JSON string: an if/for block around it ' +
          'opens or closes a string on some paths only',
        ...lines.position(node.start),
      });
    }
    // (A backslash before a tag makes the JSON shape meaningless: that problem is enough.)
    if (analysis.escapeProblems.size === 0 && problems.length === 0) {
      shape = new JsonShape(nodes);
      assignIds(nodes, shape, analysis.starts);
      // Ids are recorded as UTF-16 code units.
      if (shape.ids.size > 0xfff0) shape = null;
      else if (shape.ids.size === 0) {
        // One path only: check it now, and report a body that can never be JSON.
        const sk = shape.skeleton('');
        if (sk !== null && placeholdersDelimited(sk)) {
          const err = findJsonError(sk.text);
          if (err === null) shape.prove('');
          else {
            const at = Math.min(err.offset, Math.max(0, sk.text.length - 1));
            problems.push({
              message: `the body is not valid JSON: ${err.message}`,
              ...lines.position(sourceOffset(sk, at)),
            });
          }
        }
      }
    }
  }
  const gen = new Generator(kind, shape);
  const source = gen.run(nodes);
  return { source, positions: gen.positions, problems, shape, secrets };
}

export type { JsonContext };
