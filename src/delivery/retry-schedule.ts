// Retry schedule and retry tiers.
//
// Default schedule: 17 retries, doubling from 10 s and capped at 2 h:
//   10s 20s 40s 80s 160s 320s 640s 1280s 2560s 5120s 2h 2h 2h 2h 2h 2h 2h
// = 60 630 s nominal (16 h 50 m 30 s) from the first failure to the 18th and last attempt.
// Each delay gets ±20 % jitter, so even if every draw is +20 % the last attempt happens within
// 20 h 12 m 36 s; that leaves room for a receiver's `Retry-After` inside Klaviyo-style 24 h.
//
// Retry-After (delta-seconds or HTTP-date) is honoured on any retriable response but clamped to
// [scheduled delay, 2 × scheduled delay]: it can slow us down, never speed us up, and a hostile
// or buggy receiver cannot park a job for days.
//
// Tiers. A job waiting for its next attempt sits on `flowhook.retry.<tier>` with `not_before`
// set: the largest tier whose length is <= the wanted delay (the smallest tier for shorter
// waits). Every message on a tier waits exactly that tier's length before the delay role looks
// at it again, so tiers are FIFO by due time; what is left of the wait then hops to a smaller
// tier, and the last second waits at the head of its partition (src/delay/role.ts). No job is
// held behind a longer wait. The tiers are DELAY_TIERS (src/kafka/topics.ts).

import { formatDuration, parseDuration } from '../duration';
import { ConfigError } from '../errors';
import { DELAY_TIERS } from '../kafka/topics';

export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [
  10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 7200, 7200, 7200, 7200, 7200, 7200, 7200,
].map((s) => s * 1000);

/** The default in FLOWHOOK_RETRY_SCHEDULE syntax. */
export const DEFAULT_RETRY_SCHEDULE = DEFAULT_RETRY_DELAYS_MS.map(formatDuration).join(',');

/** ±20 % (Svix uses the same). */
export const DEFAULT_JITTER = 0.2;

/**
 * Parses a `Retry-After` value: delta-seconds (`120`) or an HTTP-date
 * (`Wed, 21 Oct 2015 07:28:00 GMT`). Returns the wait in ms from `now` (0 for a past date),
 * or undefined when absent or malformed.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^[0-9]+$/.test(text)) {
    const seconds = Number(text);
    return Number.isSafeInteger(seconds * 1000) ? seconds * 1000 : undefined;
  }
  // HTTP-date: IMF-fixdate, or the obsolete RFC 850 / asctime forms that Date.parse reads.
  if (!/[a-zA-Z]/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

export interface NextDelayOptions {
  /** Uniform [0, 1), injectable for tests. Default Math.random. */
  random?: () => number;
  /** Raw `Retry-After` header of the failed response, if any. */
  retryAfter?: string;
  /** Current time (ms), for HTTP-date Retry-After values. */
  now?: number;
}

export interface NextDelay {
  /** The wait to apply. */
  delayMs: number;
  /** The jittered schedule delay before Retry-After was considered. */
  scheduledMs: number;
  /** The Retry-After wait, when one was given and understood (before clamping). */
  retryAfterMs?: number;
}

export class RetrySchedule {
  readonly delaysMs: readonly number[];
  readonly jitter: number;

  constructor(delaysMs: readonly number[] = DEFAULT_RETRY_DELAYS_MS, jitter = DEFAULT_JITTER) {
    if (delaysMs.some((d) => !Number.isFinite(d) || d < 0)) {
      throw new RangeError('retry delays must be finite and non-negative');
    }
    if (!(jitter >= 0 && jitter < 1)) throw new RangeError('jitter must be in [0, 1)');
    this.delaysMs = [...delaysMs];
    this.jitter = jitter;
  }

  /**
   * Parses FLOWHOOK_RETRY_SCHEDULE: a comma list of durations (`10s,1m,10m,1h`; units ms, s,
   * m, h, d). Unset or blank → the default; `none` → no retries. Throws ConfigError.
   */
  static parse(text: string | undefined, jitter = DEFAULT_JITTER): RetrySchedule {
    if (text === undefined || text.trim() === '') return new RetrySchedule(undefined, jitter);
    if (text.trim().toLowerCase() === 'none') return new RetrySchedule([], jitter);
    const delays = text.split(',').map((part) => parseDuration(part));
    if (delays.some((d) => d === undefined)) {
      throw new ConfigError([
        {
          name: 'FLOWHOOK_RETRY_SCHEDULE',
          value: text,
          allowed:
            'a comma list of durations such as 10s,1m,10m,1h (units ms, s, m, h, d), or none',
        },
      ]);
    }
    return new RetrySchedule(delays as number[], jitter);
  }

  /** Number of retries (attempts after the first). */
  get maxRetries(): number {
    return this.delaysMs.length;
  }

  /** Retries are numbered from 1 (the retry after the first failed attempt). */
  isExhausted(retryNumber: number): boolean {
    return retryNumber < 1 || retryNumber > this.delaysMs.length;
  }

  /** The jittered delay before retry `retryNumber`, or undefined when exhausted. */
  delayFor(retryNumber: number, random: () => number = Math.random): number | undefined {
    if (this.isExhausted(retryNumber)) return undefined;
    const base = this.delaysMs[retryNumber - 1] as number;
    const r = Math.min(Math.max(random(), 0), 1);
    return Math.round(base * (1 + this.jitter * (2 * r - 1)));
  }

  /**
   * The wait before retry `retryNumber`, honouring Retry-After clamped to
   * [scheduled, 2 × scheduled]; undefined when the schedule is exhausted.
   */
  nextDelay(retryNumber: number, options: NextDelayOptions = {}): NextDelay | undefined {
    const scheduledMs = this.delayFor(retryNumber, options.random);
    if (scheduledMs === undefined) return undefined;
    const retryAfterMs = parseRetryAfter(options.retryAfter, options.now ?? Date.now());
    if (retryAfterMs === undefined) return { delayMs: scheduledMs, scheduledMs };
    const delayMs = Math.min(Math.max(retryAfterMs, scheduledMs), 2 * scheduledMs);
    return { delayMs, scheduledMs, retryAfterMs };
  }
}

// ---- tiers ----------------------------------------------------------------------------------

export interface RetryTier {
  /** Topic suffix: `flowhook.retry.<name>`. */
  name: string;
  ms: number;
}

/** Fixed tiers, ascending. Names are the suffixes of the retry topics. */
export const RETRY_TIERS: readonly RetryTier[] = DELAY_TIERS.map((name) => ({
  name,
  ms: parseDuration(name) as number,
}));

/** Builds a tier list from names such as `['10s', '1m']`; throws on a bad name. */
export function tiersFrom(names: readonly string[]): RetryTier[] {
  const tiers = names.map((name) => {
    const ms = parseDuration(name);
    if (ms === undefined)
      throw new RangeError(`retry tier ${JSON.stringify(name)} is not a duration`);
    return { name, ms };
  });
  if (tiers.length === 0) throw new RangeError('at least one retry tier is needed');
  return tiers.sort((a, b) => a.ms - b.ms);
}

/** The tier for a wait: the largest tier ≤ delayMs, or the smallest tier for shorter waits. */
export function tierFor(delayMs: number, tiers: readonly RetryTier[] = RETRY_TIERS): string {
  let chosen = tiers[0] as RetryTier;
  for (const tier of tiers) {
    if (tier.ms <= delayMs) chosen = tier;
  }
  return chosen.name;
}

/** `flowhook.retry.<tier>` with the configured prefix (default `flowhook.`). */
export function retryTopic(tier: string, prefix = 'flowhook.'): string {
  return `${prefix}retry.${tier}`;
}
