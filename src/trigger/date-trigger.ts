// When a date-triggered flow fires for a profile (Klaviyo's date trigger on a profile property,
// e.g. a birthday). Pure functions of (trigger, the property's value, zone, a moment).
//
// Rules (where Klaviyo documents none, these are flowhook's):
//   - The property holds a date: `YYYY-MM-DD`, an ISO-8601 date-time (its calendar date as
//     written, before any offset is applied), or a Unix timestamp (its UTC date). Anything else
//     is "no date": no occurrence, the profile is not scheduled.
//   - Occurrences of the date: `never` = the date itself; `annually` = its month and day every
//     year (29 February is 28 February in a year without one); `monthly` = its day every month
//     (clamped to the month's last day: the 31st is 30 April); `weekly` = its weekday every week.
//   - The profile enters `timedelta_value_before_date` days / weeks / months before each
//     occurrence (a negative value: after it), at `trigger_time` on that local day, in the
//     trigger's zone (`profile`: the profile's location.timezone, else the fallback, UTC).
//     With `trigger_days`, only entry days on those weekdays count.
//   - Past occurrences are never back-filled: the next entry is the first one after "now".

import { WEEKDAYS, type DateTriggerSpec, type Weekday } from '../flows/types';
import { isValidTimeZone, zonedTimeToUtc } from './delay';

interface CalendarDate {
  year: number;
  month: number; // 1-12
  day: number;
}

/** The calendar date a property value holds, or null. */
export function parseDateValue(value: unknown): CalendarDate | null {
  if (typeof value === 'number' && Number.isFinite(value)) {
    const d = new Date(value < 1e11 ? value * 1000 : value);
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
  }
  if (typeof value !== 'string') return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:$|[T ])/.exec(value.trim());
  if (!m) return null;
  const date = { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
  if (date.month < 1 || date.month > 12 || date.day < 1 || date.day > daysIn(date.year, date.month))
    return null;
  return date;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The date `months` months from `date`, the day clamped to that month's length. */
function addMonths(date: CalendarDate, months: number): CalendarDate {
  const index = date.year * 12 + (date.month - 1) + months;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  return { year, month, day: Math.min(date.day, daysIn(year, month)) };
}

function addDays(date: CalendarDate, days: number): CalendarDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** The zone entries are timed in. */
export function triggerZone(
  spec: DateTriggerSpec,
  profileZone: string | null | undefined,
  fallback = 'UTC',
): string {
  if (spec.timezone !== 'profile' && isValidTimeZone(spec.timezone)) return spec.timezone;
  return isValidTimeZone(profileZone) ? profileZone : fallback;
}

/** Occurrences of the date around `year`/`month` (enough for any lead up to a year). */
function occurrences(
  date: CalendarDate,
  spec: DateTriggerSpec,
  around: CalendarDate,
): CalendarDate[] {
  switch (spec.recurrence) {
    case 'never':
      return [date];
    case 'annually': {
      const out: CalendarDate[] = [];
      for (let y = around.year - 2; y <= around.year + 3; y++)
        out.push({ year: y, month: date.month, day: Math.min(date.day, daysIn(y, date.month)) });
      return out;
    }
    case 'monthly': {
      const out: CalendarDate[] = [];
      const start = { year: around.year, month: around.month, day: date.day };
      for (let k = -14; k <= 16; k++) out.push(addMonths(start, k));
      return out;
    }
    case 'weekly': {
      const weekday = new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay();
      const aroundDay = new Date(Date.UTC(around.year, around.month - 1, around.day)).getUTCDay();
      const first = addDays(around, ((weekday - aroundDay + 7) % 7) - 7 * 60);
      return Array.from({ length: 120 }, (_, k) => addDays(first, 7 * k));
    }
  }
}

/**
 * The first entry moment (epoch ms) strictly after `afterMs` for a profile whose property holds
 * `value`, or null when there is none (no date, or a `never` date already past).
 */
export function nextDateEntry(
  spec: DateTriggerSpec,
  value: unknown,
  zone: string,
  afterMs: number,
): number | null {
  const date = parseDateValue(value);
  if (date === null) return null;
  const after = new Date(afterMs);
  const around = {
    year: after.getUTCFullYear(),
    month: after.getUTCMonth() + 1,
    day: after.getUTCDate(),
  };
  const [h, m, s] = spec.triggerTime;
  let best: number | null = null;
  for (const occurrence of occurrences(date, spec, around)) {
    const day =
      spec.leadUnit === 'months'
        ? addMonths(occurrence, -spec.leadValue)
        : addDays(occurrence, -spec.leadValue * (spec.leadUnit === 'weeks' ? 7 : 1));
    if (spec.triggerDays !== null && spec.triggerDays.length > 0) {
      const weekday = WEEKDAYS[new Date(Date.UTC(day.year, day.month - 1, day.day)).getUTCDay()];
      if (!spec.triggerDays.includes(weekday as Weekday)) continue;
    }
    const at = zonedTimeToUtc(day.year, day.month, day.day, h, m, s, zone);
    if (at > afterMs && (best === null || at < best)) best = at;
  }
  return best;
}
