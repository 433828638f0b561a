// The delay mechanism's message format, shared by its producers (the delivery role's retries and
// circuit waits, the trigger's flow time delays) and its consumer (DelayRole).
//
// A delayed message sits on a tier topic — `<prefix>retry.<tier>` or `<prefix>delays.<tier>` —
// with its original key, value and headers plus two headers of its own:
//   flowhook-not-before  when it is due: ISO-8601 (what we write) or epoch milliseconds;
//   flowhook-target      the topic to forward it to once due.
// The delay role forwards it unchanged (same key, value and headers, minus those two) to the
// target. The tier is the largest DELAY_TIER not longer than the wait, so each tier partition is
// close to FIFO by due time and its consumer only ever waits for the head message.

import type { IHeaders, Message } from 'kafkajs';
import { DELAY_TIERS, type DelayTier } from '../kafka/topics';

export const NOT_BEFORE_HEADER = 'flowhook-not-before';
export const TARGET_HEADER = 'flowhook-target';
/** Set on what the delay role forwards: the tier topic it waited on (provenance). */
export const DELAYED_FROM_HEADER = 'flowhook-delayed-from';
const DELAY_HEADERS: ReadonlySet<string> = new Set([NOT_BEFORE_HEADER, TARGET_HEADER]);

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Tier lengths in ms, ascending (DELAY_TIERS is ascending). */
export const DELAY_TIER_MS: ReadonlyMap<DelayTier, number> = new Map(
  DELAY_TIERS.map((tier) => {
    const m = /^(\d+)(ms|s|m|h|d)$/.exec(tier) as RegExpExecArray;
    return [tier, Number(m[1]) * (UNIT_MS[m[2] as string] as number)];
  }),
);

export function isDelayTier(name: string): name is DelayTier {
  return (DELAY_TIERS as readonly string[]).includes(name);
}

/** The largest tier not longer than `waitMs` (the smallest tier for shorter or past waits). */
export function delayTierFor(waitMs: number): DelayTier {
  let chosen: DelayTier = DELAY_TIERS[0];
  for (const [tier, ms] of DELAY_TIER_MS) if (ms <= waitMs) chosen = tier;
  return chosen;
}

export interface DelayedMessageInput {
  /** Topic the message is forwarded to once due. */
  target: string;
  /** When it is due: a Date, epoch ms, or an ISO-8601 string. */
  notBefore: Date | number | string;
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: IHeaders;
}

export interface DelayedMessage {
  /** The tier topic to produce to. */
  topic: string;
  message: Message;
  tier: DelayTier;
}

function toMs(value: Date | number | string): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  const parsed = parseNotBefore(value);
  if (parsed === undefined) throw new RangeError(`not a time: ${JSON.stringify(value)}`);
  return parsed;
}

/**
 * The message to produce for a delayed hand-off. `queue` names the tier family
 * (`topics.retry` for webhook retries and circuit waits, `topics.delays` for flow delays);
 * `tier` forces a tier (an unknown name is ignored), otherwise it follows from the wait
 * (`notBefore - now`).
 */
export function delayedMessage(
  input: DelayedMessageInput,
  queue: (tier: DelayTier) => string,
  tier?: string,
  now: number = Date.now(),
): DelayedMessage {
  const dueMs = toMs(input.notBefore);
  if (!Number.isFinite(dueMs)) throw new RangeError('notBefore is not a finite time');
  const chosen = tier !== undefined && isDelayTier(tier) ? tier : delayTierFor(dueMs - now);
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    if (!DELAY_HEADERS.has(name.toLowerCase()) && value !== undefined) headers[name] = value;
  }
  headers[NOT_BEFORE_HEADER] = new Date(dueMs).toISOString();
  headers[TARGET_HEADER] = input.target;
  return {
    topic: queue(chosen),
    tier: chosen,
    message: { key: input.key ?? null, value: input.value, headers },
  };
}

function headerText(value: IHeaders[string]): string | undefined {
  if (value === undefined) return undefined;
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return undefined;
  return typeof first === 'string' ? first : first.toString('utf8');
}

/** Epoch ms from an ISO-8601 time or a decimal epoch-ms string; undefined when neither. */
export function parseNotBefore(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (/^\d{1,16}$/.test(t)) return Number(t);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(t)) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

export type ParsedDelayHeaders =
  | { ok: true; target: string; notBefore: number | undefined; rawNotBefore: string | undefined }
  | { ok: false; reason: 'target_missing'; rawNotBefore: string | undefined };

/** Reads the two delay headers (names matched case-insensitively). */
export function readDelayHeaders(headers: IHeaders | undefined): ParsedDelayHeaders {
  let target: string | undefined;
  let rawNotBefore: string | undefined;
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (lower === TARGET_HEADER) target = headerText(value);
    else if (lower === NOT_BEFORE_HEADER) rawNotBefore = headerText(value);
  }
  if (target === undefined || target.trim() === '') {
    return { ok: false, reason: 'target_missing', rawNotBefore };
  }
  return { ok: true, target: target.trim(), notBefore: parseNotBefore(rawNotBefore), rawNotBefore };
}

/** The headers without the delay ones: what is forwarded to the target. */
export function withoutDelayHeaders(headers: IHeaders | undefined): IHeaders {
  const out: IHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!DELAY_HEADERS.has(name.toLowerCase()) && value !== undefined) out[name] = value;
  }
  return out;
}
