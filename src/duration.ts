// Durations in settings, retry schedules, tier names and CLI options: a number and a unit.

export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const UNIT_MS: Record<DurationUnit, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

export interface ParseDurationOptions {
  /** The unit of a number written without one; by default such a number is refused. */
  bareNumberUnit?: DurationUnit;
}

/** `250ms`, `10s`, `1.5h`, `1d` in milliseconds; undefined when the text is not a duration. */
export function parseDuration(
  text: string,
  options: ParseDurationOptions = {},
): number | undefined {
  const match = /^([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  const unit = (match[2] as DurationUnit | undefined) ?? options.bareNumberUnit;
  if (unit === undefined) return undefined;
  const ms = Math.round(Number(match[1]) * UNIT_MS[unit]);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Formats ms with the largest unit that divides it (`600000` → `10m`). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit];
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
