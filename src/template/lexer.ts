// Django's template lexer: text, {{ variable }}, {% block %} and {# comment #} segments.
// As in Django, a tag never spans lines; an unmatched opener is literal text.

export type SegmentKind = 'text' | 'var' | 'block' | 'comment';

export interface Segment {
  kind: SegmentKind;
  /** Offset of the segment in the source. */
  start: number;
  end: number;
  /** For text: the text. For tags: what is between the delimiters. */
  content: string;
}

const CLOSERS: ReadonlyMap<string, string> = new Map([
  ['{', '}}'],
  ['%', '%}'],
  ['#', '#}'],
]);

export function lex(source: string): Segment[] {
  const out: Segment[] = [];
  let textStart = 0;
  let i = 0;
  const n = source.length;
  // Cached search results (every search starts further on), so lexing stays linear even on
  // one long line full of braces.
  let lineEnd = -1;
  const nextCloser = new Map<string, number>();
  while (i < n) {
    const j = source.indexOf('{', i);
    if (j < 0 || j + 1 >= n) break;
    const c = source[j + 1] as string;
    const closer = CLOSERS.get(c);
    if (closer === undefined) {
      i = j + 1;
      continue;
    }
    if (lineEnd < j) {
      lineEnd = source.indexOf('\n', j);
      if (lineEnd < 0) lineEnd = n;
    }
    let k = nextCloser.get(closer);
    if (k === undefined || (k >= 0 && k < j + 2)) {
      k = source.indexOf(closer, j + 2);
      nextCloser.set(closer, k);
    }
    if (k < 0 || k + closer.length > lineEnd) {
      i = j + 1;
      continue;
    }
    if (j > textStart) {
      out.push({ kind: 'text', start: textStart, end: j, content: source.slice(textStart, j) });
    }
    const kind: SegmentKind = c === '{' ? 'var' : c === '%' ? 'block' : 'comment';
    out.push({ kind, start: j, end: k + 2, content: source.slice(j + 2, k) });
    i = textStart = k + 2;
  }
  if (textStart < n) {
    out.push({ kind: 'text', start: textStart, end: n, content: source.slice(textStart) });
  }
  return out;
}

/** Maps source offsets to 1-based line and column. */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(source: string) {
    for (let i = source.indexOf('\n'); i >= 0; i = source.indexOf('\n', i + 1)) {
      this.starts.push(i + 1);
    }
  }

  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.starts[lo] as number) + 1 };
  }
}

// ---- tokens inside a tag ---------------------------------------------------------------------

export type TokenType = 'str' | 'num' | 'name' | 'op' | 'bad';

export interface Token {
  type: TokenType;
  /** Source text of the token. */
  text: string;
  /** For str: the unescaped value. For num: the number. */
  value?: string | number;
  /** Offset in the source. */
  start: number;
}

const NAME_CHAR = /[\p{L}\p{N}_.$]/u;
const NUMBER_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const OPERATORS = ['==', '!=', '<=', '>=', '<', '>', '=', '|', ':', ',', '(', ')'];

/** Django's unescape_string_literal: only the quote and the backslash are escapes. */
function unescapeString(body: string, quote: string): string {
  return body
    .split('\\' + quote)
    .join(quote)
    .split('\\\\')
    .join('\\');
}

/** Splits tag content into tokens. `base` is the content's offset in the source. */
export function tokenize(content: string, base: number): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = content.length;
  while (i < n) {
    const c = content[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = base + i;
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && content[j] !== c) j += content[j] === '\\' ? 2 : 1;
      if (j >= n) {
        tokens.push({ type: 'bad', text: content.slice(i), start });
        return tokens;
      }
      const body = content.slice(i + 1, j);
      tokens.push({
        type: 'str',
        text: content.slice(i, j + 1),
        value: unescapeString(body, c),
        start,
      });
      i = j + 1;
      continue;
    }
    const signed = (c === '-' || c === '+') && i + 1 < n && /[\d.]/.test(content[i + 1] as string);
    if (signed || NAME_CHAR.test(c)) {
      let j = signed ? i + 1 : i;
      while (j < n) {
        const ch = content[j] as string;
        if (NAME_CHAR.test(ch)) j++;
        else if ((ch === '+' || ch === '-') && /[eE]/.test(content[j - 1] as string)) j++;
        else break;
      }
      const text = content.slice(i, j);
      if (NUMBER_RE.test(text)) tokens.push({ type: 'num', text, value: Number(text), start });
      else if (signed || /[+-]/.test(text)) tokens.push({ type: 'bad', text, start });
      else tokens.push({ type: 'name', text, start });
      i = j;
      continue;
    }
    const op = OPERATORS.find((o) => content.startsWith(o, i));
    if (op !== undefined) {
      tokens.push({ type: 'op', text: op, start });
      i += op.length;
      continue;
    }
    tokens.push({ type: 'bad', text: c, start });
    i++;
  }
  return tokens;
}
