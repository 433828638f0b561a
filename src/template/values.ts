// Template values: how data is read (safely), tested, compared and turned into text.
// Everything a template can touch goes through `getMember`, which only reads own data
// properties of plain objects and arrays: no prototype, no constructor, no function ever.

import { orderedKeys } from '../json-order';

/** Text already safe inside a JSON string (escapejs output). */
export class SafeText {
  constructor(readonly text: string) {}
  toJSON(): string {
    return this.text;
  }
}

/** A complete, valid JSON value as text (tojson output). */
export class RawJson {
  constructor(readonly json: string) {}
  toJSON(): unknown {
    return JSON.parse(this.json) as unknown;
  }
}

const hasOwn = Object.prototype.hasOwnProperty;
const objectProto = Object.prototype;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === objectProto || proto === null;
}

/**
 * A read-only mapping computed on demand (the profile as `person`): lookups go through `get`,
 * printing and `tojson` through `toJSON`.
 */
export abstract class MappingView {
  abstract get(key: string): unknown;
  abstract toJSON(): Record<string, unknown>;
}

function toIndex(key: string | number): number {
  if (typeof key === 'number') return Number.isInteger(key) && key >= 0 ? key : -1;
  if (key.length === 0 || key.length > 15) return -1;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
  }
  if (key.length > 1 && key.charCodeAt(0) === 48) return -1;
  return Number(key);
}

/**
 * Django's variable resolution, restricted: dictionary keys (own, enumerable data properties of
 * plain objects), list indexes, string indexes, the dict views `items`/`keys`/`values`, and a
 * few date attributes. Anything else is undefined.
 */
export function getMember(obj: unknown, key: string | number): unknown {
  if (typeof obj !== 'object' || obj === null) {
    if (typeof obj !== 'string') return undefined;
    const idx = toIndex(key);
    if (idx < 0) return undefined;
    const chars = Array.from(obj);
    return idx < chars.length ? chars[idx] : undefined;
  }
  const proto: unknown = Object.getPrototypeOf(obj);
  if (proto === objectProto || proto === null) {
    const o = obj as Record<string, unknown>;
    const k = typeof key === 'string' ? key : String(key);
    if (hasOwn.call(o, k)) {
      // Template data is JSON: own data properties. Functions are never handed to a template.
      const v = o[k];
      return typeof v === 'function' || typeof v === 'symbol' ? undefined : v;
    }
    if (k === 'items') return orderedKeys(o).map((name) => [name, o[name]]);
    if (k === 'keys') return orderedKeys(o);
    if (k === 'values') return orderedKeys(o).map((name) => o[name]);
    return undefined;
  }
  if (Array.isArray(obj)) {
    const idx = toIndex(key);
    return idx >= 0 && idx < obj.length ? (obj[idx] as unknown) : undefined;
  }
  if (obj instanceof MappingView) return obj.get(typeof key === 'string' ? key : String(key));
  if (obj instanceof Date) return dateMember(obj, String(key));
  return undefined;
}

function dateMember(d: Date, key: string): unknown {
  if (Number.isNaN(d.getTime())) return undefined;
  switch (key) {
    case 'year':
      return d.getUTCFullYear();
    case 'month':
      return d.getUTCMonth() + 1;
    case 'day':
      return d.getUTCDate();
    case 'hour':
      return d.getUTCHours();
    case 'minute':
      return d.getUTCMinutes();
    case 'second':
      return d.getUTCSeconds();
    default:
      return undefined;
  }
}

/** Python truthiness: None, False, 0, '', [] and {} are false. */
export function isTruthy(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  switch (typeof value) {
    case 'boolean':
      return value;
    case 'number':
      return value !== 0 && !Number.isNaN(value);
    case 'string':
      return value.length > 0;
    case 'object':
      if (Array.isArray(value)) return value.length > 0;
      if (value instanceof SafeText) return value.text.length > 0;
      if (value instanceof RawJson) return true;
      if (value instanceof Date) return true;
      if (value instanceof MappingView) return true;
      if (isPlainObject(value)) {
        for (const k in value) if (hasOwn.call(value, k)) return true;
        return false;
      }
      return false;
    default:
      return false;
  }
}

/** Unwraps markers so comparisons and filters see the plain value. */
export function plain(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof SafeText) return value.text;
  if (value instanceof RawJson) return value.json;
  if (value instanceof MappingView) return value.toJSON();
  return value;
}

/** Python `==`: numbers and booleans compare numerically, containers element by element. */
export function pyEquals(a: unknown, b: unknown): boolean {
  a = plain(a);
  b = plain(b);
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (a === b) return true;
  const na = numericOf(a);
  const nb = numericOf(b);
  if (na !== undefined && nb !== undefined) return na === nb;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!pyEquals(a[i], b[i])) return false;
    return true;
  }
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    for (const k of ka) {
      if (!hasOwn.call(b, k) || !pyEquals(a[k], b[k])) return false;
    }
    return true;
  }
  return false;
}

function numericOf(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return undefined;
}

/**
 * Python ordering (`<`): numbers with numbers, strings with strings, lists element-wise,
 * dates with dates. Anything else is not comparable: undefined (Django's `if` is then false).
 */
export function pyCompare(a: unknown, b: unknown): number | undefined {
  a = plain(a);
  b = plain(b);
  const na = numericOf(a);
  const nb = numericOf(b);
  if (na !== undefined && nb !== undefined) {
    if (Number.isNaN(na) || Number.isNaN(nb)) return undefined;
    return na < nb ? -1 : na > nb ? 1 : 0;
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (a instanceof Date && b instanceof Date) return Math.sign(a.getTime() - b.getTime());
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (pyEquals(a[i], b[i])) continue;
      return pyCompare(a[i], b[i]);
    }
    return Math.sign(a.length - b.length);
  }
  return undefined;
}

/** Python `in`: substring, list membership or dictionary key. */
/**
 * Python's `item in container`, or undefined where Python raises TypeError (a non-string in a
 * string, an unhashable list or dict as a dict key, anything in a non-container): Django then
 * makes both `in` and `not in` false. Dict keys from JSON are strings, so a number is never one.
 */
export function pyContains(container: unknown, item: unknown): boolean | undefined {
  item = plain(item);
  if (container instanceof MappingView) {
    if (Array.isArray(item) || isPlainObject(item)) return undefined;
    return typeof item === 'string' && container.get(item) !== undefined;
  }
  container = plain(container);
  if (typeof container === 'string') {
    return typeof item === 'string' ? container.includes(item) : undefined;
  }
  if (Array.isArray(container)) {
    for (const el of container) if (pyEquals(el, item)) return true;
    return false;
  }
  if (isPlainObject(container)) {
    if (Array.isArray(item) || isPlainObject(item)) return undefined;
    return typeof item === 'string' && hasOwn.call(container, item);
  }
  return undefined;
}

/** Replaces what JSON cannot carry (undefined, functions, markers, dates) with data. */
function jsonReplacer(this: unknown, _key: string, value: unknown): unknown {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return null;
  if (typeof value === 'bigint') return null;
  return value;
}

/** Compact JSON text for any template value (undefined becomes null). */
export function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.json;
  if (value === undefined) return 'null';
  const text = JSON.stringify(value, jsonReplacer);
  return text === undefined ? 'null' : escapeLineSeparators(text);
}

/** How a value prints: strings as they are, None as nothing, containers as compact JSON. */
export function toText(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return Number.isFinite(value) ? String(value) : '';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return '';
      if (value instanceof SafeText) return value.text;
      if (value instanceof RawJson) return value.json;
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? '' : value.toISOString();
      if (Array.isArray(value) || isPlainObject(value) || value instanceof MappingView) {
        return toJsonText(value);
      }
      return '';
    default:
      return '';
  }
}

function escapeLineSeparators(s: string): string {
  if (s.indexOf('\u2028') < 0 && s.indexOf('\u2029') < 0) return s;
  return s.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

// Characters that cannot appear raw inside a JSON string, plus U+2028/2029 (valid JSON, but
// hostile to JavaScript embedding) and surrogates (lone ones must be escaped).
// eslint-disable-next-line no-control-regex
const NEEDS_JSON_ESCAPE = /["\\\u0000-\u001f\u2028\u2029\ud800-\udfff]/;

/** The content of a JSON string literal (without the quotes) that decodes back to `s`. */
export function escapeJsonString(s: string): string {
  if (!NEEDS_JSON_ESCAPE.test(s)) return s;
  const quoted = JSON.stringify(s);
  return escapeLineSeparators(quoted.slice(1, quoted.length - 1));
}

/** Python-style number coercion for the numeric filters: numbers, numeric strings, booleans. */
export function toNumber(value: unknown): number | undefined {
  value = plain(value);
  if (typeof value === 'number') return Number.isNaN(value) ? undefined : value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string') {
    const s = value.trim();
    if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
    return Number(s);
  }
  return undefined;
}

/** Python `int()` for the `add` filter: integers from numbers (truncated), integer strings, booleans. */
export function toPyInt(value: unknown): number | undefined {
  value = plain(value);
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : undefined;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string') {
    const s = value.trim();
    if (!/^[+-]?\d+(_\d+)*$/.test(s)) return undefined;
    return Number(s.replace(/_/g, ''));
  }
  return undefined;
}
