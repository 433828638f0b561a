// The trigger processor's table of flows, rebuilt from the compacted flowhook.flows topic
// (key = flow id, null value = delete) before any event is read, then kept current.
//
//   - apply() validates and compiles each document. A valid one replaces the current version
//     (whatever its version number: the topic's order is the truth, so a restarted processor
//     replaying the topic ends up with exactly the table a running one has). An invalid one is
//     rejected with its problems and the previous valid version, if any, stays in force.
//   - Only `live` and `manual` flows are indexed for triggering; `draft` flows are kept (they
//     count in flowhook_flows_loaded) but never match.
//   - candidates(event) reads one bucket per trigger kind: metric name → flows, list id → flows,
//     segment id → flows. Its cost does not depend on how many unrelated flows are loaded.

import type { FlowhookEvent } from '../documents';
import type { FlowSignaturePolicy } from './signature';
import { listIdOf, segmentIdOf } from './trigger-match';
import {
  FLOW_STATUSES,
  type CompiledFlow,
  type MetricSeriesSpec,
  type FlowStatus,
  type ValidationProblem,
  type ValidateOptions,
  type ValidationResult,
} from './types';
import { validateFlow } from './validate';

export type ApplyResult =
  | {
      outcome: 'accepted';
      flow: CompiledFlow;
      /** The version it replaced. */
      previous: CompiledFlow | null;
      warnings: ValidationProblem[];
    }
  | {
      outcome: 'rejected';
      problems: ValidationProblem[];
      warnings: ValidationProblem[];
      /** The version still in force (null when the flow has no valid version). */
      current: CompiledFlow | null;
    }
  | { outcome: 'deleted'; previous: CompiledFlow | null };

/** How flows are validated (see validateOptions(config)), or a replacement validator. */
export interface FlowTableOptions extends ValidateOptions {
  /** Replaces validateFlow (tests). */
  validate?: (doc: unknown) => ValidationResult;
  /** Signing on: flows with a webhook action must carry a valid signature (signature.ts). */
  signatures?: FlowSignaturePolicy;
}

const EMPTY: readonly CompiledFlow[] = Object.freeze([]);
const NO_SERIES: readonly MetricSeriesSpec[] = Object.freeze([]);

function hasWebhook(flow: CompiledFlow): boolean {
  for (const action of flow.actions.values()) if (action.kind === 'webhook') return true;
  return false;
}

/**
 * Flows by one trigger key, each bucket sorted by flow id. A bucket is sorted and frozen when
 * it is read after a change, not on every add: a start loading 10,000 flows on one metric
 * sorts once instead of 10,000 times.
 */
class Index {
  private readonly buckets = new Map<string, CompiledFlow[]>();
  private readonly sorted = new Map<string, readonly CompiledFlow[]>();

  get(key: string): readonly CompiledFlow[] {
    const ready = this.sorted.get(key);
    if (ready !== undefined) return ready;
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return EMPTY;
    const next = Object.freeze(
      [...bucket].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    );
    this.sorted.set(key, next);
    return next;
  }

  add(key: string, flow: CompiledFlow): void {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) this.buckets.set(key, [flow]);
    else bucket.push(flow);
    this.sorted.delete(key);
  }

  remove(key: string, flowId: string): void {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return;
    const at = bucket.findIndex((f) => f.id === flowId);
    if (at >= 0) bucket.splice(at, 1);
    if (bucket.length === 0) this.buckets.delete(key);
    this.sorted.delete(key);
  }
}

export class FlowTable {
  private readonly flows = new Map<string, CompiledFlow>();
  /** Loaded flows by status, kept as flows come and go (counts() runs after every record). */
  private readonly statusCounts = Object.fromEntries(FLOW_STATUSES.map((s) => [s, 0])) as Record<
    FlowStatus,
    number
  >;
  private readonly rejected = new Map<string, ValidationProblem[]>();
  private readonly byMetric = new Index();
  private readonly byList = new Index();
  private readonly bySegment = new Index();
  private readonly byDate = new Index();
  private readonly byItem = new Index();
  /** metric → series key → the spec and the ids of the flows reading it. */
  private readonly series = new Map<
    string,
    Map<string, { spec: MetricSeriesSpec; flows: Set<string> }>
  >();
  private readonly seriesLists = new Map<string, readonly MetricSeriesSpec[]>();
  private readonly validate: (doc: unknown) => ValidationResult;
  private readonly signatures: FlowSignaturePolicy | undefined;

  constructor(options: FlowTableOptions) {
    const { validate, signatures, ...validation } = options;
    this.signatures = signatures;
    this.validate = validate ?? ((doc) => validateFlow(doc, validation));
  }

  /** Applies one record of flowhook.flows: a document, or null (tombstone) to delete. */
  apply(key: string, doc: unknown): ApplyResult {
    const previous = this.flows.get(key) ?? null;
    if (doc === null || doc === undefined) {
      if (previous !== null) this.unindex(previous);
      this.forget(key);
      this.rejected.delete(key);
      return { outcome: 'deleted', previous };
    }
    const result = this.validate(doc);
    if (!result.ok) {
      this.rejected.set(key, result.problems);
      return {
        outcome: 'rejected',
        problems: result.problems,
        warnings: result.warnings,
        current: previous,
      };
    }
    if (result.flow.id !== key) {
      const problems = [
        { path: '$.id', message: `must equal the record key '${key}' (got '${result.flow.id}')` },
      ];
      this.rejected.set(key, problems);
      return { outcome: 'rejected', problems, warnings: result.warnings, current: previous };
    }
    if (this.signatures && hasWebhook(result.flow)) {
      const current = (previous?.document ?? null) as Record<string, unknown> | null;
      const problems = this.signatures.check(doc as Record<string, unknown>, current);
      if (problems.length > 0) {
        this.rejected.set(key, problems);
        return { outcome: 'rejected', problems, warnings: result.warnings, current: previous };
      }
    }
    if (previous !== null) this.unindex(previous);
    this.forget(key);
    this.flows.set(key, result.flow);
    this.statusCounts[result.flow.status]++;
    this.rejected.delete(key);
    this.index(result.flow);
    return { outcome: 'accepted', flow: result.flow, previous, warnings: result.warnings };
  }

  /** apply() for raw record bytes (null value = delete); bytes that are not JSON are rejected. */
  applyRecord(key: string, value: Buffer | null): ApplyResult {
    if (value === null || value.length === 0) return this.apply(key, null);
    let doc: unknown;
    try {
      doc = JSON.parse(value.toString('utf8')) as unknown;
    } catch (e) {
      const problems = [{ path: '$', message: `not valid JSON: ${(e as Error).message}` }];
      this.rejected.set(key, problems);
      return { outcome: 'rejected', problems, warnings: [], current: this.flows.get(key) ?? null };
    }
    return this.apply(key, doc);
  }

  /** The flows the event can trigger (live and manual, by trigger); filters are not applied. */
  candidates(event: FlowhookEvent): readonly CompiledFlow[] {
    const byMetric = this.byMetric.get(event.metric);
    const listId = listIdOf(event);
    const segmentId = segmentIdOf(event);
    const byList = listId === null ? EMPTY : this.byList.get(listId);
    const bySegment = segmentId === null ? EMPTY : this.bySegment.get(segmentId);
    if (byList.length === 0 && bySegment.length === 0) return byMetric;
    if (byMetric.length === 0 && bySegment.length === 0) return byList;
    if (byMetric.length === 0 && byList.length === 0) return bySegment;
    return [...byMetric, ...byList, ...bySegment];
  }

  /** Live and manual date-triggered flows (they take entries from timers, not from events). */
  dateFlows(): readonly CompiledFlow[] {
    return this.byDate.get('');
  }

  /**
   * Live and manual price-drop and low-inventory flows (they take entries from catalog changes,
   * not from events).
   */
  itemFlows(): readonly CompiledFlow[] {
    return this.byItem.get('');
  }

  /** The property-filtered metric histories loaded flows read, for events of `metric`. */
  seriesFor(metric: string): readonly MetricSeriesSpec[] {
    return this.seriesLists.get(metric) ?? NO_SERIES;
  }

  /** The current valid version of a flow. */
  get(id: string): CompiledFlow | undefined {
    return this.flows.get(id);
  }

  /** Every current valid flow. */
  all(): CompiledFlow[] {
    return [...this.flows.values()];
  }

  get size(): number {
    return this.flows.size;
  }

  /** Loaded flows by status, for flowhook_flows_loaded{status}. */
  counts(): Record<FlowStatus, number> {
    return { ...this.statusCounts };
  }

  /** Keys whose latest document was rejected, with its problems (a previous version may be live). */
  rejections(): ReadonlyMap<string, readonly ValidationProblem[]> {
    return this.rejected;
  }

  private forget(key: string): void {
    const flow = this.flows.get(key);
    if (flow === undefined) return;
    this.statusCounts[flow.status]--;
    this.flows.delete(key);
  }

  private index(flow: CompiledFlow): void {
    for (const spec of flow.metricSeries) {
      let byKey = this.series.get(spec.metric);
      if (!byKey) this.series.set(spec.metric, (byKey = new Map()));
      const entry = byKey.get(spec.key) ?? { spec, flows: new Set<string>() };
      entry.flows.add(flow.id);
      byKey.set(spec.key, entry);
      this.seriesLists.set(
        spec.metric,
        [...byKey.values()].map((e) => e.spec),
      );
    }
    if (flow.status !== 'live' && flow.status !== 'manual') return;
    const t = flow.trigger;
    if (t.type === 'metric') this.byMetric.add(t.metric, flow);
    else if (t.type === 'list') this.byList.add(t.listId, flow);
    else if (t.type === 'segment') this.bySegment.add(t.segmentId, flow);
    else if (t.type === 'item') this.byItem.add('', flow);
    else this.byDate.add('', flow);
  }

  private unindex(flow: CompiledFlow): void {
    for (const spec of flow.metricSeries) {
      const byKey = this.series.get(spec.metric);
      const entry = byKey?.get(spec.key);
      if (!byKey || !entry) continue;
      entry.flows.delete(flow.id);
      if (entry.flows.size === 0) byKey.delete(spec.key);
      if (byKey.size === 0) {
        this.series.delete(spec.metric);
        this.seriesLists.delete(spec.metric);
      } else
        this.seriesLists.set(
          spec.metric,
          [...byKey.values()].map((e) => e.spec),
        );
    }
    const t = flow.trigger;
    if (t.type === 'metric') this.byMetric.remove(t.metric, flow.id);
    else if (t.type === 'list') this.byList.remove(t.listId, flow.id);
    else if (t.type === 'segment') this.bySegment.remove(t.segmentId, flow.id);
    else if (t.type === 'item') this.byItem.remove('', flow.id);
    else this.byDate.remove('', flow.id);
  }
}
