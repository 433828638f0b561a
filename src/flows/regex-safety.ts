// Static ReDoS analysis for the `regex` / `nregex` filter operators. Patterns come from flow
// authors and run against every matching event on the hot path, so a pattern that can backtrack
// catastrophically must be refused when the flow is validated, not discovered in production.
//
// The analyser parses the pattern (JavaScript syntax, no flags) into a small AST and refuses:
//   - patterns longer than `maxLength` (default 256) and repetition counts above `maxRepeat`;
//   - backreferences (\1, \k<name>): they make matching NP-hard and are never needed in filters;
//   - nested quantifiers: a repeated group (max >= 2) containing an unbounded quantifier
//     (`(a+)+`, `(.*a){10}`, `(\w+\s?)*`), an unbounded group containing any variable
//     quantifier (`(a{1,3})+`), or bounded nesting whose backtracking bound exceeds
//     `maxBacktrack` (`([a-z]{1,10}){1,5}`), while small bounded nesting stays allowed
//     (`(\d{1,3}\.){3}`);
//   - a repeated group that can match the empty string (`(a?)*`, `(a|)+`);
//   - ambiguous alternation under a quantifier: alternatives that can start with the same
//     character (`(\w|\d)+`, `(a|a?)+`), or literal alternatives where one is a prefix of another
//     (`(a|aa)+`); disjoint literals such as `(ab|ac)+` or `(foo|bar)+` are fine;
//   - adjacent unbounded quantifiers over overlapping characters with only optional items between
//     them (`\d+\d+`, `.*.*`, `\w+\s*\w+`), which backtrack polynomially.
// It is deliberately conservative: a refused pattern can always be rewritten in a safe form.
// The filter evaluator additionally never runs a regex on subjects longer than a fixed bound
// (see conditions.ts), which caps the remaining linear-per-start-position cost.

export interface RegexSafetyOptions {
  /** Longest pattern accepted (characters). Default 256. */
  maxLength?: number;
  /** Largest repetition count in `{n,m}`. Default 1000. */
  maxRepeat?: number;
  /** Largest estimated backtracking bound of bounded nested repetition. Default 10000. */
  maxBacktrack?: number;
}

export type RegexSafetyVerdict = { safe: true } | { safe: false; reason: string };

// ---- character sets (sorted, merged code point ranges) ---------------------------------------

type Range = readonly [number, number];
type CharSet = readonly Range[];
const MAX_CP = 0x10ffff;

function normalize(ranges: Range[]): CharSet {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}
function union(a: CharSet, b: CharSet): CharSet {
  return normalize([...a, ...b]);
}
function complement(a: CharSet): CharSet {
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of a) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CP) out.push([next, MAX_CP]);
  return out;
}
function overlaps(a: CharSet, b: CharSet): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ra = a[i] as Range;
    const rb = b[j] as Range;
    if (ra[1] < rb[0]) i++;
    else if (rb[1] < ra[0]) j++;
    else return true;
  }
  return false;
}
const single = (cp: number): CharSet => [[cp, cp]];
const cp = (c: string): number => c.codePointAt(0) as number;
const DIGIT: CharSet = [[48, 57]];
const WORD: CharSet = normalize([
  [48, 57],
  [65, 90],
  [95, 95],
  [97, 122],
]);
const SPACE: CharSet = normalize([
  [9, 13],
  [32, 32],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
]);
const LINE_TERMINATORS: CharSet = normalize([
  [10, 10],
  [13, 13],
  [0x2028, 0x2029],
]);
const DOT = complement(LINE_TERMINATORS);
const ANY: CharSet = [[0, MAX_CP]];
const EMPTY: CharSet = [];

// ---- AST --------------------------------------------------------------------------------------

type Node =
  | { t: 'char'; set: CharSet }
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; alts: Node[] }
  | { t: 'repeat'; body: Node; min: number; max: number }
  | { t: 'zero'; body: Node | null } // assertions and lookarounds
  | { t: 'backref' };

class RegexParseError extends Error {}

class Parser {
  private pos = 0;
  constructor(private readonly src: string) {}

  parse(): Node {
    const node = this.alternation();
    if (this.pos < this.src.length) throw new RegexParseError(`unexpected ')' at ${this.pos}`);
    return node;
  }

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  private alternation(): Node {
    const alts: Node[] = [this.sequence()];
    while (this.peek() === '|') {
      this.pos++;
      alts.push(this.sequence());
    }
    return alts.length === 1 ? (alts[0] as Node) : { t: 'alt', alts };
  }

  private sequence(): Node {
    const items: Node[] = [];
    while (this.pos < this.src.length && this.peek() !== '|' && this.peek() !== ')') {
      const atom = this.atom();
      items.push(this.quantified(atom));
    }
    return items.length === 1 ? (items[0] as Node) : { t: 'seq', items };
  }

  private quantified(atom: Node): Node {
    let node = atom;
    for (;;) {
      const c = this.peek();
      let min: number;
      let max: number;
      if (c === '*') [min, max] = [0, Infinity];
      else if (c === '+') [min, max] = [1, Infinity];
      else if (c === '?') [min, max] = [0, 1];
      else if (c === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos));
        if (m === null) return node; // a literal '{' (Annex B)
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
        this.pos += m[0].length - 1;
      } else return node;
      this.pos++;
      if (this.peek() === '?') this.pos++; // lazy: same backtracking behaviour
      if (node.t === 'zero' && node.body === null) continue; // quantified assertion: no-op
      node = { t: 'repeat', body: node, min, max };
    }
  }

  private atom(): Node {
    const c = this.src[this.pos++] as string;
    switch (c) {
      case '^':
      case '$':
        return { t: 'zero', body: null };
      case '.':
        return { t: 'char', set: DOT };
      case '[':
        return { t: 'char', set: this.charClass() };
      case '(':
        return this.group();
      case '\\':
        return this.escape(false);
      case '*':
      case '+':
      case '?':
        throw new RegexParseError(`nothing to repeat at ${this.pos - 1}`);
      default:
        return { t: 'char', set: single(cp(c)) };
    }
  }

  private group(): Node {
    let lookaround = false;
    if (this.src.startsWith('?:', this.pos)) this.pos += 2;
    else if (this.src.startsWith('?=', this.pos) || this.src.startsWith('?!', this.pos)) {
      this.pos += 2;
      lookaround = true;
    } else if (this.src.startsWith('?<=', this.pos) || this.src.startsWith('?<!', this.pos)) {
      this.pos += 3;
      lookaround = true;
    } else if (this.src.startsWith('?<', this.pos)) {
      const end = this.src.indexOf('>', this.pos);
      if (end < 0) throw new RegexParseError('unterminated group name');
      this.pos = end + 1;
    } else if (this.peek() === '?') throw new RegexParseError(`invalid group at ${this.pos}`);
    const body = this.alternation();
    if (this.peek() !== ')') throw new RegexParseError('unterminated group');
    this.pos++;
    return lookaround ? { t: 'zero', body } : body;
  }

  /** After a backslash. Inside a class, \b is a backspace and there are no backreferences. */
  private escape(inClass: boolean): Node {
    const c = this.src[this.pos++];
    if (c === undefined) throw new RegexParseError('trailing backslash');
    switch (c) {
      case 'd':
        return { t: 'char', set: DIGIT };
      case 'D':
        return { t: 'char', set: complement(DIGIT) };
      case 'w':
        return { t: 'char', set: WORD };
      case 'W':
        return { t: 'char', set: complement(WORD) };
      case 's':
        return { t: 'char', set: SPACE };
      case 'S':
        return { t: 'char', set: complement(SPACE) };
      case 'b':
        return inClass ? { t: 'char', set: single(8) } : { t: 'zero', body: null };
      case 'B':
        return { t: 'zero', body: null };
      case 'n':
        return { t: 'char', set: single(10) };
      case 'r':
        return { t: 'char', set: single(13) };
      case 't':
        return { t: 'char', set: single(9) };
      case 'v':
        return { t: 'char', set: single(11) };
      case 'f':
        return { t: 'char', set: single(12) };
      case '0':
        return { t: 'char', set: single(0) };
      case 'c': {
        const l = this.peek();
        if (l !== undefined && /[A-Za-z]/.test(l)) {
          this.pos++;
          return { t: 'char', set: single(cp(l) % 32) };
        }
        return { t: 'char', set: single(cp('\\')) };
      }
      case 'x': {
        const m = /^[0-9A-Fa-f]{2}/.exec(this.src.slice(this.pos));
        if (m === null) return { t: 'char', set: single(cp('x')) };
        this.pos += 2;
        return { t: 'char', set: single(parseInt(m[0], 16)) };
      }
      case 'u': {
        const m = /^[0-9A-Fa-f]{4}/.exec(this.src.slice(this.pos));
        if (m === null) return { t: 'char', set: single(cp('u')) };
        this.pos += 4;
        return { t: 'char', set: single(parseInt(m[0], 16)) };
      }
      case 'k':
        if (!inClass && this.peek() === '<') return { t: 'backref' };
        return { t: 'char', set: single(cp('k')) };
      default:
        if (!inClass && /[1-9]/.test(c)) return { t: 'backref' };
        return { t: 'char', set: single(cp(c)) };
    }
  }

  private charClass(): CharSet {
    let negate = false;
    if (this.peek() === '^') {
      negate = true;
      this.pos++;
    }
    let set: CharSet = EMPTY;
    while (this.peek() !== ']') {
      if (this.pos >= this.src.length) throw new RegexParseError('unterminated character class');
      const lo = this.classAtom();
      if (this.peek() === '-' && this.src[this.pos + 1] !== ']' && this.pos + 1 < this.src.length) {
        this.pos++;
        const hi = this.classAtom();
        const a = lo.length === 1 && lo[0]?.[0] === lo[0]?.[1] ? (lo[0] as Range)[0] : -1;
        const b = hi.length === 1 && hi[0]?.[0] === hi[0]?.[1] ? (hi[0] as Range)[0] : -1;
        if (a >= 0 && b >= 0) {
          if (a > b) throw new RegexParseError('range out of order in character class');
          set = union(set, [[a, b]]);
        } else set = union(union(union(set, lo), hi), single(cp('-'))); // e.g. [\d-x]
      } else set = union(set, lo);
    }
    this.pos++; // ']'
    return negate ? complement(set) : set;
  }

  private classAtom(): CharSet {
    const c = this.src[this.pos++] as string;
    if (c !== '\\') return single(cp(c));
    const node = this.escape(true);
    return node.t === 'char' ? node.set : single(cp('\\'));
  }
}

// ---- analysis ---------------------------------------------------------------------------------

function nullable(n: Node): boolean {
  switch (n.t) {
    case 'char':
      return false;
    case 'seq':
      return n.items.every(nullable);
    case 'alt':
      return n.alts.some(nullable);
    case 'repeat':
      return n.min === 0 || nullable(n.body);
    case 'zero':
      return true;
    case 'backref':
      return true;
  }
}

function first(n: Node): CharSet {
  switch (n.t) {
    case 'char':
      return n.set;
    case 'seq': {
      let set: CharSet = EMPTY;
      for (const item of n.items) {
        set = union(set, first(item));
        if (!nullable(item)) break;
      }
      return set;
    }
    case 'alt':
      return n.alts.reduce<CharSet>((s, a) => union(s, first(a)), EMPTY);
    case 'repeat':
      return n.max === 0 ? EMPTY : first(n.body);
    case 'zero':
      return EMPTY;
    case 'backref':
      return ANY;
  }
}

/** Every character the node can consume. */
function chars(n: Node): CharSet {
  switch (n.t) {
    case 'char':
      return n.set;
    case 'seq':
      return n.items.reduce<CharSet>((s, i) => union(s, chars(i)), EMPTY);
    case 'alt':
      return n.alts.reduce<CharSet>((s, a) => union(s, chars(a)), EMPTY);
    case 'repeat':
      return chars(n.body);
    case 'zero':
      return EMPTY;
    case 'backref':
      return ANY;
  }
}

function* walk(n: Node): Generator<Node> {
  yield n;
  switch (n.t) {
    case 'seq':
      for (const i of n.items) yield* walk(i);
      break;
    case 'alt':
      for (const a of n.alts) yield* walk(a);
      break;
    case 'repeat':
      yield* walk(n.body);
      break;
    case 'zero':
      if (n.body !== null) yield* walk(n.body);
      break;
    default:
      break;
  }
}

/** The literal string an alternative matches, or null when it is not a plain literal. */
function literal(n: Node): string | null {
  const items = n.t === 'seq' ? n.items : [n];
  let s = '';
  for (const i of items) {
    if (i.t !== 'char' || i.set.length !== 1) return null;
    const r = i.set[0] as Range;
    if (r[0] !== r[1]) return null;
    s += String.fromCodePoint(r[0]);
  }
  return s;
}

function ambiguousAlternation(alt: { alts: Node[] }): string | null {
  const alts = alt.alts;
  for (let i = 0; i < alts.length; i++) {
    for (let j = i + 1; j < alts.length; j++) {
      const a = alts[i] as Node;
      const b = alts[j] as Node;
      const la = literal(a);
      const lb = literal(b);
      if (la !== null && lb !== null) {
        if (la.startsWith(lb) || lb.startsWith(la)) return `alternatives '${la}' and '${lb}'`;
      } else if (overlaps(first(a), first(b))) {
        return `alternatives ${i + 1} and ${j + 1} can start with the same character`;
      }
    }
  }
  return null;
}

export function checkRegexSafety(
  pattern: string,
  options: RegexSafetyOptions = {},
): RegexSafetyVerdict {
  const maxLength = options.maxLength ?? 256;
  const maxRepeat = options.maxRepeat ?? 1000;
  const maxBacktrack = options.maxBacktrack ?? 10_000;
  if (pattern.length > maxLength) {
    return { safe: false, reason: `pattern is longer than ${maxLength} characters` };
  }
  try {
    new RegExp(pattern);
  } catch (e) {
    return { safe: false, reason: `invalid regular expression: ${(e as Error).message}` };
  }
  let ast: Node;
  try {
    ast = new Parser(pattern).parse();
  } catch (e) {
    return {
      safe: false,
      reason: `unsupported regular expression syntax: ${(e as Error).message}`,
    };
  }

  for (const n of walk(ast)) {
    if (n.t === 'backref') return { safe: false, reason: 'backreferences are not allowed' };
    if (n.t === 'repeat') {
      if ((n.max !== Infinity && n.max > maxRepeat) || n.min > maxRepeat) {
        return { safe: false, reason: `repetition count above ${maxRepeat}` };
      }
      if (n.max < 2) continue;
      if (nullable(n.body)) {
        return {
          safe: false,
          reason: 'a repeated group can match the empty string (catastrophic backtracking)',
        };
      }
      let ways = 1;
      for (const inner of walk(n.body)) {
        if (inner.t !== 'repeat' || inner.min === inner.max) continue;
        if (inner.max === Infinity || n.max === Infinity) {
          return {
            safe: false,
            reason:
              'nested quantifiers: a repeated group contains a variable-length repetition (catastrophic backtracking)',
          };
        }
        ways *= inner.max - inner.min + 1;
      }
      if (ways > 1 && ways ** n.max > maxBacktrack) {
        return {
          safe: false,
          reason:
            'nested bounded quantifiers allow too many ways to match (catastrophic backtracking)',
        };
      }
      for (const inner of walk(n.body)) {
        if (inner.t !== 'alt') continue;
        const why = ambiguousAlternation(inner);
        if (why !== null) {
          return {
            safe: false,
            reason: `ambiguous alternation under a quantifier: ${why} (catastrophic backtracking)`,
          };
        }
      }
    }
    if (n.t === 'seq') {
      const items = n.items;
      for (let i = 0; i < items.length; i++) {
        const a = items[i] as Node;
        if (a.t !== 'repeat' || a.max !== Infinity) continue;
        for (let j = i + 1; j < items.length; j++) {
          const b = items[j] as Node;
          if (b.t === 'repeat' && b.max === Infinity && overlaps(chars(a.body), chars(b.body))) {
            return {
              safe: false,
              reason:
                'adjacent unbounded quantifiers over overlapping characters (polynomial backtracking)',
            };
          }
          if (!nullable(b)) break;
        }
      }
    }
  }
  return { safe: true };
}
