import type { FlowhookEvent } from '../../../src/documents';
import type { CompiledFlow } from '../../../src/flows/types';
import {
  decideEntries,
  decideEntry,
  decodeState,
  DEFAULT_STATE_LIMITS,
  emptyState,
  encodeState,
  isDuplicate,
  parseState,
  pruneState,
  recordEntry,
  recordEvent,
  type ProfileState,
} from '../../../src/trigger/entry';
import { compile, conditions, event, flowDoc, metricProp, profileProp } from '../flows/builders';

const NOW = new Date('2024-05-01T12:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const later = (ms: number): Date => new Date(NOW.getTime() + ms);
const at = (ms: number): FlowhookEvent => event({ id: `evt-${ms}`, time: later(ms).toISOString() });

const seenIds = (state: ProfileState): string[] =>
  (state.seen_events['Placed Order'] ?? []).map(([id]) => id);

const metricFlow = (
  definition: Record<string, unknown> = {},
  over: Record<string, unknown> = {},
): CompiledFlow => compile(flowDoc(over, definition));

/** Enters the flow with the event when allowed; returns the decision and the new state. */
function step(state: ProfileState | null, flow: CompiledFlow, e: FlowhookEvent, now: Date) {
  const r = decideEntries(state, [flow], e, now);
  return {
    reason: r.decisions[0]?.decision.reason,
    enter: r.decisions[0]?.decision.enter,
    state: r.state,
  };
}

describe('decideEntry: basics', () => {
  const flow = metricFlow();

  it('enters a live metric flow on its metric', () => {
    expect(decideEntry(null, flow, event(), NOW)).toEqual({ enter: true, previousEntryAt: null });
  });

  it('never triggers on backfill events', () => {
    expect(decideEntry(null, flow, event({ backfill: true }), NOW)).toMatchObject({
      enter: false,
      reason: 'backfill',
    });
  });

  it('ignores events of other metrics', () => {
    expect(decideEntry(null, flow, event({ metric: 'Viewed Product' }), NOW)).toMatchObject({
      enter: false,
      reason: 'trigger',
    });
  });

  it('never enters draft flows; manual flows take entries', () => {
    expect(decideEntry(null, metricFlow({}, { status: 'draft' }), event(), NOW).reason).toBe(
      'flow_status',
    );
    expect(decideEntry(null, metricFlow({}, { status: 'manual' }), event(), NOW).enter).toBe(true);
  });

  it('applies the trigger filter, then the profile filter', () => {
    const filtered = metricFlow({
      triggers: [
        {
          type: 'metric',
          id: 'Placed Order',
          trigger_filter: conditions(
            metricProp('$value', { type: 'numeric', operator: 'greater-than', value: 100 }),
          ),
        },
      ],
      profile_filter: conditions(
        profileProp('email', { type: 'string', operator: 'ends-with', value: '@example.com' }),
      ),
    });
    expect(decideEntry(null, filtered, event({ properties: { $value: 50 } }), NOW).reason).toBe(
      'trigger_filter',
    );
    expect(
      decideEntry(null, filtered, event({ profile: { id: 'p', email: 'x@other.org' } }), NOW)
        .reason,
    ).toBe('profile_filter');
    expect(decideEntry(null, filtered, event(), NOW).enter).toBe(true);
  });
});

describe('de-duplication', () => {
  const flow = metricFlow();

  it('a repeated event id for the same profile and metric triggers once', () => {
    const first = step(null, flow, event(), NOW);
    expect(first.enter).toBe(true);
    const again = step(first.state, flow, event(), later(HOUR));
    expect(again).toMatchObject({ enter: false, reason: 'duplicate' });
    const r = decideEntries(first.state, [flow, flow], event(), later(HOUR));
    expect(r.duplicate).toBe(true);
    expect(r.entered).toHaveLength(0);
    expect(r.changed).toBe(false);
  });

  it('keys ids per metric: the same id under another metric is not a duplicate', () => {
    const first = step(null, flow, event(), NOW);
    const other = metricFlow({ triggers: [{ type: 'metric', id: 'Started Checkout' }] });
    expect(step(first.state, other, event({ metric: 'Started Checkout' }), NOW).enter).toBe(true);
  });

  it('checks every candidate against the state before the event (one event enters several flows)', () => {
    const a = metricFlow({}, { id: 'a' });
    const b = metricFlow({}, { id: 'b' });
    const r = decideEntries(null, [a, b], event(), NOW);
    expect(r.entered.map((f) => f.id)).toEqual(['a', 'b']);
    expect(r.state.entries).toEqual({
      a: '2024-05-01T12:00:00.000Z',
      b: '2024-05-01T12:00:00.000Z',
    });
    expect(seenIds(r.state)).toEqual(['evt-1']);
  });

  it('records nothing for events without candidates, nor for backfill', () => {
    expect(decideEntries(null, [], event(), NOW)).toMatchObject({
      changed: false,
      state: emptyState(),
    });
    expect(decideEntries(null, [flow], event({ backfill: true }), NOW).changed).toBe(false);
  });

  it('records the id even when no flow is entered (a duplicate must not slip through later)', () => {
    const filtered = metricFlow({
      profile_filter: conditions(profileProp('email', { type: 'existence', operator: 'not-set' })),
    });
    const r = decideEntries(null, [filtered], event(), NOW);
    expect(r.entered).toHaveLength(0);
    expect(r.changed).toBe(true);
    expect(isDuplicate(r.state, event())).toBe(true);
  });

  it('forgets ids after the window and keeps at most maxIdsPerMetric, newest first', () => {
    let state: ProfileState = emptyState();
    state = recordEvent(state, event({ id: 'old' }), NOW);
    state = recordEvent(state, event({ id: 'new' }), later(6 * DAY));
    expect(seenIds(state).sort()).toEqual(['new', 'old']);
    state = recordEvent(state, event({ id: 'newest' }), later(7 * DAY + 1));
    expect(seenIds(state).sort()).toEqual(['new', 'newest']);

    const limits = { ...DEFAULT_STATE_LIMITS, maxIdsPerMetric: 3 };
    let capped: ProfileState = emptyState();
    for (let i = 0; i < 10; i++)
      capped = recordEvent(capped, event({ id: `e${i}` }), later(i * 1000), limits);
    expect(seenIds(capped).sort()).toEqual(['e7', 'e8', 'e9']);
  });
});

describe('re-entry', () => {
  it('metric flows re-enter on every event by default', () => {
    const flow = metricFlow();
    const first = step(null, flow, at(0), NOW);
    expect(step(first.state, flow, at(1000), later(1000)).enter).toBe(true);
  });

  it('list and segment flows enter once per profile by default', () => {
    const flow = compile(flowDoc({}, { triggers: [{ type: 'list', id: 'L1' }] }));
    const sub = (id: string): FlowhookEvent =>
      event({ id, metric: 'Subscribed to List', properties: { list_id: 'L1' } });
    const first = step(null, flow, sub('s1'), NOW);
    expect(first.enter).toBe(true);
    expect(step(first.state, flow, sub('s2'), later(365 * DAY)).reason).toBe('reentry');
  });

  it('alltime 1 = once; alltime 0 = always', () => {
    const once = metricFlow({ reentry_criteria: { duration: 1, unit: 'alltime' } });
    const s = step(null, once, at(0), NOW);
    expect(step(s.state, once, at(1000 * DAY), later(1000 * DAY)).reason).toBe('reentry');
    const always = metricFlow({ reentry_criteria: { duration: 0, unit: 'alltime' } });
    const a = step(null, always, at(0), NOW);
    expect(step(a.state, always, at(1), later(1)).enter).toBe(true);
  });

  it.each<[string, number, number]>([
    ['hour', 6, HOUR],
    ['day', 2, DAY],
    ['week', 1, 7 * DAY],
  ])('%s: no re-entry within %i units of the last entry', (unit, duration, unitMs) => {
    const flow = metricFlow({ reentry_criteria: { duration, unit } });
    const first = step(null, flow, at(0), NOW);
    const tooSoon = duration * unitMs - 1;
    const r1 = step(first.state, flow, at(tooSoon), later(tooSoon));
    expect(r1).toMatchObject({ enter: false, reason: 'reentry' });
    const enough = duration * unitMs;
    const r2 = step(r1.state, flow, at(enough), later(enough));
    expect(r2.enter).toBe(true);
    // the window restarts from the new entry
    expect(step(r2.state, flow, at(enough + unitMs - 1), later(enough + unitMs - 1)).reason).toBe(
      'reentry',
    );
  });

  it('duration 0 with a time unit always re-enters', () => {
    const flow = metricFlow({ reentry_criteria: { duration: 0, unit: 'day' } });
    const first = step(null, flow, at(0), NOW);
    expect(step(first.state, flow, at(1), later(1)).enter).toBe(true);
  });

  it("times entries by the event's time (clamped to now), so reprocessing decides the same", () => {
    const flow = metricFlow({ reentry_criteria: { duration: 1, unit: 'day' } });
    const first = step(null, flow, at(0), later(5 * DAY)); // processed late
    expect(first.state.entries['flow-1']).toBe(NOW.toISOString());
    expect(step(first.state, flow, at(DAY), later(5 * DAY)).enter).toBe(true);
    const future = recordEntry(null, 'f', event({ time: later(DAY).toISOString() }), NOW);
    expect(future.entries.f).toBe(NOW.toISOString());
  });

  it('never moves the last entry backwards on out-of-order events', () => {
    const s1 = recordEntry(null, 'f', at(10 * DAY), later(10 * DAY));
    const s2 = recordEntry(s1, 'f', at(DAY), later(11 * DAY));
    expect(s2.entries.f).toBe(later(10 * DAY).toISOString());
  });

  it('keeps re-entry per flow and per profile state', () => {
    const a = metricFlow({ reentry_criteria: { duration: 1, unit: 'alltime' } }, { id: 'a' });
    const b = metricFlow({ reentry_criteria: { duration: 1, unit: 'alltime' } }, { id: 'b' });
    const inA = step(null, a, at(0), NOW);
    expect(step(inA.state, b, at(1), later(1)).enter).toBe(true);
    expect(step(null, a, at(1), later(1)).enter).toBe(true); // another profile: its own (empty) state
  });

  it('passes the previous entry on, for profile-not-in-flow and the walker', () => {
    const flow = metricFlow({
      profile_filter: conditions({
        type: 'profile-not-in-flow',
        timeframe_filter: { type: 'date', operator: 'in-the-last', unit: 'day', quantity: 30 },
      }),
    });
    const first = step(null, flow, at(0), NOW);
    expect(first.enter).toBe(true);
    const d = decideEntry(first.state, flow, at(10 * DAY), later(10 * DAY));
    expect(d).toEqual({ enter: false, reason: 'profile_filter', previousEntryAt: NOW });
    expect(decideEntry(first.state, flow, at(31 * DAY), later(31 * DAY)).enter).toBe(true);
  });
});

describe('state record', () => {
  it('round-trips through bytes', () => {
    const s = decideEntries(null, [metricFlow()], event(), NOW).state;
    expect(decodeState(encodeState(s))).toEqual(s);
    expect(s).toEqual({
      v: 1,
      seen_events: { 'Placed Order': [['evt-1', NOW.getTime()]] },
      entries: { 'flow-1': '2024-05-01T12:00:00.000Z' },
    });
  });

  it('reads missing, corrupt or foreign records as null, dropping ill-typed members', () => {
    expect(decodeState(null)).toBeNull();
    expect(decodeState(Buffer.from('{oops'))).toBeNull();
    expect(parseState({ v: 2 })).toBeNull();
    expect(
      parseState({
        v: 1,
        seen_events: { M: [['a', 'x'], ['b', 5], 'c'], N: 3, O: {} },
        entries: { f: 7, g: 'y' },
      }),
    ).toEqual({
      v: 1,
      seen_events: { M: [['b', 5]] },
      entries: { g: 'y' },
    });
  });

  it('pruneState drops entries of deleted flows when asked', () => {
    const s: ProfileState = {
      v: 1,
      seen_events: {},
      entries: { kept: NOW.toISOString(), gone: NOW.toISOString() },
    };
    expect(pruneState(s, NOW, DEFAULT_STATE_LIMITS, new Set(['kept'])).entries).toEqual({
      kept: NOW.toISOString(),
    });
  });

  it('stays bounded under a stream of distinct events', () => {
    const flow = metricFlow();
    let state: ProfileState | null = null;
    for (let i = 0; i < 5000; i++) {
      state = decideEntries(state, [flow], event({ id: `e${i}` }), later(i * 60_000)).state;
    }
    const size = encodeState(state as ProfileState).length;
    expect(seenIds(state as ProfileState)).toHaveLength(DEFAULT_STATE_LIMITS.maxIdsPerMetric);
    expect(size).toBeLessThan(64 * 1024);
  });
});

describe('list and segment flows with the profile store', () => {
  const listFlow = compile(flowDoc({}, { triggers: [{ type: 'list', id: 'L1' }] }));
  const joined = event({ metric: 'Subscribed to List', properties: { list_id: 'L1' } });

  it('enter only when the profile newly joined; unknown newness (store off) enters', () => {
    expect(decideEntry(null, listFlow, joined, NOW, { newMembership: true }).enter).toBe(true);
    expect(decideEntry(null, listFlow, joined, NOW, { newMembership: false })).toMatchObject({
      enter: false,
      reason: 'already_member',
    });
    expect(decideEntry(null, listFlow, joined, NOW).enter).toBe(true);
  });

  it('evaluate the profile filter on the stored profile, not the snapshot', () => {
    const filtered = metricFlow({
      profile_filter: conditions(
        profileProp('first_name', { type: 'string', operator: 'equals', value: 'Ann' }),
      ),
    });
    expect(decideEntry(null, filtered, event(), NOW).reason).toBe('profile_filter');
    expect(
      decideEntry(null, filtered, event(), NOW, { profile: { id: 'p-1', first_name: 'Ann' } })
        .enter,
    ).toBe(true);
  });
});
