// Date-triggered flows on the kernel's timers: one timer per flow and profile ("enter flow F
// at T"), kept in the task's timer store, so a million birthdays are a million small rows on
// disk, not a heap. Timers are (re)scheduled when a profile's date property changes, and by a
// sweep of the task's profile store when a date flow is loaded (in chunks, each its own commit,
// resumable after a restart). When a timer fires, the date is checked again against the
// profile as it is then: a changed date is skipped (reason `date_changed`) and rescheduled.

import type { FlowhookEvent } from '../documents';
import { dateMetric } from '../flows/trigger-match';
import type { CompiledFlow, DateTriggerSpec } from '../flows/types';
import type { ProcessorContext } from '../kafka/processor';
import type { StoreSpec } from '../kafka/store';
import type { Timer } from '../kafka/timers';
import type { ProfileRecord } from '../profiles/record';
import { nextDateEntry, triggerZone } from './date-trigger';

/** Payload of a date flow's timer. */
export interface DateTimerPayload {
  kind: 'date';
  flow_id: string;
}

/** Payload of a sweep's timer: where the sweep of the profile store continues, or done. */
export interface SweepTimerPayload {
  kind: 'sweep';
  flow_id: string;
  version: number;
  /** The last profile key swept; null when done. */
  after: string | null;
}

/** Profiles swept per commit. */
const SWEEP_CHUNK = 1000;
/** A finished sweep is remembered as a timer that never fires (year 30000). */
const NEVER = 9e14;

const dateTimerId = (flowId: string, key: string) => `date|${flowId}|${key}`;
const sweepTimerId = (flow: CompiledFlow) => `sweep|${flow.id}|${flow.version}`;

function dateSpec(flow: CompiledFlow): DateTriggerSpec | null {
  return flow.trigger.type === 'date' ? flow.trigger.date : null;
}

/** A date timer fired for a profile whose date still holds: the event that enters the flow. */
export interface DateEntry {
  flow: CompiledFlow;
  event: FlowhookEvent;
}

export class DateEntries {
  constructor(
    private readonly profiles: StoreSpec<ProfileRecord>,
    private readonly dateFlows: () => readonly CompiledFlow[],
    private readonly flow: (id: string) => CompiledFlow | undefined,
    private readonly onSkip: (flowId: string, reason: string) => void,
  ) {}

  /** After a profile's record changed: reschedule the date flows whose date property changed. */
  reschedule(
    context: ProcessorContext,
    key: string,
    before: ProfileRecord | null,
    after: ProfileRecord,
  ): void {
    for (const flow of this.dateFlows()) {
      const spec = dateSpec(flow) as DateTriggerSpec;
      const was = before ? spec.read(before.profile) : undefined;
      const now = spec.read(after.profile);
      if (before !== null && JSON.stringify(was) === JSON.stringify(now)) continue;
      this.schedule(context, flow, spec, key, after, context.now());
    }
  }

  /** Starts the sweep of every date flow this task has not swept yet (Processor.onWake). */
  wake(context: ProcessorContext): void {
    for (const flow of this.dateFlows()) {
      if (context.timers.get(sweepTimerId(flow)) === undefined) this.sweep(context, flow, null);
    }
  }

  /**
   * A timer of this module fired; returns the entry to make, if any. False when the timer is
   * not one of this module's.
   */
  onTimer(timer: Timer, context: ProcessorContext): DateEntry | null | false {
    const payload = timer.payload as DateTimerPayload | SweepTimerPayload | undefined;
    if (payload?.kind === 'sweep') {
      const flow = this.flow(payload.flow_id);
      if (flow && flow.version === payload.version && dateSpec(flow))
        this.sweep(context, flow, payload.after);
      return null;
    }
    if (payload?.kind !== 'date') return false;
    const flow = this.flow(payload.flow_id);
    const spec = flow ? dateSpec(flow) : null;
    if (!flow || !spec || (flow.status !== 'live' && flow.status !== 'manual')) return null;
    const record = context.store(this.profiles).get(timer.key) ?? null;
    if (record === null) return null;
    const value = spec.read(record.profile);
    const zone = triggerZone(spec, record.profile.location?.timezone);
    // The occurrence this timer was set for must still be one (the date may have changed).
    const stillDue = nextDateEntry(spec, value, zone, timer.due - 1) === timer.due;
    this.schedule(context, flow, spec, timer.key, record, timer.due);
    if (!stillDue) {
      this.onSkip(flow.id, 'date_changed');
      return null;
    }
    const at = new Date(timer.due).toISOString();
    return {
      flow,
      event: {
        id: `date:${flow.id}:${timer.key}:${at}`,
        metric: dateMetric(spec.property),
        time: at,
        profile: record.profile,
        properties: { [spec.property]: value as never, $occurrence: at },
      },
    };
  }

  /** Whether a profile's date still is the one a date-flow walk started with. */
  dateUnchanged(flow: CompiledFlow, event: FlowhookEvent, record: ProfileRecord | null): boolean {
    const spec = dateSpec(flow);
    if (!spec || record === null) return true;
    return (
      JSON.stringify(spec.read(record.profile)) === JSON.stringify(event.properties[spec.property])
    );
  }

  private schedule(
    context: ProcessorContext,
    flow: CompiledFlow,
    spec: DateTriggerSpec,
    key: string,
    record: ProfileRecord,
    afterMs: number,
  ): void {
    const zone = triggerZone(spec, record.profile.location?.timezone);
    const due = nextDateEntry(spec, spec.read(record.profile), zone, afterMs);
    const id = dateTimerId(flow.id, key);
    if (due === null) context.timers.cancel(id);
    else if (context.timers.get(id)?.due !== due) {
      const payload: DateTimerPayload = { kind: 'date', flow_id: flow.id };
      context.timers.schedule({ id, due, key, payload });
    }
  }

  /** One chunk of the sweep of this task's profiles for `flow`, then the next chunk's timer. */
  private sweep(context: ProcessorContext, flow: CompiledFlow, after: string | null): void {
    const spec = dateSpec(flow) as DateTriggerSpec;
    const store = context.store(this.profiles);
    let last: string | null = null;
    let n = 0;
    const start = after === null ? undefined : `${after}\u0000`;
    for (const [key, record] of store.range({ start, limit: SWEEP_CHUNK })) {
      this.schedule(context, flow, spec, key, record, context.now());
      last = key;
      n += 1;
    }
    const done = n < SWEEP_CHUNK;
    const payload: SweepTimerPayload = {
      kind: 'sweep',
      flow_id: flow.id,
      version: flow.version,
      after: done ? null : last,
    };
    context.timers.schedule({
      id: sweepTimerId(flow),
      due: done ? NEVER : context.now(),
      key: '',
      payload,
    });
  }
}
