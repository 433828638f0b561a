// Parses Klaviyo's Django dialect into a small AST, resolves every name statically (loop and
// `with` variables, `forloop`, top-level context) and reports everything unsupported with its
// line. Nothing from the source reaches nunjucks except through this AST.
import { FILTERS } from './filters';
import { LineIndex, lex, tokenize, type Segment, type Token } from './lexer';
import type { TemplateKind, TemplateProblem } from './types';

export type Ref =
  | { kind: 'root'; name: string }
  | { kind: 'local'; js: string }
  /** `forloop.<attr>` of the loop `target` (the innermost loop when `own`). */
  | { kind: 'loop'; target: ForNode; own: boolean; attr: string };

export type Expr =
  | { t: 'lit'; value: string | number | boolean | null }
  | { t: 'var'; ref: Ref; path: (string | number)[] }
  | { t: 'filter'; base: Expr; name: string; arg?: Expr }
  /** An internal runtime helper applied to args[0] with the other args. */
  | { t: 'call'; fn: string; args: Expr[] };

export type CmpOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in' | 'is' | 'is not';

export type Cond =
  | { t: 'or' | 'and'; a: Cond; b: Cond }
  | { t: 'not'; a: Cond }
  | { t: 'cmp'; op: CmpOp; a: Expr; b: Expr }
  | { t: 'truth'; e: Expr };

/** Where an output lands in a JSON body: inside a string, outside, or not known statically. */
export type JsonContext = 'in' | 'out' | 'unknown';

export interface OutputNode {
  t: 'out';
  e: Expr;
  start: number;
  end: number;
  ctx: JsonContext;
}

export interface ForNode {
  t: 'for';
  id: number;
  vars: string[];
  iter: Expr;
  reversed: boolean;
  body: Node[];
  empty: Node[] | null;
  /** Some inner loop reads this loop through `forloop.parentloop`. */
  capture: boolean;
  start: number;
}

export type Node =
  | { t: 'text'; text: string; start: number }
  | OutputNode
  | { t: 'secret'; name: string; start: number }
  | { t: 'if'; branches: { cond: Cond | null; body: Node[] }[]; start: number }
  | ForNode
  | { t: 'with'; binds: { js: string; e: Expr }[]; body: Node[]; start: number }
  | { t: 'set'; js: string; e: Expr; start: number }
  | { t: 'comment'; newlines: number; start: number };

export interface ParseResult {
  nodes: Node[];
  problems: TemplateProblem[];
  lines: LineIndex;
  /** Number of `{{ secrets.NAME }}` placeholders (headers). */
  secrets: number;
}

/** A lookup table that can never answer with an inherited property. */
function table(entries: Record<string, string>): ReadonlyMap<string, string> {
  return new Map(Object.entries(entries));
}

const FORLOOP_ATTRS: ReadonlyMap<string, string> = table({
  counter: 'index',
  counter0: 'index0',
  revcounter: 'revindex',
  revcounter0: 'revindex0',
  first: 'first',
  last: 'last',
});

const REFUSED_TAGS: ReadonlyMap<string, string> = table({
  include: 'webhook templates cannot load other templates',
  extends: 'webhook templates cannot load other templates',
  import: 'webhook templates cannot load other templates',
  from: 'webhook templates cannot load other templates',
  ssi: 'webhook templates cannot load other templates',
  load: 'tag libraries cannot be loaded',
  set: "'set' is nunjucks syntax, not Django; use {% with name=value %}",
  macro: "'macro' is nunjucks syntax and is not supported",
  call: "'call' is nunjucks syntax and is not supported",
  block: 'template inheritance is not supported',
  filter: "the 'filter' tag is not supported; apply filters with |",
  raw: "'raw' is nunjucks syntax; use {% verbatim %}",
  autoescape: 'escaping is fixed: values are always JSON-escaped in a body',
  coupon_code: 'coupon codes are not supported in webhooks',
  unique_coupon_code: 'coupon codes are not supported in webhooks',
  web_feed: 'web feeds are not supported in webhooks',
  catalog: 'product feeds (catalog) are not supported in webhooks',
  endcatalog: 'product feeds (catalog) are not supported in webhooks',
  catalog_item: 'product feeds (catalog) are not supported in webhooks',
  product_feed: 'product feeds (catalog) are not supported in webhooks',
});

const REFUSED_ROOTS: ReadonlyMap<string, string> = table({
  feeds: 'web feeds are not supported in webhooks',
  catalog: 'product feeds (catalog) are not supported in webhooks',
  catalog_item: 'product feeds (catalog) are not supported in webhooks',
  coupon_code: 'coupon codes are not supported in webhooks',
});

const REFUSED_FILTERS: ReadonlyMap<string, string> = table({
  safe: "the 'safe' filter is not available: values are always JSON-escaped (use tojson to emit raw JSON)",
  safeseq: "the 'safeseq' filter is not available: values are always JSON-escaped",
});

/** Names that could reach JavaScript internals; refused even though lookups are safe anyway. */
const FORBIDDEN_SEGMENTS: ReadonlySet<string> = new Set(['constructor', 'prototype']);

const TEMPLATETAGS: ReadonlyMap<string, string> = table({
  openblock: '{%',
  closeblock: '%}',
  openvariable: '{{',
  closevariable: '}}',
  openbrace: '{',
  closebrace: '}',
  opencomment: '{#',
  closecomment: '#}',
});

const IDENT_RE = /^[\p{L}_][\p{L}\p{N}_]*$/u;
const SECRET_RE = /^\s*secrets\.([A-Za-z0-9_]+)\s*$/;

interface Scope {
  names: Map<string, string>;
}

interface EndTag {
  name: string;
  tokens: Token[];
  seg: Segment;
}

class ParseError extends Error {}

export class Parser {
  private readonly segs: Segment[];
  private pos = 0;
  private readonly problems: TemplateProblem[] = [];
  private readonly lines: LineIndex;
  private readonly scopes: Scope[] = [{ names: new Map() }];
  private readonly loops: ForNode[] = [];
  private nextId = 1;
  private secrets = 0;

  constructor(
    private readonly source: string,
    private readonly kind: TemplateKind,
  ) {
    this.segs = lex(source);
    this.lines = new LineIndex(source);
  }

  parse(): ParseResult {
    const { nodes, end } = this.parseNodes([]);
    if (end !== null) this.problem(end.seg.start, `unexpected {% ${end.name} %}`, end.name);
    return { nodes, problems: this.problems, lines: this.lines, secrets: this.secrets };
  }

  // ---- problems --------------------------------------------------------------------------------

  private problem(offset: number, message: string, name?: string): void {
    const { line, column } = this.lines.position(offset);
    const p: TemplateProblem = { message, line, column };
    if (name !== undefined) p.name = name;
    this.problems.push(p);
  }

  /** Reports and abandons the current tag. */
  private fail(offset: number, message: string, name?: string): never {
    this.problem(offset, message, name);
    throw new ParseError(message);
  }

  // ---- structure -------------------------------------------------------------------------------

  private parseNodes(endNames: string[]): { nodes: Node[]; end: EndTag | null } {
    const nodes: Node[] = [];
    while (this.pos < this.segs.length) {
      const seg = this.segs[this.pos++] as Segment;
      try {
        switch (seg.kind) {
          case 'text':
            this.text(seg, nodes);
            break;
          case 'comment':
            break;
          case 'var':
            nodes.push(this.output(seg));
            break;
          case 'block': {
            const tokens = tokenize(seg.content, seg.start + 2);
            const head = tokens[0];
            if (head === undefined || head.type !== 'name') {
              this.fail(seg.start, 'empty or malformed tag');
            }
            if (endNames.includes(head.text)) {
              return { nodes, end: { name: head.text, tokens, seg } };
            }
            const node = this.block(head.text, tokens, seg);
            if (node !== null) nodes.push(node);
            break;
          }
        }
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
      }
    }
    return { nodes, end: null };
  }

  private text(seg: Segment, nodes: Node[]): void {
    const t = seg.content;
    for (const opener of ['{{', '{%']) {
      const at = t.indexOf(opener);
      if (at >= 0) {
        this.problem(
          seg.start + at,
          `unclosed '${opener}' (a tag must be closed on the same line)`,
          opener,
        );
      }
    }
    if (this.kind === 'header') this.headerText(t, seg.start);
    nodes.push({ t: 'text', text: t, start: seg.start });
  }

  private headerText(t: string, start: number): void {
    // eslint-disable-next-line no-control-regex
    const bad = /[\u0000-\u0008\u000a-\u001f\u007f]/.exec(t);
    if (bad !== null) {
      const what = bad[0] === '\n' || bad[0] === '\r' ? 'a line break' : 'a control character';
      this.problem(start + bad.index, `a header value cannot contain ${what}`);
    }
  }

  private expectEnd(tokens: Token[], idx: number, what: string): void {
    const tok = tokens[idx];
    if (tok !== undefined) this.fail(tok.start, `unexpected '${tok.text}' in ${what}`, tok.text);
  }

  /** Parses a block body up to one of `endNames`; a missing end is reported at the opener. */
  private body(endNames: string[], opener: Segment, tag: string): { nodes: Node[]; end: EndTag } {
    const r = this.parseNodes(endNames);
    if (r.end === null) {
      this.fail(
        opener.start,
        `{% ${tag} %} is never closed (expected {% ${endNames.at(-1) as string} %})`,
        tag,
      );
    }
    return { nodes: r.nodes, end: r.end };
  }

  /** Runs `fn`; when it reports a problem, goes on with `fallback` (to still parse the block). */
  private recover<T>(fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      return fallback;
    }
  }

  private withScope<T>(fn: () => T): T {
    this.scopes.push({ names: new Map() });
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  private declare(name: string, prefix: string): string {
    const js = `_${prefix}${this.nextId++}`;
    (this.scopes[this.scopes.length - 1] as Scope).names.set(name, js);
    return js;
  }

  private block(name: string, tokens: Token[], seg: Segment): Node | null {
    switch (name) {
      case 'if':
        return this.ifTag(tokens, seg);
      case 'for':
        return this.forTag(tokens, seg);
      case 'with':
        return this.withTag(tokens, seg);
      case 'comment':
        return this.commentTag(seg);
      case 'verbatim':
        return this.verbatimTag(tokens, seg);
      case 'now':
      case 'today':
        return this.nowTag(name, tokens, seg);
      case 'firstof':
        return this.firstofTag(tokens, seg);
      case 'currency_format': {
        const { expr, idx } = this.filterExpr(tokens, 1, seg);
        this.expectEnd(tokens, idx, '{% currency_format %}');
        return this.out({ t: 'call', fn: '__currency', args: [expr] }, seg);
      }
      case 'templatetag': {
        const arg = tokens[1];
        const text = arg === undefined ? undefined : TEMPLATETAGS.get(arg.text);
        if (text === undefined || tokens.length !== 2) {
          this.fail(
            seg.start,
            `{% templatetag %} takes one of: ${[...TEMPLATETAGS.keys()].join(', ')}`,
            name,
          );
        }
        return { t: 'text', text, start: seg.start };
      }
      case 'elif':
      case 'else':
      case 'endif':
      case 'empty':
      case 'endfor':
      case 'endwith':
      case 'endcomment':
      case 'endverbatim':
        return this.fail(seg.start, `unexpected {% ${name} %}`, name);
      default: {
        const refusal = REFUSED_TAGS.get(name);
        if (refusal !== undefined)
          this.fail(seg.start, `{% ${name} %} is not supported: ${refusal}`, name);
        return this.fail(seg.start, `unknown tag '${name}'`, name);
      }
    }
  }

  private out(e: Expr, seg: Segment): OutputNode {
    return { t: 'out', e, start: seg.start, end: seg.end, ctx: 'unknown' };
  }

  private output(seg: Segment): Node {
    const m = SECRET_RE.exec(seg.content);
    if (m !== null) {
      if (this.kind === 'header') {
        this.secrets++;
        return { t: 'secret', name: m[1] as string, start: seg.start };
      }
      this.fail(
        seg.start,
        'secrets cannot be used in a body (they would be written to Kafka); use them in a header',
        'secrets',
      );
    }
    const tokens = tokenize(seg.content, seg.start + 2);
    if (tokens.length === 0) this.fail(seg.start, 'empty variable tag {{ }}');
    const { expr, idx } = this.filterExpr(tokens, 0, seg);
    this.expectEnd(tokens, idx, 'a variable tag');
    return this.out(expr, seg);
  }

  // ---- tags ------------------------------------------------------------------------------------

  private ifTag(tokens: Token[], seg: Segment): Node {
    const branches: { cond: Cond | null; body: Node[] }[] = [];
    const never: Cond = { t: 'truth', e: { t: 'lit', value: false } };
    let cond: Cond | null = this.recover(() => this.condition(tokens, 1, seg), never);
    let sawElse = false;
    for (;;) {
      const { nodes, end } = this.body(['elif', 'else', 'endif'], seg, 'if');
      branches.push({ cond, body: nodes });
      if (end.name === 'endif') {
        this.expectEnd(end.tokens, 1, '{% endif %}');
        break;
      }
      if (sawElse) this.problem(end.seg.start, `{% ${end.name} %} after {% else %}`, end.name);
      if (end.name === 'else') {
        sawElse = true;
        this.expectEnd(end.tokens, 1, '{% else %}');
        cond = null;
      } else {
        cond = this.recover(() => this.condition(end.tokens, 1, end.seg), never);
      }
    }
    return { t: 'if', branches, start: seg.start };
  }

  private forTag(tokens: Token[], seg: Segment): Node {
    const header = this.recover(() => this.forHeader(tokens, seg), {
      names: [] as string[],
      iter: { t: 'lit', value: null } as Expr,
      reversed: false,
    });
    const { names, iter, reversed } = header;
    const node: ForNode = {
      t: 'for',
      id: this.nextId++,
      vars: [],
      iter,
      reversed,
      body: [],
      empty: null,
      capture: false,
      start: seg.start,
    };
    const r = this.withScope(() => {
      node.vars = names.map((n) => this.declare(n, 'v'));
      this.loops.push(node);
      try {
        return this.body(['empty', 'endfor'], seg, 'for');
      } finally {
        this.loops.pop();
      }
    });
    node.body = r.nodes;
    if (r.end.name === 'empty') {
      this.expectEnd(r.end.tokens, 1, '{% empty %}');
      const e = this.withScope(() => this.body(['endfor'], seg, 'for'));
      node.empty = e.nodes;
      this.expectEnd(e.end.tokens, 1, '{% endfor %}');
    } else {
      this.expectEnd(r.end.tokens, 1, '{% endfor %}');
    }
    return node;
  }

  private forHeader(
    tokens: Token[],
    seg: Segment,
  ): { names: string[]; iter: Expr; reversed: boolean } {
    const names: string[] = [];
    let idx = 1;
    for (;;) {
      const tok = tokens[idx];
      if (tok === undefined || tok.type !== 'name' || tok.text === 'in') {
        this.fail(seg.start, "{% for %} expects '{% for item in list %}'", 'for');
      }
      if (!IDENT_RE.test(tok.text) || tok.text.startsWith('_') || tok.text === 'forloop') {
        this.fail(tok.start, `invalid loop variable '${tok.text}'`, tok.text);
      }
      names.push(tok.text);
      idx++;
      if (tokens[idx]?.text === ',') {
        idx++;
        continue;
      }
      break;
    }
    if (tokens[idx]?.text !== 'in') this.fail(seg.start, "{% for %} expects 'in'", 'for');
    const { expr: iter, idx: after } = this.filterExpr(tokens, idx + 1, seg);
    let reversed = false;
    idx = after;
    if (tokens[idx]?.text === 'reversed') {
      reversed = true;
      idx++;
    }
    this.expectEnd(tokens, idx, '{% for %}');
    return { names, iter, reversed };
  }

  private withTag(tokens: Token[], seg: Segment): Node {
    const pending = this.recover(() => this.withHeader(tokens, seg), []);
    let binds: { js: string; e: Expr }[] = [];
    const r = this.withScope(() => {
      binds = pending.map((p) => ({ js: this.declare(p.name, 'w'), e: p.e }));
      return this.body(['endwith'], seg, 'with');
    });
    this.expectEnd(r.end.tokens, 1, '{% endwith %}');
    return { t: 'with', binds, body: r.nodes, start: seg.start };
  }

  private withHeader(tokens: Token[], seg: Segment): { name: string; e: Expr }[] {
    const pending: { name: string; e: Expr }[] = [];
    const asIdx = tokens.length - 2;
    if (tokens.length >= 4 && tokens[asIdx]?.text === 'as' && tokens[2]?.text !== '=') {
      // Legacy form: {% with value as name %}
      const { expr, idx } = this.filterExpr(tokens, 1, seg);
      if (idx !== asIdx) this.expectEnd(tokens, idx, '{% with %}');
      pending.push({ name: this.bindingName(tokens[asIdx + 1] as Token), e: expr });
      return pending;
    }
    let idx = 1;
    while (idx < tokens.length) {
      const nameTok = tokens[idx] as Token;
      if (tokens[idx + 1]?.text !== '=') {
        this.fail(nameTok.start, "{% with %} expects 'name=value' (or 'value as name')", 'with');
      }
      const name = this.bindingName(nameTok);
      const r = this.filterExpr(tokens, idx + 2, seg);
      pending.push({ name, e: r.expr });
      idx = r.idx;
    }
    if (pending.length === 0)
      this.fail(seg.start, '{% with %} needs at least one variable', 'with');
    return pending;
  }

  private bindingName(tok: Token): string {
    if (tok.type !== 'name' || !IDENT_RE.test(tok.text) || tok.text.startsWith('_')) {
      this.fail(tok.start, `invalid variable name '${tok.text}'`, tok.text);
    }
    if (tok.text === 'forloop') this.fail(tok.start, "'forloop' cannot be assigned", tok.text);
    return tok.text;
  }

  private commentTag(seg: Segment): Node {
    let newlines = 0;
    while (this.pos < this.segs.length) {
      const s = this.segs[this.pos++] as Segment;
      if (s.kind === 'block' && /^\s*endcomment\s*$/.test(s.content)) {
        newlines = countNewlines(this.source.slice(seg.end, s.start));
        return { t: 'comment', newlines, start: seg.start };
      }
    }
    this.fail(seg.start, '{% comment %} is never closed (expected {% endcomment %})', 'comment');
  }

  private verbatimTag(tokens: Token[], seg: Segment): Node {
    if (tokens.length > 2) this.expectEnd(tokens, 2, '{% verbatim %}');
    const label = tokens[1]?.text;
    while (this.pos < this.segs.length) {
      const s = this.segs[this.pos++] as Segment;
      if (s.kind !== 'block') continue;
      const words = s.content.trim().split(/\s+/);
      if (words[0] === 'endverbatim' && words[1] === label) {
        const text = this.source.slice(seg.end, s.start);
        if (this.kind === 'header') this.headerText(text, seg.end);
        return { t: 'text', text, start: seg.end };
      }
    }
    this.fail(seg.start, '{% verbatim %} is never closed (expected {% endverbatim %})', 'verbatim');
  }

  private nowTag(name: 'now' | 'today', tokens: Token[], seg: Segment): Node {
    let idx = 1;
    let format = name === 'now' ? 'N j, Y, P' : '%Y-%m-%d';
    const fmt = tokens[idx];
    if (fmt !== undefined && fmt.type === 'str') {
      format = fmt.value as string;
      idx++;
    } else if (name === 'now') {
      this.fail(seg.start, '{% now %} expects a format string, e.g. {% now "Y-m-d" %}', name);
    }
    const e: Expr = { t: 'call', fn: '__now', args: [{ t: 'lit', value: format }] };
    if (tokens[idx]?.text === 'as') {
      const target = tokens[idx + 1];
      if (target === undefined) this.fail(seg.start, `{% ${name} ... as %} needs a name`, name);
      this.expectEnd(tokens, idx + 2, `{% ${name} %}`);
      const varName = this.bindingName(target);
      return { t: 'set', js: this.declare(varName, 'a'), e, start: seg.start };
    }
    this.expectEnd(tokens, idx, `{% ${name} %}`);
    return this.out(e, seg);
  }

  private firstofTag(tokens: Token[], seg: Segment): Node {
    const args: Expr[] = [];
    let idx = 1;
    let asName: string | undefined;
    while (idx < tokens.length) {
      if (tokens[idx]?.text === 'as' && idx === tokens.length - 2) {
        asName = this.bindingName(tokens[idx + 1] as Token);
        break;
      }
      const r = this.filterExpr(tokens, idx, seg);
      args.push(r.expr);
      idx = r.idx;
    }
    if (args.length === 0)
      this.fail(seg.start, '{% firstof %} needs at least one value', 'firstof');
    const e: Expr = { t: 'call', fn: '__firstof', args };
    if (asName !== undefined)
      return { t: 'set', js: this.declare(asName, 'a'), e, start: seg.start };
    return this.out(e, seg);
  }

  // ---- expressions -----------------------------------------------------------------------------

  private filterExpr(tokens: Token[], idx: number, seg: Segment): { expr: Expr; idx: number } {
    let expr = this.primary(tokens, idx, seg);
    idx++;
    while (tokens[idx]?.text === '|') {
      const nameTok = tokens[idx + 1];
      if (nameTok === undefined || nameTok.type !== 'name') {
        this.fail(tokens[idx]?.start ?? seg.start, "expected a filter name after '|'");
      }
      const name = nameTok.text;
      idx += 2;
      let arg: Expr | undefined;
      if (tokens[idx]?.text === ':') {
        if (tokens[idx + 1] === undefined)
          this.fail(nameTok.start, `filter '${name}' is missing its argument after ':'`, name);
        arg = this.primary(tokens, idx + 1, seg);
        idx += 2;
      }
      this.checkFilter(name, arg !== undefined, nameTok.start);
      if (
        name === 'lookup' &&
        arg?.t === 'lit' &&
        typeof arg.value === 'string' &&
        (FORBIDDEN_SEGMENTS.has(arg.value) || arg.value === '__proto__')
      ) {
        this.fail(nameTok.start, `'${arg.value}' is not accessible`, arg.value);
      }
      expr =
        arg === undefined
          ? { t: 'filter', base: expr, name }
          : { t: 'filter', base: expr, name, arg };
    }
    return { expr, idx };
  }

  private checkFilter(name: string, hasArg: boolean, offset: number): void {
    const spec = FILTERS.get(name);
    if (spec === undefined) {
      const refusal = REFUSED_FILTERS.get(name);
      this.fail(offset, refusal ?? `unknown filter '${name}'`, name);
    }
    if (spec.arity === 'required' && !hasArg) {
      this.fail(offset, `filter '${name}' requires an argument (${name}:value)`, name);
    }
    if (spec.arity === 'none' && hasArg) {
      this.fail(offset, `filter '${name}' takes no argument`, name);
    }
  }

  private primary(tokens: Token[], idx: number, seg: Segment): Expr {
    const tok = tokens[idx];
    if (tok === undefined) this.fail(seg.end - 2, 'expected a value');
    switch (tok.type) {
      case 'str':
        return { t: 'lit', value: tok.value as string };
      case 'num':
        return { t: 'lit', value: tok.value as number };
      case 'name':
        if (tok.text === 'True') return { t: 'lit', value: true };
        if (tok.text === 'False') return { t: 'lit', value: false };
        if (tok.text === 'None') return { t: 'lit', value: null };
        return this.variable(tok);
      case 'bad':
        if (tok.text.startsWith('"') || tok.text.startsWith("'"))
          this.fail(tok.start, 'unterminated string');
        if (tok.text === '$')
          this.fail(tok.start, "names with '$' need lookup, e.g. person|lookup:'$email'", '$');
        return this.fail(tok.start, `unexpected '${tok.text}'`, tok.text);
      default:
        return this.fail(tok.start, `expected a value, found '${tok.text}'`, tok.text);
    }
  }

  private variable(tok: Token): Expr {
    const parts = tok.text.split('.');
    if (parts.some((p) => p.length === 0))
      this.fail(tok.start, `invalid variable '${tok.text}'`, tok.text);
    const rootName = parts[0] as string;
    if (/^\d/.test(rootName)) this.fail(tok.start, `invalid variable '${tok.text}'`, tok.text);
    const path: (string | number)[] = [];
    for (const p of parts.slice(1)) {
      if (/^\d{1,15}$/.test(p)) path.push(Number(p));
      else path.push(p);
    }
    for (const p of parts) {
      if (p.includes('$')) {
        this.fail(tok.start, `names with '$' need lookup, e.g. event|lookup:'${p}'`, tok.text);
      }
      if (p.startsWith('_')) {
        this.fail(
          tok.start,
          `variables and attributes may not begin with an underscore: '${tok.text}'`,
          tok.text,
        );
      }
      if (FORBIDDEN_SEGMENTS.has(p)) this.fail(tok.start, `'${p}' is not accessible`, tok.text);
    }
    if (rootName === 'secrets') {
      this.fail(
        tok.start,
        this.kind === 'header'
          ? 'secrets can only be used as {{ secrets.NAME }} on their own (no filters, no tags)'
          : 'secrets cannot be used in a body (they would be written to Kafka); use them in a header',
        'secrets',
      );
    }
    if (rootName === 'forloop' && this.loops.length > 0) return this.forloop(tok, path);
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const js = (this.scopes[i] as Scope).names.get(rootName);
      if (js !== undefined) return { t: 'var', ref: { kind: 'local', js }, path };
    }
    const refusal = REFUSED_ROOTS.get(rootName);
    if (refusal !== undefined) this.fail(tok.start, refusal, rootName);
    return { t: 'var', ref: { kind: 'root', name: rootName }, path };
  }

  private forloop(tok: Token, path: (string | number)[]): Expr {
    let depth = this.loops.length - 1;
    let i = 0;
    while (path[i] === 'parentloop') {
      depth--;
      i++;
      if (depth < 0) this.fail(tok.start, `'${tok.text}': there is no enclosing loop`, tok.text);
    }
    const attrName = path[i];
    const attr = typeof attrName === 'string' ? FORLOOP_ATTRS.get(attrName) : undefined;
    if (attr === undefined) {
      this.fail(
        tok.start,
        `'${tok.text}': use forloop.counter, counter0, revcounter, revcounter0, first, last or parentloop`,
        tok.text,
      );
    }
    const target = this.loops[depth] as ForNode;
    const own = depth === this.loops.length - 1;
    if (!own) target.capture = true;
    return { t: 'var', ref: { kind: 'loop', target, own, attr }, path: path.slice(i + 1) };
  }

  /** Django's `if` expression: or < and < not < comparisons; parentheses are allowed. */
  private condition(tokens: Token[], idx: number, seg: Segment): Cond {
    if (tokens[idx] === undefined) this.fail(seg.start, '{% if %} needs a condition', 'if');
    const r = this.orExpr(tokens, idx, seg);
    this.expectEnd(tokens, r.idx, 'the condition');
    return r.cond;
  }

  private orExpr(tokens: Token[], idx: number, seg: Segment): { cond: Cond; idx: number } {
    let r = this.andExpr(tokens, idx, seg);
    while (isWord(tokens[r.idx], 'or')) {
      const rhs = this.andExpr(tokens, r.idx + 1, seg);
      r = { cond: { t: 'or', a: r.cond, b: rhs.cond }, idx: rhs.idx };
    }
    return r;
  }

  private andExpr(tokens: Token[], idx: number, seg: Segment): { cond: Cond; idx: number } {
    let r = this.notExpr(tokens, idx, seg);
    while (isWord(tokens[r.idx], 'and')) {
      const rhs = this.notExpr(tokens, r.idx + 1, seg);
      r = { cond: { t: 'and', a: r.cond, b: rhs.cond }, idx: rhs.idx };
    }
    return r;
  }

  private notExpr(tokens: Token[], idx: number, seg: Segment): { cond: Cond; idx: number } {
    if (isWord(tokens[idx], 'not')) {
      const r = this.notExpr(tokens, idx + 1, seg);
      return { cond: { t: 'not', a: r.cond }, idx: r.idx };
    }
    return this.comparison(tokens, idx, seg);
  }

  private comparison(tokens: Token[], idx: number, seg: Segment): { cond: Cond; idx: number } {
    if (tokens[idx]?.text === '(' && tokens[idx]?.type === 'op') {
      const inner = this.orExpr(tokens, idx + 1, seg);
      if (tokens[inner.idx]?.text !== ')')
        this.fail(tokens[idx]?.start ?? seg.start, "missing ')'");
      return { cond: inner.cond, idx: inner.idx + 1 };
    }
    const left = this.filterExpr(tokens, idx, seg);
    let cond: Cond = { t: 'truth', e: left.expr };
    let lhs = left.expr;
    idx = left.idx;
    for (;;) {
      const op = comparisonOperator(tokens, idx);
      if (op === undefined) break;
      const right = this.filterExpr(tokens, idx + op.width, seg);
      const cmp: Cond = { t: 'cmp', op: op.op, a: lhs, b: right.expr };
      cond = cond.t === 'truth' ? cmp : { t: 'and', a: cond, b: cmp };
      lhs = right.expr;
      idx = right.idx;
    }
    if (tokens[idx] !== undefined && tokens[idx]?.text === '=') {
      this.fail((tokens[idx] as Token).start, "use '==' to compare", '=');
    }
    return { cond, idx };
  }
}

function isWord(tok: Token | undefined, word: string): boolean {
  return tok !== undefined && tok.type === 'name' && tok.text === word;
}

function comparisonOperator(
  tokens: Token[],
  idx: number,
): { op: CmpOp; width: number } | undefined {
  const tok = tokens[idx];
  if (tok === undefined) return undefined;
  if (tok.type === 'op') {
    switch (tok.text) {
      case '==':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=':
        return { op: tok.text, width: 1 };
      default:
        return undefined;
    }
  }
  if (isWord(tok, 'in')) return { op: 'in', width: 1 };
  if (isWord(tok, 'not') && isWord(tokens[idx + 1], 'in')) return { op: 'not in', width: 2 };
  if (isWord(tok, 'is')) {
    return isWord(tokens[idx + 1], 'not') ? { op: 'is not', width: 2 } : { op: 'is', width: 1 };
  }
  return undefined;
}

export function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

export function parseTemplate(source: string, kind: TemplateKind): ParseResult {
  return new Parser(source, kind).parse();
}
