// The filter library: Django built-ins (with Django's semantics) and Klaviyo's extras.
// Filters never throw on bad input; like Django they fail quietly (usually to "" or the input).
import { orderedKeys } from '../json-order';
import { formatDate, toDate } from './dates';
import { stripTags } from './strip-tags';
import {
  decimalOfNumber,
  formatFixed,
  groupThousands,
  hasFraction,
  parseDecimal,
  quantize,
  truncateToInt,
  type DecimalNumber,
} from './decimal';
import {
  RawJson,
  SafeText,
  getMember,
  isPlainObject,
  isTruthy,
  plain,
  toJsonText,
  toNumber,
  toPyInt,
  toText,
} from './values';

export type FilterArity = 'none' | 'optional' | 'required';

export interface FilterSpec {
  arity: FilterArity;
  fn(value: unknown, arg?: unknown): unknown;
}

function codePoints(s: string): string[] {
  return Array.from(s);
}

function textOf(value: unknown): string {
  return toText(value);
}

// ---- strings ---------------------------------------------------------------------------------

const CASED = /[\p{Lu}\p{Ll}\p{Lt}]/u;

/** Python's str.title() followed by Django's two fix-ups ("they're", "1st"). */
function title(value: unknown): string {
  const text = textOf(value);
  if (/^[\x20-\x7e]*$/.test(text)) return asciiTitle(text);
  let out = '';
  let prevCased = false;
  for (const ch of text) {
    const cased = CASED.test(ch);
    if (cased) out += prevCased ? ch.toLowerCase() : ch.toUpperCase();
    else out += ch;
    prevCased = cased;
  }
  out = out.replace(/([a-z])'([A-Z])/g, (m) => m.toLowerCase());
  return out.replace(/\d([A-Z])/g, (m) => m.toLowerCase());
}

/** title() for printable ASCII, with Django's two fix-ups folded into one pass. */
function asciiTitle(text: string): string {
  let out = '';
  let prevCased = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const upper = c >= 0x41 && c <= 0x5a;
    const lower = c >= 0x61 && c <= 0x7a;
    if (!upper && !lower) {
      out += text[i];
      prevCased = false;
      continue;
    }
    let makeUpper = !prevCased;
    if (makeUpper && i > 0) {
      const p = text.charCodeAt(i - 1);
      // Django: no capital after a digit ("1st"), nor after an apostrophe that follows a
      // lower-case letter ("they're"; but "O'Neil").
      if (p >= 0x30 && p <= 0x39) makeUpper = false;
      else if (p === 0x27 && i > 1) {
        const q = out.charCodeAt(out.length - 2);
        if (q >= 0x61 && q <= 0x7a) makeUpper = false;
      }
    }
    out += makeUpper
      ? lower
        ? String.fromCharCode(c - 32)
        : text[i]
      : upper
        ? String.fromCharCode(c + 32)
        : text[i];
    prevCased = true;
  }
  return out;
}

function capfirst(value: unknown): string {
  const s = textOf(value);
  if (s.length === 0) return s;
  const first = String.fromCodePoint(s.codePointAt(0) as number);
  return first.toUpperCase() + s.slice(first.length);
}

const COMBINING = /\p{Mn}/u;

/** Django's Truncator.chars: the length includes the "…"; combining marks do not count. */
function truncatechars(value: unknown, arg: unknown): unknown {
  const length = toPyInt(arg);
  if (length === undefined) return value;
  if (length <= 0) return '';
  const raw = textOf(value);
  // No truncation possible: at most `length` code units. Django still returns NFC text.
  if (raw.length <= length) {
    // eslint-disable-next-line no-control-regex
    return /^[\x00-\x7f]*$/.test(raw) ? raw : raw.normalize('NFC');
  }
  const text = raw.normalize('NFC');
  // Combining marks (which do not count) are all at U+0300 or above.
  // eslint-disable-next-line no-control-regex
  if (!/[^\u0000-\u02ff]/.test(text) || !COMBINING.test(text)) {
    const cps = codePoints(text);
    return cps.length <= length ? text : cps.slice(0, length - 1).join('') + '…';
  }
  const truncateLen = length - 1;
  let count = 0;
  let endIndex: number | undefined;
  let i = 0;
  for (const ch of text) {
    if (!COMBINING.test(ch)) {
      count++;
      if (endIndex === undefined && count > truncateLen) endIndex = i;
      if (count > length) return text.slice(0, endIndex ?? 0) + '…';
    }
    i += ch.length;
  }
  return text;
}

/** Django's Truncator.words: whitespace is normalised, " …" marks a cut. */
function truncatewords(value: unknown, arg: unknown): unknown {
  const length = toPyInt(arg);
  if (length === undefined) return value;
  if (length <= 0) return '';
  const words = textOf(value)
    .split(/\s+/u)
    .filter((w) => w.length > 0);
  if (words.length > length) {
    const text = words.slice(0, length).join(' ');
    return text.endsWith(' …') ? text : text + ' …';
  }
  return words.join(' ');
}

const JS_ESCAPES: ReadonlyMap<string, string> = new Map(
  Object.entries({
    '\\': '\\u005C',
    "'": '\\u0027',
    '"': '\\u0022',
    '>': '\\u003E',
    '<': '\\u003C',
    '&': '\\u0026',
    '=': '\\u003D',
    '-': '\\u002D',
    ';': '\\u003B',
    '`': '\\u0060',
    '\u2028': '\\u2028',
    '\u2029': '\\u2029',
  }),
);

/** Django's escapejs: \uXXXX escapes that are valid in JSON strings as well. */
function escapejs(value: unknown): SafeText {
  // eslint-disable-next-line no-control-regex
  const out = textOf(value).replace(/[\\'"><&=\-;`\u2028\u2029\u0000-\u001f]/g, (c) => {
    const mapped = JS_ESCAPES.get(c);
    if (mapped !== undefined) return mapped;
    return '\\u' + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
  });
  return new SafeText(out);
}

/** Python's urllib.parse.quote(value, safe='/'). */
function urlencode(value: unknown, arg?: unknown): string {
  const safe = arg === undefined ? '/' : textOf(arg);
  const bytes = Buffer.from(textOf(value), 'utf8');
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (
      (b >= 0x30 && b <= 0x39) ||
      (b >= 0x41 && b <= 0x5a) ||
      (b >= 0x61 && b <= 0x7a) ||
      c === '_' ||
      c === '.' ||
      c === '-' ||
      c === '~' ||
      (b < 0x80 && safe.includes(c))
    ) {
      out += c;
    } else {
      out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    }
  }
  return out;
}

function base64Encode(value: unknown, urlSafe: boolean): string {
  const b64 = Buffer.from(textOf(value), 'utf8').toString('base64');
  return urlSafe ? b64.replace(/\+/g, '-').replace(/\//g, '_') : b64;
}

function base64Decode(value: unknown, urlSafe: boolean): string {
  let s = textOf(value).trim();
  if (urlSafe) s = s.replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.replace(/=+$/, '').length % 4 === 1) return '';
  const buf = Buffer.from(s, 'base64');
  const text = buf.toString('utf8');
  // Invalid UTF-8 is refused rather than turned into replacement characters.
  return Buffer.from(text, 'utf8').equals(buf) ? text : '';
}

// ---- lists -----------------------------------------------------------------------------------

function length(value: unknown): number {
  value = plain(value);
  if (typeof value === 'string') return codePoints(value).length;
  if (Array.isArray(value)) return value.length;
  if (isPlainObject(value)) return Object.keys(value).length;
  return 0;
}

function first(value: unknown): unknown {
  value = plain(value);
  if (Array.isArray(value)) return value.length > 0 ? (value[0] as unknown) : '';
  if (typeof value === 'string') return value.length > 0 ? codePoints(value)[0] : '';
  return '';
}

function last(value: unknown): unknown {
  value = plain(value);
  if (Array.isArray(value)) return value.length > 0 ? (value[value.length - 1] as unknown) : '';
  if (typeof value === 'string') {
    const cps = codePoints(value);
    return cps.length > 0 ? cps[cps.length - 1] : '';
  }
  return '';
}

function join(value: unknown, arg: unknown): unknown {
  const sep = textOf(arg);
  const v = plain(value);
  if (Array.isArray(v)) return v.map((x) => textOf(x)).join(sep);
  if (typeof v === 'string') return codePoints(v).join(sep);
  if (isPlainObject(v)) return orderedKeys(v).join(sep);
  return value;
}

/** Python slice semantics on a length. */
function sliceBounds(
  len: number,
  start: number | undefined,
  stop: number | undefined,
  step: number,
): number[] {
  const idx: number[] = [];
  const norm = (v: number | undefined, dflt: number, lo: number, hi: number): number => {
    if (v === undefined) return dflt;
    let x = v < 0 ? v + len : v;
    if (x < lo) x = lo;
    if (x > hi) x = hi;
    return x;
  };
  if (step > 0) {
    const s = norm(start, 0, 0, len);
    const e = norm(stop, len, 0, len);
    for (let i = s; i < e; i += step) idx.push(i);
  } else {
    const s = norm(start, len - 1, -1, len - 1);
    const e = norm(stop, -1, -1, len - 1);
    for (let i = s; i > e; i += step) idx.push(i);
  }
  return idx;
}

function slice(value: unknown, arg: unknown): unknown {
  const bits = textOf(arg).split(':');
  if (bits.length > 3) return value;
  const nums: (number | undefined)[] = [];
  for (const b of bits) {
    if (b === '') nums.push(undefined);
    else {
      const n = toPyInt(b);
      if (n === undefined) return value;
      nums.push(n);
    }
  }
  let start: number | undefined;
  let stop: number | undefined;
  let step = 1;
  if (nums.length === 1) stop = nums[0];
  else {
    start = nums[0];
    stop = nums[1];
    if (nums.length === 3 && nums[2] !== undefined) step = nums[2];
  }
  if (step === 0) return value;
  const v = plain(value);
  if (Array.isArray(v)) return sliceBounds(v.length, start, stop, step).map((i) => v[i] as unknown);
  if (typeof v === 'string') {
    const cps = codePoints(v);
    return sliceBounds(cps.length, start, stop, step)
      .map((i) => cps[i])
      .join('');
  }
  return value;
}

// ---- numbers ---------------------------------------------------------------------------------

function decimalOf(value: unknown): DecimalNumber | undefined {
  value = plain(value);
  if (typeof value === 'number') return decimalOfNumber(value);
  if (typeof value === 'boolean') return decimalOfNumber(value ? 1 : 0);
  if (typeof value === 'string') return parseDecimal(value);
  return undefined;
}

/** Django's floatformat, including negative precision and the "g"/"u" suffixes. */
function floatformat(value: unknown, arg: unknown = -1): string {
  let grouping = false;
  let argValue: unknown = arg;
  if (typeof arg === 'string' && arg.length > 0) {
    let a = arg;
    if (a.endsWith('gu') || a.endsWith('ug')) {
      grouping = true;
      a = a.slice(0, -2);
    } else if (a.endsWith('g')) {
      grouping = true;
      a = a.slice(0, -1);
    } else if (a.endsWith('u')) {
      a = a.slice(0, -1);
    }
    argValue = a === '' ? -1 : a;
  }
  const inputText = textOf(value);
  const d = decimalOf(value);
  if (d === undefined) {
    const t = inputText.trim().toLowerCase();
    if (/^[+-]?(inf|infinity|nan)$/.test(t)) return inputText;
    return '';
  }
  const p = toPyInt(argValue);
  if (p === undefined) return inputText;
  if (d.digits.length + Math.abs(d.exp) > 200) return inputText;
  if (!hasFraction(d) && p <= 0) return formatFixed(truncateToInt(d), grouping);
  return formatFixed(quantize(d, Math.abs(p), 'half-up'), grouping);
}

/** Django's add: integers if both sides are integers, else list/string concatenation, else "". */
function add(value: unknown, arg: unknown): unknown {
  const a = toPyInt(value);
  const b = toPyInt(arg);
  if (a !== undefined && b !== undefined) return a + b;
  const v = plain(value);
  const w = plain(arg);
  if (typeof v === 'string' && typeof w === 'string') return v + w;
  if (Array.isArray(v) && Array.isArray(w)) return [...v, ...w];
  if (typeof v === 'number' && typeof w === 'number') return v + w;
  return '';
}

function numeric(fn: (a: number, b: number) => number | undefined): FilterSpec['fn'] {
  return (value, arg) => {
    const a = toNumber(value);
    const b = toNumber(arg);
    if (a === undefined || b === undefined) return value;
    const r = fn(a, b);
    return r === undefined || !Number.isFinite(r) ? '' : r;
  };
}

function unaryNumeric(fn: (a: number) => number): FilterSpec['fn'] {
  return (value) => {
    const a = toNumber(value);
    return a === undefined ? value : fn(a);
  };
}

/** Round to N places, ties to even like Python's round() (on the value as shown). */
function round(value: unknown, arg: unknown = 0): unknown {
  const d = decimalOf(value);
  const places = toPyInt(arg);
  if (d === undefined || places === undefined) return value;
  if (places >= 0) return Number(formatFixed(quantize(d, places, 'half-even')));
  // Negative places round to tens, hundreds...: shift the decimal point, round, shift back.
  const shifted = quantize({ ...d, exp: d.exp + places }, 0, 'half-even');
  return Number(formatFixed({ ...shifted, int: shifted.int + '0'.repeat(-places) }));
}

/** Klaviyo's {% currency_format %}: "$1,234.50". */
export function currencyFormat(value: unknown): string {
  const d = decimalOf(value);
  if (d === undefined) return '';
  const q = quantize(d, 2, 'half-up');
  return (q.neg ? '-' : '') + '$' + groupThousands(q.int) + '.' + q.frac;
}

// ---- logic -----------------------------------------------------------------------------------

function yesno(value: unknown, arg?: unknown): unknown {
  const bits = (arg === undefined ? 'yes,no,maybe' : textOf(arg)).split(',');
  if (bits.length < 2) return value;
  const yes = bits[0] as string;
  const no = bits[1] as string;
  const maybe = bits.length === 3 ? (bits[2] as string) : no;
  if (bits.length > 3) return value;
  if (value === null || value === undefined) return maybe;
  return isTruthy(value) ? yes : no;
}

function pluralize(value: unknown, arg: unknown = 's'): string {
  let spec = textOf(arg);
  if (!spec.includes(',')) spec = ',' + spec;
  const bits = spec.split(',');
  if (bits.length > 2) return '';
  const singular = bits[0] as string;
  const plural = bits[1] as string;
  const v = plain(value);
  if (typeof v === 'number' || typeof v === 'boolean') return Number(v) === 1 ? singular : plural;
  if (typeof v === 'string') {
    const n = toNumber(v);
    if (n === undefined) return '';
    return n === 1 ? singular : plural;
  }
  if (Array.isArray(v)) return v.length === 1 ? singular : plural;
  if (isPlainObject(v)) return Object.keys(v).length === 1 ? singular : plural;
  return '';
}

function date(value: unknown, arg?: unknown): string {
  if (value === null || value === undefined || value === '') return '';
  const d = toDate(plain(value));
  if (d === undefined) return '';
  return formatDate(d, arg === undefined ? 'N j, Y' : textOf(arg));
}

function concat(value: unknown, arg: unknown): unknown {
  const v = plain(value);
  const w = plain(arg);
  if (Array.isArray(v)) return Array.isArray(w) ? [...v, ...w] : [...v, w];
  return textOf(v) + textOf(w);
}

function compact(value: unknown): unknown {
  const v = plain(value);
  if (!Array.isArray(v)) return value;
  return v.filter((x) => x !== null && x !== undefined);
}

function tojson(value: unknown): RawJson {
  return new RawJson(toJsonText(value));
}

const spec = (arity: FilterArity, fn: FilterSpec['fn']): FilterSpec => ({ arity, fn });

export const FILTERS: ReadonlyMap<string, FilterSpec> = new Map<string, FilterSpec>([
  // Django built-ins
  ['default', spec('required', (v, a) => (isTruthy(v) ? v : a))],
  ['default_if_none', spec('required', (v, a) => (v === null || v === undefined ? a : v))],
  ['length', spec('none', length)],
  ['first', spec('none', first)],
  ['last', spec('none', last)],
  ['join', spec('required', join)],
  ['slice', spec('required', slice)],
  ['upper', spec('none', (v) => textOf(v).toUpperCase())],
  ['lower', spec('none', (v) => textOf(v).toLowerCase())],
  ['title', spec('none', title)],
  ['capfirst', spec('none', capfirst)],
  ['truncatechars', spec('required', truncatechars)],
  ['truncatewords', spec('required', truncatewords)],
  ['floatformat', spec('optional', floatformat)],
  ['date', spec('optional', date)],
  ['add', spec('required', add)],
  ['cut', spec('required', (v, a) => textOf(v).split(textOf(a)).join(''))],
  ['escapejs', spec('none', escapejs)],
  ['urlencode', spec('optional', urlencode)],
  ['yesno', spec('optional', yesno)],
  ['pluralize', spec('optional', pluralize)],
  ['striptags', spec('none', (v) => stripTags(textOf(v)))],
  // Klaviyo extras
  ['lookup', spec('required', (v, a) => getMember(v, typeof a === 'number' ? a : textOf(a)))],
  ['abs', spec('none', unaryNumeric(Math.abs))],
  ['append', spec('required', (v, a) => textOf(v) + textOf(a))],
  [
    'at_least',
    spec(
      'required',
      numeric((a, b) => Math.max(a, b)),
    ),
  ],
  [
    'at_most',
    spec(
      'required',
      numeric((a, b) => Math.min(a, b)),
    ),
  ],
  ['base64_encode', spec('none', (v) => base64Encode(v, false))],
  ['base64_decode', spec('none', (v) => base64Decode(v, false))],
  ['base64_url_safe_encode', spec('none', (v) => base64Encode(v, true))],
  ['base64_url_safe_decode', spec('none', (v) => base64Decode(v, true))],
  ['capitalize', spec('none', capfirst)],
  ['ceil', spec('none', unaryNumeric(Math.ceil))],
  ['floor', spec('none', unaryNumeric(Math.floor))],
  ['compact', spec('none', compact)],
  ['concat', spec('required', concat)],
  ['count', spec('none', length)],
  [
    'multiply',
    spec(
      'required',
      numeric((a, b) => a * b),
    ),
  ],
  [
    'divide',
    spec(
      'required',
      numeric((a, b) => (b === 0 ? undefined : a / b)),
    ),
  ],
  [
    'floatadd',
    spec(
      'required',
      numeric((a, b) => a + b),
    ),
  ],
  ['round', spec('optional', round)],
  // flowhook
  ['tojson', spec('none', tojson)],
]);
