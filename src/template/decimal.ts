// Decimal rounding on digit strings, so that floatformat & co. round the way Django's
// Decimal(str(value)).quantize(...) does (2.675 -> "2.68"), not the way binary floats do.

export interface DecimalNumber {
  neg: boolean;
  /** Digits without leading zeros ("0" for zero). Value = digits x 10^exp. */
  digits: string;
  exp: number;
}

export type RoundingMode = 'half-up' | 'half-even';

const DECIMAL_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,6}))?$/;

export function parseDecimal(text: string): DecimalNumber | undefined {
  const m = DECIMAL_RE.exec(text.trim());
  if (m === null) return undefined;
  const intPart = m[2] ?? '';
  const fracPart = m[3] ?? '';
  if (intPart.length + fracPart.length === 0) return undefined;
  let digits = (intPart + fracPart).replace(/^0+/, '');
  if (digits === '') digits = '0';
  const exp = -fracPart.length + (m[4] === undefined ? 0 : Number(m[4]));
  return { neg: m[1] === '-', digits, exp };
}

/** The decimal value of a finite number, as its shortest round-trip representation. */
export function decimalOfNumber(n: number): DecimalNumber | undefined {
  if (!Number.isFinite(n)) return undefined;
  const d = parseDecimal(String(n));
  if (d !== undefined && Object.is(n, -0)) d.neg = true;
  return d;
}

export function isZero(d: DecimalNumber): boolean {
  return /^0*$/.test(d.digits);
}

/** True when the value has a non-zero fractional part. */
export function hasFraction(d: DecimalNumber): boolean {
  if (d.exp >= 0) return false;
  const k = -d.exp;
  const frac = d.digits.length <= k ? d.digits : d.digits.slice(d.digits.length - k);
  return /[1-9]/.test(frac);
}

function increment(digits: string): string {
  const chars = digits.split('');
  let i = chars.length - 1;
  while (i >= 0) {
    if (chars[i] === '9') {
      chars[i] = '0';
      i--;
    } else {
      chars[i] = String.fromCharCode((chars[i] as string).charCodeAt(0) + 1);
      return chars.join('');
    }
  }
  return '1' + chars.join('');
}

export interface FixedNumber {
  neg: boolean;
  int: string;
  frac: string;
}

/** Rounds to exactly `places` decimals (places >= 0). */
export function quantize(d: DecimalNumber, places: number, mode: RoundingMode): FixedNumber {
  let scaled: string;
  if (d.exp >= -places) {
    scaled = d.digits + '0'.repeat(d.exp + places);
  } else {
    const drop = -places - d.exp;
    const len = d.digits.length;
    const kept = drop >= len ? '0' : d.digits.slice(0, len - drop);
    const dropped = drop > len ? '0'.repeat(drop - len) + d.digits : d.digits.slice(len - drop);
    const first = dropped.charCodeAt(0) - 48;
    const restNonZero = /[1-9]/.test(dropped.slice(1));
    let up = false;
    if (first > 5 || (first === 5 && restNonZero)) up = true;
    else if (first === 5) {
      up = mode === 'half-up' || ((kept.charCodeAt(kept.length - 1) - 48) & 1) === 1;
    }
    scaled = up ? increment(kept) : kept;
  }
  scaled = scaled.replace(/^0+(?=\d)/, '');
  const padded = scaled.length <= places ? '0'.repeat(places - scaled.length + 1) + scaled : scaled;
  const int = padded.slice(0, padded.length - places);
  const frac = padded.slice(padded.length - places);
  const nonZero = /[1-9]/.test(scaled);
  return { neg: d.neg && nonZero, int, frac };
}

export function groupThousands(int: string, separator = ','): string {
  return int.replace(/\B(?=(\d{3})+(?!\d))/g, separator);
}

export function formatFixed(q: FixedNumber, grouping = false): string {
  const int = grouping ? groupThousands(q.int) : q.int;
  return (q.neg ? '-' : '') + int + (q.frac.length > 0 ? '.' + q.frac : '');
}

/** The integer part (truncated toward zero), as Python's int(Decimal) would give. */
export function truncateToInt(d: DecimalNumber): FixedNumber {
  if (d.exp >= 0) return { neg: d.neg && !isZero(d), int: d.digits + '0'.repeat(d.exp), frac: '' };
  const k = -d.exp;
  const int = d.digits.length > k ? d.digits.slice(0, d.digits.length - k) : '0';
  return { neg: d.neg && /[1-9]/.test(int), int, frac: '' };
}
