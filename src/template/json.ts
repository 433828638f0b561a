// A JSON syntax checker that says *where* text stops being JSON (JSON.parse's messages do not
// always carry a position). It builds nothing, so it is also cheaper than JSON.parse, and it
// accepts exactly what JSON.parse accepts (test/unit/template/json.test.ts compares the two).

export interface JsonSyntaxProblem {
  offset: number;
  message: string;
}

// Set by the scanners when they return -1.
let errorOffset = 0;
let errorMessage = '';

function error(offset: number, message: string): number {
  errorOffset = offset;
  errorMessage = message;
  return -1;
}

function describe(s: string, i: number): string {
  if (i >= s.length) return 'unexpected end of JSON';
  const c = s.charCodeAt(i);
  const shown = c < 0x20 ? `\\u${c.toString(16).padStart(4, '0')}` : s.slice(i, i + 1);
  return `unexpected '${shown}'`;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** End offset of the string whose opening quote is at `i`, or -1. */
function scanString(s: string, i: number, n: number): number {
  i++;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c) {
      const e = s.charCodeAt(i + 1);
      if (e === 0x75) {
        if (
          !isHex(s.charCodeAt(i + 2)) ||
          !isHex(s.charCodeAt(i + 3)) ||
          !isHex(s.charCodeAt(i + 4)) ||
          !isHex(s.charCodeAt(i + 5))
        ) {
          return error(i, 'bad \\u escape in a string');
        }
        i += 6;
      } else if (
        e === 0x22 ||
        e === 0x5c ||
        e === 0x2f ||
        e === 0x62 ||
        e === 0x66 ||
        e === 0x6e ||
        e === 0x72 ||
        e === 0x74
      ) {
        i += 2;
      } else {
        return error(i, 'bad escape in a string');
      }
    } else if (c < 0x20) {
      return error(i, 'control character in a string');
    } else {
      i++;
    }
  }
  return error(n, 'unterminated string');
}

/** End offset of the number starting at `i`, or -1. */
function scanNumber(s: string, i: number): number {
  let c = s.charCodeAt(i);
  if (c === 0x2d) c = s.charCodeAt(++i);
  if (c === 0x30) c = s.charCodeAt(++i);
  else if (c >= 0x31 && c <= 0x39) {
    do c = s.charCodeAt(++i);
    while (c >= 0x30 && c <= 0x39);
  } else return error(i, 'bad number');
  if (c === 0x2e) {
    c = s.charCodeAt(++i);
    if (!(c >= 0x30 && c <= 0x39)) return error(i, 'bad number');
    do c = s.charCodeAt(++i);
    while (c >= 0x30 && c <= 0x39);
  }
  if (c === 0x65 || c === 0x45) {
    c = s.charCodeAt(++i);
    if (c === 0x2b || c === 0x2d) c = s.charCodeAt(++i);
    if (!(c >= 0x30 && c <= 0x39)) return error(i, 'bad number');
    do c = s.charCodeAt(++i);
    while (c >= 0x30 && c <= 0x39);
  }
  return i;
}

function literal(s: string, i: number, word: string): number {
  return s.startsWith(word, i) ? i + word.length : error(i, `${describe(s, i)}, expected a value`);
}

const EXPECT_VALUE = 0;
const AFTER_VALUE = 1;
const EXPECT_KEY = 2;

/** null when `s` is one valid JSON document; otherwise the first offending offset. */
export function findJsonError(s: string): JsonSyntaxProblem | null {
  const n = s.length;
  const stack: number[] = [];
  let i = 0;
  let mode = EXPECT_VALUE;
  for (;;) {
    let c = s.charCodeAt(i);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = s.charCodeAt(++i);
    if (mode === EXPECT_VALUE) {
      if (c === 0x22) i = scanString(s, i, n);
      else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) i = scanNumber(s, i);
      else if (c === 0x7b || c === 0x5b) {
        stack.push(c);
        i++;
        mode = c === 0x7b ? EXPECT_KEY : EXPECT_VALUE;
        // An empty container closes at once.
        let d = s.charCodeAt(i);
        while (d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) d = s.charCodeAt(++i);
        if (d === (c === 0x7b ? 0x7d : 0x5d)) {
          stack.pop();
          i++;
          mode = AFTER_VALUE;
        }
        continue;
      } else if (c === 0x74) i = literal(s, i, 'true');
      else if (c === 0x66) i = literal(s, i, 'false');
      else if (c === 0x6e) i = literal(s, i, 'null');
      else i = error(i, `${describe(s, i)}, expected a value`);
      if (i < 0) return { offset: errorOffset, message: errorMessage };
      mode = AFTER_VALUE;
    } else if (mode === EXPECT_KEY) {
      if (c !== 0x22) {
        return {
          offset: i,
          message: `${describe(s, i)}, expected a property name in double quotes`,
        };
      }
      i = scanString(s, i, n);
      if (i < 0) return { offset: errorOffset, message: errorMessage };
      c = s.charCodeAt(i);
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = s.charCodeAt(++i);
      if (c !== 0x3a) return { offset: i, message: `${describe(s, i)}, expected ':'` };
      i++;
      mode = EXPECT_VALUE;
    } else {
      const top = stack.length === 0 ? 0 : (stack[stack.length - 1] as number);
      if (top === 0) {
        return i >= n ? null : { offset: i, message: `${describe(s, i)} after the JSON value` };
      }
      if (c === 0x2c) {
        i++;
        mode = top === 0x7b ? EXPECT_KEY : EXPECT_VALUE;
      } else if ((c === 0x5d && top === 0x5b) || (c === 0x7d && top === 0x7b)) {
        i++;
        stack.pop();
      } else {
        const expected = top === 0x5b ? "',' or ']'" : "',' or '}'";
        return { offset: i, message: `${describe(s, i)}, expected ${expected}` };
      }
    }
  }
}

/** 1-based line and column of an offset. */
export function lineColumn(s: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = s.indexOf('\n'); i >= 0 && i < offset; i = s.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}
