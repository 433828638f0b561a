import type { Admin, KafkaMessage } from 'kafkajs';
import { delayedMessage } from '../delay/message';
import { roleGroupId } from '../delay/role';
import type { FlowhookEvent } from '../documents';
import { EventDecodeError, FlowhookError } from '../errors';
import { eventDeadLetter } from '../events/dead-letter';
import { decodeEvent, type SchemaRegistryDecoder } from '../events/decode';
import { profileKey } from '../events/profile-key';
import { schemaRegistryDecoder } from '../events/registry';
import { FlowTable } from '../flows/flow-table';
import { flowSignaturePolicy } from '../flows/signature';
import type { CompiledFlow } from '../flows/types';
import {
  BatchConsumer,
  type BatchInput,
  type BatchResult,
  type Outbox,
} from '../kafka/batch-consumer';
import { CompactedTopicReader } from '../kafka/compacted-reader';
import type { Role, RoleContext } from '../service/role';
import type { OrganizationInfo } from '../template';
import { decideEntries, decodeState, encodeState, type ProfileState } from './entry';
import { walkFlow, type DelayResume, type WalkResult } from './walk';

/** Value of a flowhook.resume record: the walk to continue once a time delay has elapsed. */
export interface ResumeRecord {
  resume: DelayResume;
  event: FlowhookEvent;
}

/** Entry refusals that are not worth a skip count: the event was simply not for that flow. */
const UNCOUNTED_REASONS = new Set(['trigger', 'flow_status']);

/**
 * The trigger role: flow table from flowhook.flows (read to its end before any event), then
 * events → entry decisions → walks → jobs, exactly once. Jobs, event-DLQ records, state
 * updates, delay hand-offs and consumed offsets commit in one Kafka transaction per batch.
 *
 * Per-profile state (dedup, re-entry) lives in the compacted flowhook.state topic, written to
 * the same partition number as the event it follows from, so the member that owns event
 * partition p owns state partition p and restores exactly that when p is assigned.
 */
export class TriggerRole implements Role {
  readonly name = 'trigger' as const;
  readonly table: FlowTable;
  private readonly flowsReader: CompactedTopicReader;
  private readonly events: BatchConsumer;
  private readonly registry: SchemaRegistryDecoder | undefined;
  private readonly organization: OrganizationInfo;
  private readonly states = new Map<number, Map<string, ProfileState>>();
  private restoring: Promise<void> | undefined;
  private flowsLoaded = false;
  private failed: Error | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly ctx: RoleContext) {
    const { config, kafka, topics, logger } = ctx;
    this.table = new FlowTable({
      allowHttp: config.delivery.allowHttp,
      signatures: flowSignaturePolicy(config.flowSigning, ctx.metrics.flowSignatureRefused),
    });
    const groupId = roleGroupId(config.topicPrefix, 'trigger');
    this.flowsReader = new CompactedTopicReader(
      kafka,
      { topic: topics.flows, groupPrefix: `${groupId}-flows` },
      logger,
    );
    const eventTopics = config.eventTopics;
    this.events = new BatchConsumer(
      {
        groupId,
        topics: Array.isArray(eventTopics) ? [...eventTopics, topics.resume] : eventTopics,
        mode: 'exactly-once',
        transactionalId: `${groupId}-${config.instanceId}`,
        sessionTimeoutMs: config.kafka.sessionTimeoutMs,
        onAssignment: (assignment) => this.onAssignment(assignment),
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
    await this.flowsReader.start((record) => this.applyFlow(record.key, record.value));
    this.flowsLoaded = true;
    this.ctx.logger.info({ flows: this.table.counts() }, 'flow table loaded');
    await this.checkCoPartitioning();
    await this.events.start((batch, outbox) => this.processBatch(batch, outbox));
  }

  isReady(): boolean {
    return this.flowsLoaded && this.events.isReady();
  }

  failure(): Error | undefined {
    return this.failed ?? this.events.crashError;
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
        { flow_id: key, version: result.flow.version, status: result.flow.status },
        'flow loaded',
      );
    } else {
      logger.info({ flow_id: key }, 'flow deleted');
    }
    for (const [status, n] of Object.entries(this.table.counts()))
      metrics.flowsLoaded.set({ status }, n);
  }

  /** State partition p must exist for every event partition p (see the class comment). */
  private async checkCoPartitioning(): Promise<void> {
    const { kafka, topics, config } = this.ctx;
    const admin: Admin = kafka.admin();
    await admin.connect();
    try {
      const listed = await admin.listTopics();
      const eventTopics = Array.isArray(config.eventTopics)
        ? config.eventTopics.filter((t) => listed.includes(t))
        : listed.filter((t) => (config.eventTopics as RegExp).test(t));
      const meta = await admin.fetchTopicMetadata({ topics: [topics.state, ...eventTopics] });
      const count = (t: string) => meta.topics.find((m) => m.name === t)?.partitions.length ?? 0;
      const statePartitions = count(topics.state);
      const tooWide = eventTopics.filter((t) => count(t) > statePartitions);
      if (tooWide.length > 0) {
        throw new Error(
          `event topics ${tooWide.join(', ')} have more partitions than ${topics.state} (${statePartitions}); ` +
            'give the state topic at least as many partitions as the widest event topic',
        );
      }
    } finally {
      await admin.disconnect();
    }
  }

  private onAssignment(assignment: ReadonlyMap<string, number[]>): void {
    const owned = new Set<number>();
    for (const partitions of assignment.values()) for (const p of partitions) owned.add(p);
    // Partitions given away lose their state here: another member now writes it, and if the
    // partition comes back it is restored afresh from the topic.
    for (const p of [...this.states.keys()]) if (!owned.has(p)) this.states.delete(p);
  }

  /** Restores the state of every assigned partition not restored yet, in one read. */
  private async ensureState(partition: number): Promise<Map<string, ProfileState>> {
    while (!this.states.has(partition)) {
      if (!this.restoring) {
        const wanted = new Set<number>([partition]);
        for (const parts of this.events.assignment().values()) for (const p of parts) wanted.add(p);
        for (const p of this.states.keys()) wanted.delete(p);
        this.restoring = this.restore([...wanted]).finally(() => (this.restoring = undefined));
      }
      await this.restoring;
    }
    return this.states.get(partition)!;
  }

  private async restore(partitions: number[]): Promise<void> {
    const started = Date.now();
    const maps = new Map(partitions.map((p) => [p, new Map<string, ProfileState>()]));
    const reader = new CompactedTopicReader(
      this.ctx.kafka,
      { topic: this.ctx.topics.state, groupPrefix: 'flowhook-state-restore', partitions },
      this.ctx.logger,
    );
    try {
      await reader.start((record) => {
        const map = maps.get(record.partition);
        if (!map || record.key === null) return;
        const state = decodeState(record.value);
        if (state) map.set(record.key, state);
        else map.delete(record.key);
      });
    } finally {
      await reader.stop();
    }
    for (const [p, map] of maps) this.states.set(p, map);
    this.ctx.logger.info(
      {
        partitions,
        profiles: [...maps.values()].reduce((n, m) => n + m.size, 0),
        ms: Date.now() - started,
      },
      'state restored',
    );
  }

  private async processBatch(batch: BatchInput, outbox: Outbox): Promise<BatchResult> {
    const state = await this.ensureState(batch.partition);
    // Changes are staged per batch and applied only once its transaction commits, so an
    // aborted batch leaves the in-memory state exactly as the topic has it.
    const staged = new Map<string, ProfileState>();
    let processed = 0;
    for (const message of batch.messages) {
      if (!batch.isRunning()) break;
      const started = process.hrtime.bigint();
      if (batch.topic === this.ctx.topics.resume) this.resumeWalk(batch, message, outbox);
      else await this.processEvent(batch, message, state, staged, outbox);
      this.ctx.metrics.eventDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      processed += 1;
    }
    return {
      processed,
      onCommit: () => {
        for (const [key, s] of staged) state.set(key, s);
      },
    };
  }

  private async processEvent(
    batch: BatchInput,
    message: KafkaMessage,
    committed: Map<string, ProfileState>,
    staged: Map<string, ProfileState>,
    outbox: Outbox,
  ): Promise<void> {
    const { metrics, topics } = this.ctx;
    metrics.eventsConsumed.inc();
    let event: FlowhookEvent;
    try {
      event = (
        await decodeEvent(message.value, {
          registry: this.registry,
          receivedAt: new Date(Number(message.timestamp)),
        })
      ).event;
    } catch (err) {
      // Retriable (registry unreachable): thrown on, the transaction aborts, the batch is retried.
      if (err instanceof FlowhookError && err.retriable) throw err;
      const reason = err instanceof EventDecodeError ? err.reason : 'undecodable';
      this.deadLetter(outbox, batch, message, reason, (err as Error).message);
      return;
    }
    const candidates = this.table.candidates(event);
    if (candidates.length === 0) return;

    const now = new Date();
    // Decoding refuses events without a profile identifier, so the key is always there.
    const key = profileKey(event.profile) ?? '';
    const before = staged.get(key) ?? committed.get(key) ?? null;
    const entries = decideEntries(before, candidates, event, now);
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
      });
      this.emitWalk(flow, walk, event, outbox, { batch, message });
    }
    if (entries.changed) {
      staged.set(key, entries.state);
      outbox.send(topics.state, {
        key,
        value: encodeState(entries.state),
        partition: batch.partition,
      });
    }
  }

  private resumeWalk(batch: BatchInput, message: KafkaMessage, outbox: Outbox): void {
    let record: ResumeRecord;
    try {
      record = JSON.parse(message.value?.toString('utf8') ?? '') as ResumeRecord;
    } catch (err) {
      this.deadLetter(outbox, batch, message, 'unreadable_resume', (err as Error).message);
      return;
    }
    const flow = this.table.get(record.resume.flow_id);
    if (!flow) {
      this.ctx.metrics.flowSkips.inc({ flow_id: record.resume.flow_id, reason: 'flow_gone' });
      return;
    }
    const walk = walkFlow({
      flow,
      event: record.event,
      organization: this.organization,
      now: new Date(),
      startAt: record.resume.resume_action_id,
      previousEntryAt: record.resume.previous_entry_at
        ? new Date(record.resume.previous_entry_at)
        : null,
    });
    this.emitWalk(flow, walk, record.event, outbox, { batch, message });
  }

  private emitWalk(
    flow: CompiledFlow,
    walk: WalkResult,
    event: FlowhookEvent,
    outbox: Outbox,
    source: { batch: BatchInput; message: KafkaMessage },
  ): void {
    const { metrics, topics } = this.ctx;
    for (const job of walk.jobs) {
      outbox.send(topics.jobs, {
        key: job.profile_id,
        value: JSON.stringify({ ...job, event_time: event.time }),
      });
      metrics.jobsEmitted.inc({ flow_id: flow.id });
    }
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
        outbox.send(
          topics.eventsDlq,
          eventDeadLetter({
            source: {
              topic: source.batch.topic,
              partition: source.batch.partition,
              message: source.message,
            },
            reason: 'render_error',
            error: step.detail ?? step.reason ?? 'render error',
            flowId: flow.id,
            actionId: step.actionId,
          }),
        );
      }
    }
    if (walk.delay) {
      metrics.flowDelays.inc({ flow_id: flow.id });
      const record: ResumeRecord = { resume: walk.delay, event };
      const delayed = delayedMessage(
        {
          target: topics.resume,
          notBefore: walk.delay.resume_at,
          key: walk.delay.profile_id,
          value: JSON.stringify(record),
        },
        topics.delays,
      );
      outbox.send(delayed.topic, delayed.message);
    }
  }

  private deadLetter(
    outbox: Outbox,
    batch: BatchInput,
    message: KafkaMessage,
    reason: string,
    error: string,
  ): void {
    this.ctx.metrics.eventsInvalid.inc({ reason });
    this.ctx.logger.warn(
      { topic: batch.topic, partition: batch.partition, offset: message.offset, reason, error },
      'invalid event sent to the events DLQ',
    );
    outbox.send(
      this.ctx.topics.eventsDlq,
      eventDeadLetter({
        source: { topic: batch.topic, partition: batch.partition, message },
        reason,
        error,
      }),
    );
  }

  stop(): Promise<void> {
    this.closing ??= (async () => {
      await this.events.stop();
      await this.flowsReader.stop();
    })();
    return this.closing;
  }
}
