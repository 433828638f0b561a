import type { Admin, KafkaMessage } from 'kafkajs';
import type { FlowhookEvent, JobOutcome } from '../documents';
import { EventDecodeError, FlowhookError } from '../errors';
import { eventDeadLetter } from '../dead-letter/events';
import { OversizedRecords } from '../dead-letter/oversized';
import { decodeEvent, type SchemaRegistryDecoder } from '../events/decode';
import { profileKey } from '../profile-key';
import { schemaRegistryDecoder } from '../events/registry';
import { FlowTable } from '../flows/flow-table';
import { flowsNamingMetric, MetricCatalogTopic } from '../flows/metric-catalog-topic';
import { flowSignaturePolicy } from '../flows/signature';
import type { CompiledFlow } from '../flows/types';
import { validateOptions } from '../flows/validate';
import { CompactedTopicReader } from '../kafka/compacted-reader';
import { StreamProcessor, type ProcessorContext, type ProcessorRecord } from '../kafka/processor';
import type { StoreSpec } from '../kafka/store';
import type { Timer } from '../kafka/timers';
import { roleGroupId, type Role, type RoleContext } from '../service/role';
import type { OrganizationInfo } from '../template';
import { walkActivityMessages } from './activity';
import { applyEvent, applyUpdate } from '../profiles/apply';
import {
  decodeProfileRecord,
  DEFAULT_HISTORY_LIMITS,
  emptyProfileRecord,
  encodeProfileRecord,
  type HistoryLimits,
  type ProfileRecord,
} from '../profiles/record';
import { decodeProfileUpdate, type ProfileUpdate } from '../profiles/update';
import {
  decideEntries,
  decodeState,
  emptyState,
  encodeState,
  entryTime,
  type EntryContext,
  type ProfileState,
} from './entry';
import { DateEntries } from './date-entries';
import { ItemEntries } from './item-entries';
import { walkFlow, type DelayResume, type WalkResult } from './walk';

/** Value of a flowhook.resume record / payload of a delay timer: the walk to continue. */
export interface ResumeRecord {
  resume: DelayResume;
  event: FlowhookEvent;
}

/** Entry refusals that are not worth a skip count: the event was simply not for that flow. */
const UNCOUNTED_REASONS = new Set(['trigger', 'flow_status']);

/** The profile store: the profile as it is now, lists, segments, consent, metric history. */
export function profileStore(changelogTopic: string): StoreSpec<ProfileRecord> {
  return {
    name: 'profiles',
    changelogTopic,
    codec: {
      encode: encodeProfileRecord,
      decode: (bytes) => decodeProfileRecord(bytes) ?? emptyProfileRecord(),
    },
  };
}

/** The trigger's first state store: per-profile entry state (dedup, re-entry, entries). */
export function entryStateStore(changelogTopic: string): StoreSpec<ProfileState> {
  return {
    name: 'entry-state',
    changelogTopic,
    codec: { encode: encodeState, decode: (bytes) => decodeState(bytes) ?? emptyState() },
  };
}

/**
 * The trigger role: flow table from flowhook.flows (read to its end before any event), then
 * events → entry decisions → walks → jobs, exactly once, on the stream-processing kernel.
 *
 * Task p (partition p of every event topic, profile topic and of flowhook.resume) owns
 * partition p of three stores: the per-profile entry state (changelog flowhook.state), the
 * profile store (changelog flowhook.profile-store; off with FLOWHOOK_PROFILE_STORE=false), both
 * keyed by the profile key, and the durable timers of flow time delays (flowhook.timers).
 * Jobs, event-DLQ records, store changes, timers and consumed offsets commit in one transaction
 * per task and commit interval. With the catalog on, task p also reads partition p of the
 * catalog topics and of flowhook.item-audience / flowhook.item-entries and owns the catalog and
 * item-audience stores (src/trigger/item-entries.ts says how those are co-partitioned).
 *
 * Co-partitioning contract: events and profile updates are keyed by the profile key
 * (src/profile-key.ts), so all of one profile's records reach one partition and its state lives
 * in that partition's stores. A record of a multi-partition topic keyed otherwise may sit on a
 * partition that does not own its profile: it is dead-lettered (reason `wrong_key`), never
 * processed against the wrong state.
 */
export class TriggerRole implements Role {
  readonly name = 'trigger' as const;
  readonly table: FlowTable;
  readonly processor: StreamProcessor;
  private readonly flowsReader: CompactedTopicReader;
  private readonly metricCatalog: MetricCatalogTopic;
  private readonly registry: SchemaRegistryDecoder | undefined;
  private readonly organization: OrganizationInfo;
  private readonly state: StoreSpec<ProfileState>;
  private readonly profiles: StoreSpec<ProfileRecord> | undefined;
  private readonly profileTopics: ReadonlySet<string>;
  private readonly historyLimits: HistoryLimits;
  /** Date-triggered flows (on the profile store; undefined when it is off). */
  private readonly dates: DateEntries | undefined;
  /** Price-drop and low-inventory flows: catalog, item audience, fan-outs (FLOWHOOK_CATALOG). */
  private readonly items: ItemEntries | undefined;
  /** Partition counts of input topics, for the record-key check. */
  private readonly partitionCounts = new Map<string, number>();
  /** Keeps records too large for their topic out of the task's transaction. */
  private readonly oversized: OversizedRecords;
  private flowsLoaded = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly ctx: RoleContext) {
    const { config, kafka, topics, logger } = ctx;
    const groupId = roleGroupId(config.topicPrefix, 'trigger');
    this.metricCatalog = new MetricCatalogTopic(
      kafka,
      {
        topic: topics.metrics,
        groupPrefix: `${groupId}-metrics`,
        configured: config.trigger.metricCatalog,
      },
      logger,
    );
    this.table = new FlowTable({
      ...validateOptions(config),
      metricCatalog: this.metricCatalog.catalog,
      renderSample: false,
      signatures: flowSignaturePolicy(config.flowSigning, ctx.metrics.flowSignatureRefused),
    });
    this.flowsReader = new CompactedTopicReader(
      kafka,
      { topic: topics.flows, groupPrefix: `${groupId}-flows` },
      logger,
    );
    this.state = entryStateStore(topics.state);
    this.profiles = config.profiles.enabled ? profileStore(topics.profileStore) : undefined;
    this.profileTopics = new Set(config.profiles.enabled ? config.profiles.topics : []);
    this.historyLimits = {
      ...DEFAULT_HISTORY_LIMITS,
      retentionMs: config.profiles.historyRetentionMs,
    };
    this.dates = this.profiles
      ? new DateEntries(
          this.profiles,
          () => this.table.dateFlows(),
          (id) => this.table.get(id),
          (flowId, reason) => ctx.metrics.flowSkips.inc({ flow_id: flowId, reason }),
        )
      : undefined;
    this.oversized = new OversizedRecords(ctx);
    this.items = config.catalog.enabled
      ? new ItemEntries({
          topics,
          catalogTopics: config.catalog.topics,
          retentionMs: config.catalog.audienceRetentionMs,
          registry: () => this.registry,
          profiles: this.profiles,
          itemFlows: () => this.table.itemFlows(),
          flow: (id) => this.table.get(id),
          metrics: ctx.metrics,
          deadLetter: (context, record, reason, error) =>
            this.deadLetter(context, record, reason, error),
          partitionCount: (topic) => this.partitionCount(topic),
          enter: (event, key, entry, context, record, flow) =>
            this.enterFlows(event, key, entry, context, record, [flow]),
        })
      : undefined;
    const eventTopics = config.eventTopics;
    const stores = [
      this.state,
      ...(this.profiles ? [this.profiles] : []),
      ...(this.items ? [this.items.catalog, this.items.audience] : []),
    ] as StoreSpec<unknown>[];
    this.processor = new StreamProcessor(
      {
        groupId,
        // flowhook.resume is read whatever the event topics are (names or a pattern).
        topics: [
          ...(Array.isArray(eventTopics) ? eventTopics : [eventTopics]),
          ...this.profileTopics,
          topics.resume,
          topics.outcomes,
          ...(this.items?.topics() ?? []),
        ],
        stores,
        timersChangelogTopic: topics.timers,
        stateDir: `${config.stateDir}/${config.instanceId}`,
        commitIntervalMs: config.commitIntervalMs,
        sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      },
      { kafka, logger, metrics: ctx.metrics },
    );
    this.registry = config.trigger.schemaRegistryUrl
      ? schemaRegistryDecoder(config.trigger.schemaRegistryUrl)
      : undefined;
    this.organization = {
      name: config.trigger.organization.name,
      url: config.trigger.organization.url,
    };
  }

  async start(): Promise<void> {
    // Flows are applied once the metric catalog is read; a metric id whose name changes later:
    // the flows naming it are validated again with the name.
    const applyFlow = this.metricCatalog.afterLoad((key: string | null, value: Buffer | null) =>
      this.applyFlow(key, value),
    );
    const flowsLoaded = Promise.all([
      this.metricCatalog.start((id) => {
        for (const flow of flowsNamingMetric(this.table.all(), id))
          this.applyFlow(flow.id, Buffer.from(JSON.stringify(flow.document)));
      }),
      this.flowsReader.start((record) => applyFlow(record.key, record.value)),
    ]).then(() => {
      this.flowsLoaded = true;
      this.ctx.logger.info({ flows: this.table.counts() }, 'flow table loaded');
    });
    // The member joins and restores while the flows load; its tasks process once they are in.
    const processing = (async () => {
      await this.checkCoPartitioning();
      await this.oversized.load();
      await this.processor.start(
        {
          process: (record, context) => this.process(record, context),
          onTimer: (timer, context) => this.onTimer(timer, context),
          onWake: (context) => this.dates?.wake(context),
        },
        flowsLoaded,
      );
    })();
    await Promise.all([flowsLoaded, processing]);
  }

  isReady(): boolean {
    return this.flowsLoaded && this.processor.isReady();
  }

  readiness(): Record<string, unknown> {
    return {
      flows_loaded: this.flowsLoaded,
      restoring_partitions: this.processor.restoringPartitions(),
    };
  }

  failure(): Error | undefined {
    return this.processor.failure();
  }

  private applyFlow(key: string | null, value: Buffer | null): void {
    if (key === null) return;
    const result = this.table.applyRecord(key, value);
    const { metrics, logger } = this.ctx;
    if (result.outcome === 'rejected') {
      metrics.flowsRejected.inc();
      logger.warn(
        {
          flow_id: key,
          problems: result.problems,
          still_in_force: result.current?.version ?? null,
        },
        'flow rejected; the previous valid version (if any) stays in force',
      );
    } else if (result.outcome === 'accepted') {
      logger.info(
        {
          flow_id: key,
          version: result.flow.version,
          status: result.flow.status,
          ...(result.warnings.length > 0 && { warnings: result.warnings }),
        },
        'flow loaded',
      );
      // A date flow takes the profiles already in the store: every task sweeps its share.
      if (result.flow.trigger.type === 'date') this.processor.wakeAll();
    } else {
      logger.info({ flow_id: key }, 'flow deleted');
    }
    for (const [status, n] of Object.entries(this.table.counts()))
      metrics.flowsLoaded.set({ status }, n);
  }

  /** Store partition p must exist for every event partition p (see the class comment). */
  private async checkCoPartitioning(): Promise<void> {
    const { kafka, topics, config } = this.ctx;
    const admin: Admin = kafka.admin();
    await admin.connect();
    try {
      const listed = await admin.listTopics();
      const eventTopics = Array.isArray(config.eventTopics)
        ? config.eventTopics.filter((t) => listed.includes(t))
        : listed.filter((t) => (config.eventTopics as RegExp).test(t));
      const inputs = [
        ...eventTopics,
        ...[...this.profileTopics].filter((t) => listed.includes(t)),
        ...[topics.outcomes].filter((t) => listed.includes(t)),
        ...(this.items?.topics() ?? []).filter((t) => listed.includes(t)),
      ];
      const changelogs = [
        topics.state,
        topics.timers,
        ...(this.profiles ? [topics.profileStore] : []),
        ...(this.items ? [topics.catalogStore, topics.itemAudienceStore] : []),
      ];
      const meta = await admin.fetchTopicMetadata({ topics: [...changelogs, ...inputs] });
      const count = (t: string) => meta.topics.find((m) => m.name === t)?.partitions.length ?? 0;
      for (const t of inputs) this.partitionCounts.set(t, count(t));
      const statePartitions = Math.min(...changelogs.map(count));
      const tooWide = inputs.filter((t) => count(t) > statePartitions);
      if (tooWide.length > 0) {
        throw new Error(
          `input topics ${tooWide.join(', ')} have more partitions than ${changelogs.join(', ')} (${statePartitions}); ` +
            'give the changelog topics at least as many partitions as the widest input topic',
        );
      }
      if (this.items) this.items.checkPartitions(count, inputs);
      const readBack = [topics.outcomes, ...(this.items ? [topics.itemEntries] : [])];
      for (const m of readBackMismatches(count, eventTopics, readBack)) {
        // Not refused: a dev setup's 1-partition event topic beside 6-partition flowhook topics
        // works until a flow waits for a webhook's outcome or a price drop fans out.
        this.ctx.logger.warn(
          m,
          `${m.topic} has ${m.partitions} partitions and the event topics ${m.events} have others: ` +
            'its records are keyed by profile and read back by the task that holds the profile, so ' +
            "steps waiting for a webhook's outcome wait until their deadline and item entries reach a task " +
            'without the profile; give it as many partitions as the event topics',
        );
      }
    } finally {
      await admin.disconnect();
    }
  }

  private async process(record: ProcessorRecord, context: ProcessorContext): Promise<void> {
    const started = process.hrtime.bigint();
    const bounded = this.oversized.bound(context, () => record);
    if (record.topic === this.ctx.topics.resume) this.resumeFromTopic(record, bounded);
    else if (record.topic === this.ctx.topics.outcomes) this.resumeAfterWebhook(record, bounded);
    else if (this.profileTopics.has(record.topic)) await this.processProfileUpdate(record, bounded);
    else if (this.items?.handles(record.topic)) await this.items.process(record, bounded);
    else await this.processEvent(record, bounded);
    this.ctx.metrics.eventDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }

  private async processEvent(record: ProcessorRecord, context: ProcessorContext): Promise<void> {
    const { metrics } = this.ctx;
    metrics.eventsConsumed.inc();
    let event: FlowhookEvent;
    try {
      event = (
        await decodeEvent(record.value, {
          registry: this.registry,
          receivedAt: new Date(record.timestamp),
        })
      ).event;
    } catch (err) {
      // Retriable (registry unreachable): thrown on; the task goes back to its last commit
      // and processes the record again after a backoff.
      if (err instanceof FlowhookError && err.retriable) throw err;
      const reason = err instanceof EventDecodeError ? err.reason : 'undecodable';
      this.deadLetter(context, record, reason, (err as Error).message);
      return;
    }
    // Decoding refuses events without a profile identifier, so the key is always there.
    const key = profileKey(event.profile) ?? '';
    if (!(await this.ownsProfile(record, key, context))) return;
    this.items?.recordAudience(context, event, key);
    let entry: EntryContext = {};
    if (this.profiles) {
      const profiles = context.store(this.profiles);
      const before = profiles.get(key) ?? null;
      const applied = applyEvent(
        before,
        event,
        this.table.seriesFor(event.metric),
        this.historyLimits,
        context.now(),
      );
      profiles.put(key, applied.record);
      this.dates?.reschedule(context, key, before, applied.record);
      entry = {
        profile: applied.record.profile,
        stored: applied.record,
        newMembership: applied.newMembership,
      };
    }
    this.enterFlows(event, key, entry, context, record);
  }

  /**
   * A profile update: fields, consent and membership change in the profile store; list and
   * segment flows fire for each list or segment the profile newly joined (as an "Added to
   * List" / "Added to Segment" event with an id derived from the update's).
   */
  private async processProfileUpdate(
    record: ProcessorRecord,
    context: ProcessorContext,
  ): Promise<void> {
    const profiles = this.profiles as StoreSpec<ProfileRecord>;
    let update: ProfileUpdate;
    try {
      update = await decodeProfileUpdate(
        record.value,
        {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          timestampMs: Number(record.timestamp),
        },
        { registry: this.registry },
      );
    } catch (err) {
      if (err instanceof FlowhookError && err.retriable) throw err;
      const reason = err instanceof EventDecodeError ? err.reason : 'undecodable';
      this.deadLetter(context, record, `profile_${reason}`, (err as Error).message);
      return;
    }
    const key = profileKey(update.profile) ?? '';
    if (!(await this.ownsProfile(record, key, context))) return;
    const store = context.store(profiles);
    const before = store.get(key) ?? null;
    const applied = applyUpdate(before, update);
    store.put(key, applied.record);
    this.dates?.reschedule(context, key, before, applied.record);
    this.ctx.metrics.profileUpdates.inc();
    for (const joined of applied.joined) {
      const lists = joined.kind === 'lists';
      const event: FlowhookEvent = {
        id: `${update.id}:${joined.kind}:${joined.id}`,
        metric: lists ? 'Added to List' : 'Added to Segment',
        time: new Date(update.timeMs).toISOString(),
        profile: applied.record.profile,
        properties: { [lists ? 'list_id' : 'segment_id']: joined.id },
      };
      this.enterFlows(
        event,
        key,
        { profile: applied.record.profile, stored: applied.record, newMembership: true },
        context,
        record,
      );
    }
  }

  /**
   * Whether this partition owns the record's profile: a record of a topic with several
   * partitions must be keyed by the profile key (else the producer's partitioner may have put it
   * on a partition whose stores do not hold that profile). Dead-letters it otherwise.
   */
  private async ownsProfile(
    record: ProcessorRecord,
    key: string,
    context: ProcessorContext,
  ): Promise<boolean> {
    const recordKey = record.message.key?.toString('utf8') ?? null;
    if (recordKey === key || (await this.partitionCount(record.topic)) <= 1) return true;
    this.deadLetter(
      context,
      record,
      'wrong_key',
      `record key ${recordKey === null ? 'null' : `'${recordKey}'`} is not the profile key '${key}': ` +
        `${record.topic} has several partitions, so records must be keyed by the profile key (see src/profile-key.ts)`,
    );
    return false;
  }

  private async partitionCount(topic: string): Promise<number> {
    const known = this.partitionCounts.get(topic);
    if (known !== undefined) return known;
    const admin = this.ctx.kafka.admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      const n = meta.topics[0]?.partitions.length ?? 1;
      this.partitionCounts.set(topic, n);
      return n;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Entry decisions and walks of the flows this event can trigger. */
  private enterFlows(
    event: FlowhookEvent,
    key: string,
    entry: EntryContext,
    context: ProcessorContext,
    record: ProcessorRecord | undefined,
    candidates: readonly CompiledFlow[] = this.table.candidates(event),
  ): void {
    const { metrics } = this.ctx;
    if (candidates.length === 0) return;
    const now = new Date(context.now());
    const store = context.store(this.state);
    const entries = decideEntries(store.get(key) ?? null, candidates, event, now, entry);
    for (const { flow, decision } of entries.decisions) {
      if (!decision.enter && decision.reason && !UNCOUNTED_REASONS.has(decision.reason)) {
        metrics.flowSkips.inc({ flow_id: flow.id, reason: decision.reason });
      }
    }
    for (const { flow, decision } of entries.decisions) {
      if (!decision.enter) continue;
      metrics.flowEntries.inc({ flow_id: flow.id });
      const walk = walkFlow({
        flow,
        event,
        organization: this.organization,
        now,
        previousEntryAt: decision.previousEntryAt,
        profile: entry.profile,
        stored: this.profiles ? (entry.stored ?? null) : undefined,
        flowStartAt: entryTime(event, now),
      });
      this.emitWalk(flow, walk, event, context, record);
    }
    if (entries.changed) store.put(key, entries.state);
  }

  /** A delay timer fired (continue the walk after the delay), or a date flow's timer. */
  private onTimer(timer: Timer, context: ProcessorContext): void {
    if (this.items?.onTimer(timer, context)) return;
    // The DLQ source of a record too large to emit: the event the timer's walk is about.
    let event = (timer.payload as Partial<ResumeRecord> | undefined)?.event;
    const bounded = this.oversized.bound(context, () =>
      syntheticSource(this.ctx.topics.timers, context.partition, event as FlowhookEvent),
    );
    const date = this.dates?.onTimer(timer, bounded) ?? false;
    if (date === false) {
      this.resume(timer.payload as ResumeRecord, bounded, undefined);
      return;
    }
    if (date === null) return;
    event = date.event;
    const stored = context.store(this.profiles as StoreSpec<ProfileRecord>).get(timer.key);
    this.enterFlows(
      date.event,
      timer.key,
      { profile: stored?.profile, stored: stored ?? null },
      bounded,
      undefined,
      [date.flow],
    );
  }

  /**
   * A webhook the walk waited for was delivered or given up: the walk continues now (and only
   * once: the waiting timer is the state, a repeated or late outcome finds none).
   */
  private resumeAfterWebhook(record: ProcessorRecord, context: ProcessorContext): void {
    let outcome: JobOutcome;
    try {
      outcome = JSON.parse(record.value?.toString('utf8') ?? '') as JobOutcome;
    } catch (err) {
      this.deadLetter(context, record, 'unreadable_outcome', (err as Error).message);
      return;
    }
    const id = delayTimerId(outcome);
    const waiting = context.timers.get(id);
    if (!waiting) return;
    context.timers.cancel(id);
    this.resume(waiting.payload as ResumeRecord, context, undefined);
  }

  /** A resume record from flowhook.resume (written by the delay role of earlier versions). */
  private resumeFromTopic(record: ProcessorRecord, context: ProcessorContext): void {
    let resume: ResumeRecord;
    try {
      resume = JSON.parse(record.value?.toString('utf8') ?? '') as ResumeRecord;
    } catch (err) {
      this.deadLetter(context, record, 'unreadable_resume', (err as Error).message);
      return;
    }
    this.resume(resume, context, record);
  }

  private resume(
    record: ResumeRecord,
    context: ProcessorContext,
    source: ProcessorRecord | undefined,
  ): void {
    const flow = this.table.get(record.resume.flow_id);
    if (!flow) {
      this.ctx.metrics.flowSkips.inc({ flow_id: record.resume.flow_id, reason: 'flow_gone' });
      return;
    }
    // The profile as it is now: filters, splits and the body read the store, not the snapshot.
    const stored = this.profiles
      ? (context.store(this.profiles).get(record.resume.profile_id) ?? null)
      : undefined;
    // Klaviyo checks a date flow's date before each step: a changed date ends the walk.
    if (this.dates && !this.dates.dateUnchanged(flow, record.event, stored ?? null)) {
      this.ctx.metrics.flowSkips.inc({ flow_id: flow.id, reason: 'date_changed' });
      return;
    }
    const startedAt = record.resume.flow_start_at ?? record.event.time;
    const walk = walkFlow({
      flow,
      event: record.event,
      organization: this.organization,
      now: new Date(context.now()),
      startAt: record.resume.resume_action_id,
      previousEntryAt: record.resume.previous_entry_at
        ? new Date(record.resume.previous_entry_at)
        : null,
      profile: stored?.profile,
      stored,
      flowStartAt: new Date(startedAt),
    });
    this.emitWalk(flow, walk, record.event, context, source);
  }

  private emitWalk(
    flow: CompiledFlow,
    walk: WalkResult,
    event: FlowhookEvent,
    context: ProcessorContext,
    source: ProcessorRecord | undefined,
  ): void {
    const { metrics, topics } = this.ctx;
    // renderJob set event_time from this walk's event.
    for (const job of walk.jobs) {
      context.emit(topics.jobs, { key: job.profile_id, value: JSON.stringify(job) });
    }
    if (walk.jobs.length > 0) metrics.jobsEmitted.inc({ flow_id: flow.id }, walk.jobs.length);
    const recorded = walkActivityMessages(flow, walk, event, new Date(context.now()));
    for (const m of recorded.activity) context.emit(topics.activity, m);
    for (const m of recorded.review) context.emit(topics.review, m);
    for (const step of walk.steps) {
      if (step.kind === 'held') metrics.flowHeld.inc({ flow_id: flow.id });
      else if (step.kind === 'skipped')
        metrics.flowSkips.inc({ flow_id: flow.id, reason: step.reason ?? 'skipped' });
      else if (step.kind === 'render_error') {
        metrics.eventsInvalid.inc({ reason: 'render_error' });
        this.ctx.logger.warn(
          { flow_id: flow.id, action_id: step.actionId, event_id: event.id, error: step.detail },
          'webhook body did not render; event dead-lettered for this action',
        );
        context.emit(
          topics.eventsDlq,
          eventDeadLetter({
            source: source
              ? { topic: source.topic, partition: source.partition, message: source.message }
              : syntheticSource(topics.timers, context.partition, event),
            reason: 'render_error',
            error: step.detail ?? step.reason ?? 'render error',
            flowId: flow.id,
            actionId: step.actionId,
          }),
        );
      }
    }
    if (walk.delay) {
      const { delay } = walk;
      if (delay.awaits === undefined) metrics.flowDelays.inc({ flow_id: flow.id });
      const payload: ResumeRecord = { resume: delay, event };
      context.timers.schedule({
        id: delayTimerId({
          profile_id: delay.profile_id,
          flow_id: delay.flow_id,
          action_id: delay.delay_action_id,
          event_id: delay.event_id,
        }),
        due: Date.parse(delay.resume_at),
        key: delay.profile_id,
        payload,
      });
    }
  }

  private deadLetter(
    context: ProcessorContext,
    record: ProcessorRecord,
    reason: string,
    error: string,
  ): void {
    this.ctx.metrics.eventsInvalid.inc({ reason });
    this.ctx.logger.warn(
      { topic: record.topic, partition: record.partition, offset: record.offset, reason, error },
      'invalid event sent to the events DLQ',
    );
    context.emit(
      this.ctx.topics.eventsDlq,
      eventDeadLetter({
        source: { topic: record.topic, partition: record.partition, message: record.message },
        reason,
        error,
      }),
    );
  }

  stop(): Promise<void> {
    this.closing ??= (async () => {
      await this.processor.stop();
      await this.flowsReader.stop();
      await this.metricCatalog.stop();
    })();
    return this.closing;
  }
}

/**
 * Topics the trigger writes keyed by profile and reads back at the profile's task (webhook
 * outcomes from delivery, price-drop entries): their partition p must be event partition p,
 * which holds only when the partition counts are equal. The ones that differ.
 */
export function readBackMismatches(
  count: (topic: string) => number,
  eventTopics: readonly string[],
  readBack: readonly string[],
): { topic: string; partitions: number; events: string }[] {
  const mismatches = [];
  for (const topic of readBack) {
    const partitions = count(topic);
    if (partitions === 0) continue;
    const other = eventTopics.filter((t) => count(t) !== partitions);
    if (other.length > 0)
      mismatches.push({
        topic,
        partitions,
        events: other.map((t) => `${t} (${count(t)})`).join(', '),
      });
  }
  return mismatches;
}

function delayTimerId(at: {
  profile_id: string;
  flow_id: string;
  action_id: string;
  event_id: string;
}): string {
  return `${at.profile_id}|${at.flow_id}|${at.action_id}|${at.event_id}`;
}

/**
 * The DLQ source of a walk resumed by a delay timer: the triggering event in canonical JSON
 * (replayable as it is), from the timers topic, with no offset of its own.
 */
function syntheticSource(topic: string, partition: number, event: FlowhookEvent) {
  const message: KafkaMessage = {
    key: Buffer.from(profileKey(event.profile) ?? ''),
    value: Buffer.from(JSON.stringify(event)),
    headers: {},
    offset: '-1',
    timestamp: String(Date.now()),
    attributes: 0,
  };
  return { topic, partition, message };
}
