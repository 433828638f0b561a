// Date formatting for the `date` filter and the `{% now %}` / `{% today %}` tags: Django's
// format characters ("Y-m-d H:i") and strftime ("%Y-%m-%d"). All dates are shown in UTC.

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const MONTHS_AP = [
  'Jan.',
  'Feb.',
  'March',
  'April',
  'May',
  'June',
  'July',
  'Aug.',
  'Sept.',
  'Oct.',
  'Nov.',
  'Dec.',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const ISO_DATE_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Dates a template may format: Date objects, ISO-8601 strings (no offset = UTC, also Klaviyo's
 * "YYYY-MM-DD HH:MM:SS") and Unix timestamps in seconds.
 */
export function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    const d = new Date(value * 1000);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  if (typeof value !== 'string') return undefined;
  const m = ISO_DATE_RE.exec(value.trim());
  if (m === null) return undefined;
  const [, y, mo, da, h, mi, s, frac, tz] = m;
  const ms = frac === undefined ? 0 : Math.floor(Number((frac + '00').slice(0, 3)));
  let t = Date.UTC(
    Number(y),
    Number(mo) - 1,
    Number(da),
    Number(h ?? 0),
    Number(mi ?? 0),
    Number(s ?? 0),
    ms,
  );
  if (tz !== undefined && tz !== 'Z' && tz !== 'z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    const offset = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
    t -= sign * offset * 60_000;
  }
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return undefined;
  // Reject dates such as 2024-02-31 that Date.UTC silently rolls over.
  if (tz === undefined || tz === 'Z' || tz === 'z') {
    if (d.getUTCDate() !== Number(da) || d.getUTCMonth() !== Number(mo) - 1) return undefined;
  }
  return d;
}

function pad(n: number, width = 2): string {
  const s = String(Math.abs(n));
  return (n < 0 ? '-' : '') + (s.length >= width ? s : '0'.repeat(width - s.length) + s);
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(d: Date): number {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
}

function dayOfYear(d: Date): number {
  const start = Date.UTC(d.getUTCFullYear(), 0, 1);
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return (day - start) / 86_400_000 + 1;
}

/** ISO-8601 week-numbering year and week. */
function isoWeek(d: Date): { year: number; week: number } {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const dow = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - dow);
  const year = t.getUTCFullYear();
  const week = Math.ceil(((t.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return { year, week };
}

function hour12(d: Date): number {
  const h = d.getUTCHours() % 12;
  return h === 0 ? 12 : h;
}

function ordinalSuffix(day: number): string {
  if (day >= 11 && day <= 13) return 'th';
  switch (day % 10) {
    case 1:
      return 'st';
    case 2:
      return 'nd';
    case 3:
      return 'rd';
    default:
      return 'th';
  }
}

function djangoF(d: Date): string {
  const m = d.getUTCMinutes();
  return m === 0 ? String(hour12(d)) : `${hour12(d)}:${pad(m)}`;
}

function djangoA(d: Date): string {
  return d.getUTCHours() > 11 ? 'p.m.' : 'a.m.';
}

function isoformat(d: Date): string {
  const ms = d.getUTCMilliseconds();
  const base =
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return base + (ms === 0 ? '' : `.${pad(ms, 3)}000`) + '+00:00';
}

function djangoChar(d: Date, c: string): string | undefined {
  switch (c) {
    case 'a':
      return djangoA(d);
    case 'A':
      return d.getUTCHours() > 11 ? 'PM' : 'AM';
    case 'b':
      return (MONTHS[d.getUTCMonth()] as string).slice(0, 3).toLowerCase();
    case 'c':
      return isoformat(d);
    case 'd':
      return pad(d.getUTCDate());
    case 'D':
      return (DAYS[d.getUTCDay()] as string).slice(0, 3);
    case 'e':
      return 'UTC';
    case 'E':
    case 'F':
      return MONTHS[d.getUTCMonth()] as string;
    case 'f':
      return djangoF(d);
    case 'g':
      return String(hour12(d));
    case 'G':
      return String(d.getUTCHours());
    case 'h':
      return pad(hour12(d));
    case 'H':
      return pad(d.getUTCHours());
    case 'i':
      return pad(d.getUTCMinutes());
    case 'I':
      return '0';
    case 'j':
      return String(d.getUTCDate());
    case 'l':
      return DAYS[d.getUTCDay()] as string;
    case 'L':
      return isLeap(d.getUTCFullYear()) ? 'True' : 'False';
    case 'm':
      return pad(d.getUTCMonth() + 1);
    case 'M':
      return (MONTHS[d.getUTCMonth()] as string).slice(0, 3);
    case 'n':
      return String(d.getUTCMonth() + 1);
    case 'N':
      return MONTHS_AP[d.getUTCMonth()] as string;
    case 'o':
      return String(isoWeek(d).year);
    case 'O':
      return '+0000';
    case 'P': {
      const h = d.getUTCHours();
      const m = d.getUTCMinutes();
      if (m === 0 && h === 0) return 'midnight';
      if (m === 0 && h === 12) return 'noon';
      return `${djangoF(d)} ${djangoA(d)}`;
    }
    case 'r':
      return (
        `${(DAYS[d.getUTCDay()] as string).slice(0, 3)}, ${pad(d.getUTCDate())} ` +
        `${(MONTHS[d.getUTCMonth()] as string).slice(0, 3)} ${pad(d.getUTCFullYear(), 4)} ` +
        `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
      );
    case 's':
      return pad(d.getUTCSeconds());
    case 'S':
      return ordinalSuffix(d.getUTCDate());
    case 't':
      return pad(daysInMonth(d));
    case 'T':
      return 'UTC';
    case 'u':
      return pad(d.getUTCMilliseconds() * 1000, 6);
    case 'U':
      return String(Math.floor(d.getTime() / 1000));
    case 'w':
      return String(d.getUTCDay());
    case 'W':
      return String(isoWeek(d).week);
    case 'y':
      return pad(d.getUTCFullYear() % 100);
    case 'Y':
      return pad(d.getUTCFullYear(), 4);
    case 'z':
      return String(dayOfYear(d));
    case 'Z':
      return '0';
    default:
      return undefined;
  }
}

/** Django's date format ("N j, Y", "Y-m-d H:i", backslash escapes a character). */
export function formatDjango(d: Date, format: string): string {
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i] as string;
    if (c === '\\') {
      i++;
      if (i < format.length) out += format[i];
      continue;
    }
    const v = djangoChar(d, c);
    out += v === undefined ? c : v;
  }
  return out;
}

function strftimeChar(d: Date, c: string): string | undefined {
  switch (c) {
    case 'a':
      return (DAYS[d.getUTCDay()] as string).slice(0, 3);
    case 'A':
      return DAYS[d.getUTCDay()] as string;
    case 'b':
    case 'h':
      return (MONTHS[d.getUTCMonth()] as string).slice(0, 3);
    case 'B':
      return MONTHS[d.getUTCMonth()] as string;
    case 'c':
      return `${strftime(d, '%a %b')} ${String(d.getUTCDate()).padStart(2, ' ')} ${strftime(d, '%H:%M:%S %Y')}`;
    case 'd':
      return pad(d.getUTCDate());
    case 'e':
      return String(d.getUTCDate()).padStart(2, ' ');
    case 'f':
      return pad(d.getUTCMilliseconds() * 1000, 6);
    case 'F':
      return strftime(d, '%Y-%m-%d');
    case 'G':
      return String(isoWeek(d).year);
    case 'H':
      return pad(d.getUTCHours());
    case 'I':
      return pad(hour12(d));
    case 'j':
      return pad(dayOfYear(d), 3);
    case 'm':
      return pad(d.getUTCMonth() + 1);
    case 'M':
      return pad(d.getUTCMinutes());
    case 'p':
      return d.getUTCHours() > 11 ? 'PM' : 'AM';
    case 's':
      return String(Math.floor(d.getTime() / 1000));
    case 'S':
      return pad(d.getUTCSeconds());
    case 'T':
      return strftime(d, '%H:%M:%S');
    case 'u':
      return String(d.getUTCDay() || 7);
    case 'U': {
      const yday = dayOfYear(d) - 1;
      return pad(Math.floor((yday + 7 - d.getUTCDay()) / 7));
    }
    case 'V':
      return pad(isoWeek(d).week);
    case 'w':
      return String(d.getUTCDay());
    case 'W': {
      const yday = dayOfYear(d) - 1;
      return pad(Math.floor((yday + 7 - ((d.getUTCDay() + 6) % 7)) / 7));
    }
    case 'x':
      return strftime(d, '%m/%d/%y');
    case 'X':
      return strftime(d, '%H:%M:%S');
    case 'y':
      return pad(d.getUTCFullYear() % 100);
    case 'Y':
      return String(d.getUTCFullYear());
    case 'z':
      return '+0000';
    case 'Z':
      return 'UTC';
    case '%':
      return '%';
    default:
      return undefined;
  }
}

/** strftime as Python/glibc has it, including `%-d` (no padding). */
export function strftime(d: Date, format: string): string {
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i] as string;
    if (c !== '%' || i + 1 >= format.length) {
      out += c;
      continue;
    }
    let spec = format[i + 1] as string;
    let noPad = false;
    if (spec === '-' && i + 2 < format.length) {
      noPad = true;
      spec = format[i + 2] as string;
      i++;
    }
    i++;
    const v = strftimeChar(d, spec);
    if (v === undefined) out += (noPad ? '%-' : '%') + spec;
    else out += noPad ? v.replace(/^[0 ]+(?=.)/, '') : v;
  }
  return out;
}

/** A format with `%` directives is strftime, anything else Django's format characters. */
/** Django's named formats, as its `en` locale defines them (Klaviyo renders in English). */
const NAMED_FORMATS: ReadonlyMap<string, string> = new Map([
  ['DATE_FORMAT', 'N j, Y'],
  ['DATETIME_FORMAT', 'N j, Y, P'],
  ['TIME_FORMAT', 'P'],
  ['YEAR_MONTH_FORMAT', 'F Y'],
  ['MONTH_DAY_FORMAT', 'F j'],
  ['SHORT_DATE_FORMAT', 'm/d/Y'],
  ['SHORT_DATETIME_FORMAT', 'm/d/Y P'],
]);

export function formatDate(d: Date, format: string): string {
  const named = NAMED_FORMATS.get(format);
  if (named !== undefined) return formatDjango(d, named);
  return /%-?[A-Za-z%]/.test(format) ? strftime(d, format) : formatDjango(d, format);
}
