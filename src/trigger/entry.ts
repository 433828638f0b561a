// Entry decisions: whether an event makes a profile enter a flow, and the per-profile state
// that remembers what is needed to decide (the record the Kafka wiring keeps in the compacted
// flowhook.state topic, key = profileKey(event.profile)). Pure functions: state in, state out.
//
// Rules, in the order they are checked (the first that fails is the reason):
//   backfill         `backfill: true` events never trigger.
//   duplicate        an event id already seen for this profile and metric triggers once.
//   flow_status      only `live` and `manual` flows take entries (draft never does).
//   trigger          the event is not one the flow's trigger listens to.
//   already_member   list / segment flows: the profile store says the profile already was in
//                    that list or segment (flows fire only when a profile newly joins).
//   trigger_filter   the metric trigger's filter (top-level event properties, checked only here),
//                    or a price-drop / low-inventory trigger's (the item's properties).
//   profile_filter   the flow's profile filter (checked here and before every action).
//   reentry          reentry_criteria: {duration, unit hour|day|week} = no re-entry within that
//                    span of the last entry; {alltime, 1} = once per profile; {alltime, 0} or
//                    duration 0 = always. Defaults: metric flows always, list/segment once.
//
// Decisions where the spec is silent:
//   - An entry is timed by the triggering event's `time` (clamped to `now`), so reprocessing the
//     same events gives the same decisions whatever the processing time. An event older than the
//     last entry falls inside any re-entry window.
//   - Seen event ids are timed by processing time (`now`): de-duplication guards against
//     redelivery, which is a processing-time phenomenon. They are kept for `dedupWindowMs`
//     (default 7 days) and at most `maxIdsPerMetric` (default 500) per metric, oldest dropped.
//   - Ids are recorded only for events that had at least one candidate flow: an event no flow
//     listens to cannot trigger twice, and its profile's state need not be written at all.

import type { FlowhookEvent, Profile } from '../documents';
import type { ProfileRecord } from '../profiles/record';
import { triggerMatches } from '../flows/trigger-match';
import type { CompiledFlow, ConditionContext, ReentryCriteria } from '../flows/types';

/** The value on flowhook.state (key = profileKey(profile)). JSON-serializable. */
export interface ProfileState {
  v: 1;
  /**
   * metric name → [event id, when it was first processed (epoch ms)] pairs, oldest first.
   * (Arrays, not objects keyed by id: copying and pruning them per event is ~25x cheaper.)
   */
  seen_events: Record<string, [string, number][]>;
  /** flow id → time of the last entry (ISO-8601; the triggering event's time). */
  entries: Record<string, string>;
}

export interface StateLimits {
  /** How long a processed event id is remembered. Default 7 days. */
  dedupWindowMs: number;
  /** Most ids remembered per metric. Default 500. */
  maxIdsPerMetric: number;
}

export const DEFAULT_STATE_LIMITS: StateLimits = {
  dedupWindowMs: 7 * 86_400_000,
  maxIdsPerMetric: 500,
};

export type EntryReason =
  | 'backfill'
  | 'duplicate'
  | 'flow_status'
  | 'trigger'
  | 'already_member'
  | 'trigger_filter'
  | 'profile_filter'
  | 'reentry';

/** What the profile store adds to an entry decision (nothing when it is off). */
export interface EntryContext {
  /** The profile as the store has it now (default: the event's snapshot). */
  profile?: Profile;
  stored?: ProfileRecord | null;
  /** A list / segment event: whether the profile newly joined (false: it already was in). */
  newMembership?: boolean;
  limits?: StateLimits;
}

export interface EntryDecision {
  enter: boolean;
  /** Why not (absent when enter is true). */
  reason?: EntryReason;
  /** The profile's previous entry into this flow; pass to walkFlow as previousEntryAt. */
  previousEntryAt: Date | null;
}

export function emptyState(): ProfileState {
  return { v: 1, seen_events: {}, entries: {} };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads a state record (already JSON-parsed). Null when it is not a state record: the caller
 * decides (log, and start from emptyState()). Members with the wrong type are dropped.
 */
export function parseState(value: unknown): ProfileState | null {
  if (!isRecord(value) || value.v !== 1) return null;
  const state = emptyState();
  if (isRecord(value.seen_events)) {
    for (const [metric, ids] of Object.entries(value.seen_events)) {
      if (!Array.isArray(ids)) continue;
      const kept = ids.filter(
        (p): p is [string, number] =>
          Array.isArray(p) &&
          p.length === 2 &&
          typeof p[0] === 'string' &&
          typeof p[1] === 'number' &&
          Number.isFinite(p[1]),
      );
      if (kept.length > 0) state.seen_events[metric] = kept.map(([id, at]) => [id, at]);
    }
  }
  if (isRecord(value.entries)) {
    for (const [flowId, at] of Object.entries(value.entries)) {
      if (typeof at === 'string') state.entries[flowId] = at;
    }
  }
  return state;
}

/** Bytes for flowhook.state. */
export function encodeState(state: ProfileState): Buffer {
  return Buffer.from(JSON.stringify(state), 'utf8');
}

/** From flowhook.state bytes; null for a missing, corrupt or foreign record. */
export function decodeState(buf: Buffer | null | undefined): ProfileState | null {
  if (buf === null || buf === undefined || buf.length === 0) return null;
  try {
    return parseState(JSON.parse(buf.toString('utf8')) as unknown);
  } catch {
    return null;
  }
}

/** Whether this event id was already processed for this profile and metric. */
export function isDuplicate(state: ProfileState | null, event: FlowhookEvent): boolean {
  const seen = state?.seen_events[event.metric];
  if (seen === undefined) return false;
  for (const [id] of seen) if (id === event.id) return true;
  return false;
}

const REENTRY_UNIT_MS = { hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000 } as const;

/** The time an entry by this event is recorded at: the event's time, never after now. */
export function entryTime(event: FlowhookEvent, now: Date): Date {
  const t = Date.parse(event.time);
  return new Date(Number.isNaN(t) ? now.getTime() : Math.min(t, now.getTime()));
}

function reentryAllowed(rule: ReentryCriteria, last: Date | null, at: Date): boolean {
  if (last === null || rule.duration === 0) return true;
  if (rule.unit === 'alltime') return false; // duration 1: once
  return at.getTime() - last.getTime() >= rule.duration * REENTRY_UNIT_MS[rule.unit];
}

export function previousEntry(state: ProfileState | null, flowId: string): Date | null {
  const last = state?.entries[flowId];
  if (last === undefined) return null;
  const t = Date.parse(last);
  return Number.isNaN(t) ? null : new Date(t);
}

/** Whether `event` makes its profile enter `flow`. `state` is the state *before* this event. */
export function decideEntry(
  state: ProfileState | null,
  flow: CompiledFlow,
  event: FlowhookEvent,
  now: Date,
  entry: EntryContext = {},
): EntryDecision {
  return decide(state, flow, event, now, entryTime(event, now), entry);
}

/** decideEntry, with the event's entry time computed once for all its candidate flows. */
function decide(
  state: ProfileState | null,
  flow: CompiledFlow,
  event: FlowhookEvent,
  now: Date,
  at: Date,
  entry: EntryContext,
): EntryDecision {
  const previousEntryAt = previousEntry(state, flow.id);
  const no = (reason: EntryReason): EntryDecision => ({ enter: false, reason, previousEntryAt });
  if (event.backfill === true) return no('backfill');
  if (isDuplicate(state, event)) return no('duplicate');
  if (flow.status !== 'live' && flow.status !== 'manual') return no('flow_status');
  if (!triggerMatches(flow.trigger, event)) return no('trigger');
  if (flow.trigger.type !== 'metric' && entry.newMembership === false) return no('already_member');
  const ctx: ConditionContext = {
    event,
    profile: entry.profile ?? event.profile,
    now,
    flowId: flow.id,
    previousEntryAt,
    stored: entry.stored ?? null,
    flowStartAt: at,
  };
  const triggerFilter =
    flow.trigger.type === 'metric'
      ? flow.trigger.filter
      : flow.trigger.type === 'item'
        ? flow.trigger.item.filter
        : null;
  if (triggerFilter !== null && !triggerFilter(ctx)) return no('trigger_filter');
  if (flow.profileFilter !== null && !flow.profileFilter(ctx)) return no('profile_filter');
  if (!reentryAllowed(flow.reentry, previousEntryAt, at)) return no('reentry');
  return { enter: true, previousEntryAt };
}

/** Records that the profile entered `flowId` with this event. Returns a new state. */
export function recordEntry(
  state: ProfileState | null,
  flowId: string,
  event: FlowhookEvent,
  now: Date,
): ProfileState {
  return recordEntries(state ?? emptyState(), [flowId], entryTime(event, now));
}

/** Each flow's last entry becomes `at`, unless it already is later. One copy for all of them. */
function recordEntries(state: ProfileState, flowIds: readonly string[], at: Date): ProfileState {
  const entries = { ...state.entries };
  const iso = at.toISOString();
  for (const flowId of flowIds) {
    const last = previousEntry(state, flowId);
    entries[flowId] = last !== null && last.getTime() > at.getTime() ? last.toISOString() : iso;
  }
  return { ...state, entries };
}

/**
 * Records the event id as processed (for de-duplication) and prunes ids older than the window
 * or beyond the per-metric cap. Returns a new state.
 */
export function recordEvent(
  state: ProfileState | null,
  event: FlowhookEvent,
  now: Date,
  limits: StateLimits = DEFAULT_STATE_LIMITS,
): ProfileState {
  const base = state ?? emptyState();
  if (isDuplicate(base, event)) return pruneState(base, now, limits);
  const ids: [string, number][] = [
    ...(base.seen_events[event.metric] ?? []),
    [event.id, now.getTime()],
  ];
  return pruneState(
    { ...base, seen_events: { ...base.seen_events, [event.metric]: ids } },
    now,
    limits,
  );
}

/**
 * Drops seen ids older than the de-duplication window and beyond the per-metric cap (oldest
 * first), and metrics left without ids. Optionally drops entries of flows not in `liveFlowIds`
 * (flows that were deleted). Returns a new state. Linear in the number of ids.
 */
export function pruneState(
  state: ProfileState,
  now: Date,
  limits: StateLimits = DEFAULT_STATE_LIMITS,
  liveFlowIds?: ReadonlySet<string>,
): ProfileState {
  const cutoff = now.getTime() - limits.dedupWindowMs;
  const seen: Record<string, [string, number][]> = {};
  for (const [metric, ids] of Object.entries(state.seen_events)) {
    let fresh = ids.filter(([, t]) => t >= cutoff);
    if (fresh.length > limits.maxIdsPerMetric) {
      const sorted = fresh.every(
        (p, i) => i === 0 || (fresh[i - 1] as [string, number])[1] <= p[1],
      );
      if (!sorted) fresh = [...fresh].sort((a, b) => a[1] - b[1]);
      fresh = fresh.slice(fresh.length - limits.maxIdsPerMetric);
    }
    if (fresh.length > 0) seen[metric] = fresh;
  }
  let entries = state.entries;
  if (liveFlowIds !== undefined) {
    entries = Object.fromEntries(
      Object.entries(entries).filter(([flowId]) => liveFlowIds.has(flowId)),
    );
  }
  return { v: 1, seen_events: seen, entries };
}

export interface EventEntries {
  /** The event id was already processed for this profile and metric: nothing enters. */
  duplicate: boolean;
  decisions: { flow: CompiledFlow; decision: EntryDecision }[];
  /** The flows entered, in candidate order: walk each with walkFlow. */
  entered: CompiledFlow[];
  /** The new state (unchanged object when `changed` is false). */
  state: ProfileState;
  /** Whether the state must be written back to flowhook.state. */
  changed: boolean;
}

/**
 * The whole entry step for one event and its candidate flows (FlowTable.candidates): every
 * decision is taken against the state before the event, then the event id and the entries are
 * recorded once. This is what the trigger processor calls per event.
 */
export function decideEntries(
  state: ProfileState | null,
  candidates: readonly CompiledFlow[],
  event: FlowhookEvent,
  now: Date,
  entry: EntryContext = {},
): EventEntries {
  const limits = entry.limits ?? DEFAULT_STATE_LIMITS;
  const before = state ?? emptyState();
  const duplicate = isDuplicate(state, event);
  const at = entryTime(event, now);
  const decisions = candidates.map((flow) => ({
    flow,
    decision: decide(state, flow, event, now, at, entry),
  }));
  const entered = decisions.filter((d) => d.decision.enter).map((d) => d.flow);
  if (candidates.length === 0 || event.backfill === true || duplicate) {
    return { duplicate, decisions, entered, state: before, changed: false };
  }
  const next = recordEvent(state, event, now, limits);
  return {
    duplicate,
    decisions,
    entered,
    state:
      entered.length === 0
        ? next
        : recordEntries(
            next,
            entered.map((f) => f.id),
            at,
          ),
    changed: true,
  };
}
