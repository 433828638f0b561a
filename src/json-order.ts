// JSON objects in document order. JavaScript objects list integer-like keys ("2", "10") first,
// in numeric order, whatever the document said; Python dicts (and so Django templates) keep the
// document's order. An object parsed from JSON that has integer-like keys carries that order
// under KEY_ORDER (a symbol: never serialized, never seen by Object.keys), and templates
// iterate with orderedKeys().

export const KEY_ORDER: unique symbol = Symbol('flowhook.keyOrder');

type Ordered = { [KEY_ORDER]?: readonly string[] };

const INTEGER_LIKE = /^(0|[1-9][0-9]*)$/;
/** Any `"123":` in the text; without one no object can have an integer-like key. */
const INTEGER_KEY_IN_TEXT = /"(0|[1-9][0-9]*)"\s*:/;

/** The object's own keys in the order its document gave them (Object.keys order otherwise). */
export function orderedKeys(o: object): string[] {
  const own = Object.keys(o);
  const recorded = (o as Ordered)[KEY_ORDER];
  if (recorded === undefined) return own;
  const present = new Set(own);
  const out = recorded.filter((k) => present.has(k));
  if (out.length === own.length) return out;
  const listed = new Set(out);
  for (const k of own) if (!listed.has(k)) out.push(k); // added after parsing
  return out;
}

/** Records `keys` as the order of `o` when JavaScript would list them otherwise. */
export function keepKeyOrder<T extends object>(o: T, keys: readonly string[]): T {
  if (keys.some((k) => INTEGER_LIKE.test(k))) {
    Object.defineProperty(o, KEY_ORDER, { value: [...keys], enumerable: true, writable: true });
  }
  return o;
}

/** JSON.parse, with the document's key order kept for objects that have integer-like keys. */
export function parseJsonKeepingOrder(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (!INTEGER_KEY_IN_TEXT.test(text)) return value;
  return new OrderedParser(text).parse();
}

/** A second pass over text JSON.parse accepted, so it need not report errors. */
class OrderedParser {
  private i = 0;
  constructor(private readonly text: string) {}

  parse(): unknown {
    this.space();
    return this.value();
  }

  private space(): void {
    while (/[ \t\n\r]/.test(this.text[this.i] ?? '')) this.i++;
  }

  private value(): unknown {
    const c = this.text[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    const start = this.i;
    while (this.i < this.text.length && !/[,\]} \t\n\r]/.test(this.text[this.i] as string)) {
      this.i++;
    }
    return JSON.parse(this.text.slice(start, this.i)) as unknown;
  }

  private string(): string {
    const start = this.i;
    this.i++;
    while (this.text[this.i] !== '"') this.i += this.text[this.i] === '\\' ? 2 : 1;
    this.i++;
    return JSON.parse(this.text.slice(start, this.i)) as string;
  }

  private array(): unknown[] {
    const out: unknown[] = [];
    this.i++;
    this.space();
    if (this.text[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      this.space();
      out.push(this.value());
      this.space();
      if (this.text[this.i++] === ']') return out;
    }
  }

  private object(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const keys: string[] = [];
    this.i++;
    this.space();
    if (this.text[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.space();
      const key = this.string();
      this.space();
      this.i++; // ':'
      this.space();
      const value = this.value();
      if (!Object.prototype.hasOwnProperty.call(out, key)) keys.push(key);
      // defineProperty: a "__proto__" key stays data, as with JSON.parse.
      Object.defineProperty(out, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.space();
      if (this.text[this.i++] === '}') return keepKeyOrder(out, keys);
    }
  }
}
