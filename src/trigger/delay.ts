// When a time-delay action lets the profile continue (Klaviyo semantics, see
// klaviyo-flows-notes.md A3):
//   - `minutes` / `hours`: now + value units (delay_until_* do not apply; secondary_value is
//     ignored).
//   - `days` without delay_until_*: now + value × 24 h.
//   - `days` with delay_until_time: calendar days in the delay's time zone — the local date
//     `value` days after today, at that local time ("1 day until 15:00" resumes at 15:00 the next
//     day whether the profile arrived at 14:00 or 16:00); with value 0 and the time already
//     past today, the next day.
//   - delay_until_weekdays: the resume moment moves forward a local day at a time until it
//     falls on an allowed weekday.
// Time zone: the delay's IANA zone; `profile` (the default) means the profile's
// location.timezone when it is a valid zone, otherwise `fallbackTimeZone` (default UTC).

import type { TimeDelayData, Weekday } from '../flows/types';

export interface DelayComputation {
  waitMs: number;
  resumeAt: Date;
  /** The zone calendar arithmetic used. */
  timeZone: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'long',
    });
    formatters.set(tz, f);
  }
  return f;
}

export function isValidTimeZone(tz: unknown): tz is string {
  if (typeof tz !== 'string' || tz === '') return false;
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: Weekday;
}

function localParts(t: number, tz: string): LocalParts {
  const parts: Record<string, string> = {};
  for (const p of formatter(tz).formatToParts(new Date(t))) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour) % 24,
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: (parts.weekday ?? 'monday').toLowerCase() as Weekday,
  };
}

/** Local time minus UTC, in ms, at instant t. */
function offsetAt(t: number, tz: string): number {
  const p = localParts(t, tz);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(t / 1000) * 1000;
}

/** The instant at which the wall clock in `tz` shows the given local time. */
export function zonedTimeToUtc(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  tz: string,
): number {
  const guess = Date.UTC(year, month - 1, day, hour, minute, second);
  const first = offsetAt(guess, tz);
  let t = guess - first;
  const second2 = offsetAt(t, tz);
  if (second2 !== first) t = guess - second2;
  return t;
}

const UNIT_MS = { minutes: 60_000, hours: 3_600_000, days: 86_400_000 } as const;

export function computeDelay(
  data: TimeDelayData,
  now: Date,
  profileTimeZone?: string | null,
  fallbackTimeZone = 'UTC',
): DelayComputation {
  const unit = data.unit ?? 'days';
  const nowMs = now.getTime();
  const zone =
    data.timezone !== undefined && data.timezone !== 'profile' && isValidTimeZone(data.timezone)
      ? data.timezone
      : isValidTimeZone(profileTimeZone)
        ? profileTimeZone
        : fallbackTimeZone;
  const untilTime = data.delay_until_time ?? null;
  const weekdays = data.delay_until_weekdays ?? null;
  if (unit !== 'days' || (untilTime === null && (weekdays === null || weekdays.length === 0))) {
    const resumeAt = nowMs + data.value * UNIT_MS[unit];
    return { waitMs: resumeAt - nowMs, resumeAt: new Date(resumeAt), timeZone: zone };
  }
  const today = localParts(nowMs, zone);
  let atLocal: (dayOffset: number) => number;
  if (untilTime !== null) {
    const [h, m, s] = untilTime.split(':').map(Number) as [number, number, number | undefined];
    atLocal = (offset) =>
      zonedTimeToUtc(today.year, today.month, today.day + offset, h, m, s ?? 0, zone);
  } else {
    atLocal = (offset) =>
      zonedTimeToUtc(
        today.year,
        today.month,
        today.day + offset,
        today.hour,
        today.minute,
        today.second,
        zone,
      ) +
      (nowMs % 1000);
  }
  let offset = data.value;
  let resume = atLocal(offset);
  if (resume < nowMs) resume = atLocal(++offset);
  if (weekdays !== null && weekdays.length > 0) {
    const allowed = new Set(weekdays);
    for (let i = 0; i < 7 && !allowed.has(localParts(resume, zone).weekday); i++)
      resume = atLocal(++offset);
  }
  return { waitMs: Math.max(0, resume - nowMs), resumeAt: new Date(resume), timeZone: zone };
}
