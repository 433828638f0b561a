// Django's `striptags`: django.utils.html.strip_tags, which feeds the text to Python's
// html.parser.HTMLParser (convert_charrefs=False), keeps only the data, entity and character
// references, and repeats while a pass still removes a `<`. This is a port of the parts of
// CPython 3.11's HTMLParser.goahead that decide what is data, so nested and malformed markup
// strips as it does in Django (`<<b>b>x` → `x`, `<sc<script>ript>x</script>` → `ript>x`; the
// text of a <script>/<style> element is not parsed on that pass, and an unclosed one drops the
// rest).

// The NUL in the tag-name classes is HTMLParser's own.
/* eslint-disable no-control-regex */
const STARTTAG_OPEN = /<[a-zA-Z]/y;
const TAGFIND = /([a-zA-Z][^\t\n\r\f />\x00]*)(?:\s|\/(?!>))*/y;
const ATTRFIND =
  /((?<=['"\s/])[^\s/>][^\s/=>]*)(\s*=+\s*('[^']*'|"[^"]*"|(?!['"])[^>\s]*))?(?:\s|\/(?!>))*/y;
const LOCATE_STARTTAG_END =
  /<[a-zA-Z][^\t\n\r\f />\x00]*(?:[\s/]*(?:(?<=['"\s/])[^\s/>][^\s/=>]*(?:\s*=+\s*(?:'[^']*'|"[^"]*"|(?!['"])[^>\s]*)\s*)?(?:\s|\/(?!>))*)*)?\s*/y;
/* eslint-enable no-control-regex */
const ENDTAG_FIND = /<\/\s*([a-zA-Z][-.a-zA-Z0-9:_]*)\s*>/y;
const COMMENT_CLOSE = /--\s*>/g;
const CHARREF = /&#(?:[0-9]+|[xX][0-9a-fA-F]+)[^0-9a-fA-F]/y;
const ENTITYREF = /&([a-zA-Z][-.a-zA-Z0-9]*)[^a-zA-Z0-9]/y;
const INCOMPLETE = /&[a-zA-Z#]/y;
const CDATA_ELEMENTS = new Set(['script', 'style']);

function matchAt(re: RegExp, s: string, i: number): RegExpExecArray | null {
  re.lastIndex = i;
  return re.exec(s);
}

function searchFrom(re: RegExp, s: string, i: number): RegExpExecArray | null {
  const global = new RegExp(re.source, re.flags.replace('y', '').replace('g', '') + 'g');
  global.lastIndex = i;
  return global.exec(s);
}

/** One HTMLParser: feed() then close(), collecting the data. */
class Stripper {
  private out: string[] = [];
  private cdata: string | null = null;
  private raw = '';

  strip(value: string): string {
    this.raw = value;
    this.goahead(false);
    this.goahead(true);
    return this.out.join('');
  }

  private interesting(i: number): number {
    if (this.cdata === null) {
      const m = searchFrom(/[&<]/, this.raw, i);
      return m === null ? -1 : m.index;
    }
    const m = searchFrom(new RegExp(`</\\s*${this.cdata}\\s*>`, 'i'), this.raw, i);
    return m === null ? -1 : m.index;
  }

  private goahead(end: boolean): void {
    const raw = this.raw;
    const n = raw.length;
    let i = 0;
    while (i < n) {
      let j = this.interesting(i);
      if (j < 0) {
        if (this.cdata !== null) break;
        j = n;
      }
      if (i < j) this.out.push(raw.slice(i, j));
      i = j;
      if (i === n) break;
      if (raw.startsWith('<', i)) {
        let k: number;
        if (matchAt(STARTTAG_OPEN, raw, i)) k = this.parseStarttag(i);
        else if (raw.startsWith('</', i)) k = this.parseEndtag(i);
        else if (raw.startsWith('<!--', i)) k = this.parseComment(i);
        else if (raw.startsWith('<?', i)) k = upTo(raw, '>', i + 2);
        else if (raw.startsWith('<!', i)) k = this.parseDeclaration(i);
        else if (i + 1 < n) {
          this.out.push('<');
          k = i + 1;
        } else break;
        if (k < 0) {
          if (!end) break;
          k = raw.indexOf('>', i + 1);
          if (k < 0) {
            k = raw.indexOf('<', i + 1);
            if (k < 0) k = i + 1;
          } else k += 1;
          this.out.push(raw.slice(i, k));
        }
        i = k;
      } else if (raw.startsWith('&#', i)) {
        const m = matchAt(CHARREF, raw, i);
        if (m) {
          this.out.push(`&#${m[0].slice(2, -1)};`);
          i = m.index + m[0].length;
          if (raw[i - 1] !== ';') i -= 1;
          continue;
        }
        if (raw.slice(i).includes(';')) {
          this.out.push(raw.slice(i, i + 2));
          i += 2;
        }
        break;
      } else {
        const m = matchAt(ENTITYREF, raw, i);
        if (m) {
          this.out.push(`&${m[1] as string};`);
          i = m.index + m[0].length;
          if (raw[i - 1] !== ';') i -= 1;
          continue;
        }
        const inc = matchAt(INCOMPLETE, raw, i);
        if (inc) {
          if (end && inc[0] === raw.slice(i)) i += 1;
          break;
        }
        if (i + 1 < n) {
          this.out.push('&');
          i += 1;
        } else break;
      }
    }
    if (end && i < n && this.cdata === null) {
      this.out.push(raw.slice(i, n));
      i = n;
    }
    this.raw = raw.slice(i);
  }

  private parseStarttag(i: number): number {
    const raw = this.raw;
    const endpos = this.wholeStarttag(i);
    if (endpos < 0) return endpos;
    const name = matchAt(TAGFIND, raw, i + 1) as RegExpExecArray;
    let k = name.index + name[0].length;
    const tag = (name[1] as string).toLowerCase();
    while (k < endpos) {
      const m = matchAt(ATTRFIND, raw, k);
      if (!m || m[0].length === 0) break;
      k = m.index + m[0].length;
    }
    const rest = raw.slice(k, endpos).trim();
    if (rest !== '>' && rest !== '/>') {
      this.out.push(raw.slice(i, endpos));
      return endpos;
    }
    if (!rest.endsWith('/>') && CDATA_ELEMENTS.has(tag)) this.cdata = tag;
    return endpos;
  }

  private wholeStarttag(i: number): number {
    const raw = this.raw;
    const m = matchAt(LOCATE_STARTTAG_END, raw, i) as RegExpExecArray;
    const j = m.index + m[0].length;
    const next = raw.slice(j, j + 1);
    if (next === '>') return j + 1;
    if (next === '/') {
      if (raw.startsWith('/>', j)) return j + 2;
      return -1;
    }
    if (next === '') return -1;
    if (/[a-zA-Z=/]/.test(next)) return -1;
    return j > i ? j : i + 1;
  }

  private parseEndtag(i: number): number {
    const raw = this.raw;
    const gt = raw.indexOf('>', i + 1);
    if (gt < 0) return -1;
    const gtpos = gt + 1;
    const m = matchAt(ENDTAG_FIND, raw, i);
    if (!m) {
      if (this.cdata !== null) {
        this.out.push(raw.slice(i, gtpos));
        return gtpos;
      }
      const name = matchAt(TAGFIND, raw, i + 2);
      if (!name) return raw.startsWith('</>', i) ? i + 3 : upTo(raw, '>', i + 2);
      return raw.indexOf('>', name.index + name[0].length) + 1;
    }
    const elem = (m[1] as string).toLowerCase();
    if (this.cdata !== null && elem !== this.cdata) {
      this.out.push(raw.slice(i, gtpos));
      return gtpos;
    }
    this.cdata = null;
    return gtpos;
  }

  private parseComment(i: number): number {
    COMMENT_CLOSE.lastIndex = i + 4;
    const m = COMMENT_CLOSE.exec(this.raw);
    return m === null ? -1 : m.index + m[0].length;
  }

  private parseDeclaration(i: number): number {
    const raw = this.raw;
    if (raw.slice(i, i + 9).toLowerCase() === '<!doctype') return upTo(raw, '>', i + 9);
    return upTo(raw, '>', i + 2); // bogus comment (and, approximately, marked sections)
  }
}

/** The index just past the next `c` at or after `from`, or -1. */
function upTo(s: string, c: string, from: number): number {
  const at = s.indexOf(c, from);
  return at < 0 ? -1 : at + 1;
}

const count = (s: string, c: string): number => s.split(c).length - 1;

export function stripTags(text: string): string {
  let value = text;
  // Django gives up (SuspiciousOperation) past 50 passes; a render stops sooner and keeps what it has.
  for (let depth = 0; depth < 50 && value.includes('<') && value.includes('>'); depth++) {
    const next = new Stripper().strip(value);
    if (count(value, '<') === count(next, '<')) break;
    value = next;
  }
  return value;
}
