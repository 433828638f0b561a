import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

// Every flowhook_* metric is declared here, so the Grafana dashboard, the alert rules and the
// README's metrics list have one place to agree with. Labels never carry URLs, profile ids or
// event ids (unbounded cardinality); flow ids are bounded by the number of flows.

export class FlowhookMetrics {
  readonly registry = new Registry();

  // ---- service and Kafka ----
  readonly buildInfo = new Gauge({
    name: 'flowhook_build_info',
    help: 'Always 1; labels carry the version and the roles of this process.',
    labelNames: ['version', 'roles'] as const,
    registers: [this.registry],
  });
  readonly ready = new Gauge({
    name: 'flowhook_ready',
    help: '1 when the role has joined its consumer group and finished its start-up loading.',
    labelNames: ['role'] as const,
    registers: [this.registry],
  });
  readonly consumerLag = new Gauge({
    name: 'flowhook_consumer_lag',
    help: 'Messages between the last processed offset and the high watermark, per partition.',
    labelNames: ['group', 'topic', 'partition'] as const,
    registers: [this.registry],
  });
  readonly batchDuration = new Histogram({
    name: 'flowhook_batch_duration_seconds',
    help: 'Time to process one fetched batch (at-least-once roles: with the offset commit; the stream processor commits beside it).',
    labelNames: ['group'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly transactionsAborted = new Counter({
    name: 'flowhook_transactions_aborted_total',
    help: 'Consume-produce transactions aborted (their batch is processed again).',
    labelNames: ['group'] as const,
    registers: [this.registry],
  });
  readonly kafkaErrors = new Counter({
    name: 'flowhook_kafka_errors_total',
    help: 'Kafka client errors by kind (crash, connection, request).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  // ---- stream-processing kernel (src/kafka/processor.ts) ----
  readonly commitDuration = new Histogram({
    name: 'flowhook_commit_duration_seconds',
    help: 'Time to commit one task: its outputs, changelog records and input offsets in one transaction.',
    labelNames: ['group'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly taskRecoveries = new Counter({
    name: 'flowhook_task_recoveries_total',
    help: 'Tasks that dropped their uncommitted work and went back to their last commit (reason: commit_failed, process_failed, rebalance).',
    labelNames: ['group', 'reason'] as const,
    registers: [this.registry],
  });
  readonly producersReplaced = new Counter({
    name: 'flowhook_producers_replaced_total',
    help: 'Transactional producers replaced after a failed transaction (the new one fences the old).',
    labelNames: ['group'] as const,
    registers: [this.registry],
  });
  readonly restoringPartitions = new Gauge({
    name: 'flowhook_state_restoring_partitions',
    help: 'Assigned partitions whose state stores are being restored from their changelog.',
    labelNames: ['group'] as const,
    registers: [this.registry],
  });
  readonly stateRestored = new Counter({
    name: 'flowhook_state_restored_records_total',
    help: 'Changelog records applied to local state stores while restoring.',
    labelNames: ['store'] as const,
    registers: [this.registry],
  });
  readonly timersFired = new Counter({
    name: 'flowhook_timers_fired_total',
    help: 'Durable timers that fired.',
    labelNames: ['group'] as const,
    registers: [this.registry],
  });
  readonly timerLateness = new Histogram({
    name: 'flowhook_timer_lateness_seconds',
    help: 'How late a durable timer fired after its due time.',
    labelNames: ['group'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [this.registry],
  });

  // ---- delivery ----
  readonly webhookAttempts = new Counter({
    name: 'flowhook_webhook_attempts_total',
    help: 'Webhook attempts made (including those refused before sending), by outcome (delivered, retrying, failed) and status class (2xx, 3xx, 4xx, 5xx, error).',
    labelNames: ['flow_id', 'outcome', 'status_class'] as const,
    registers: [this.registry],
  });
  readonly webhookDelivered = new Counter({
    name: 'flowhook_webhook_delivered_total',
    help: 'Webhook jobs delivered (a 2xx answer).',
    labelNames: ['flow_id'] as const,
    registers: [this.registry],
  });
  readonly webhookFailed = new Counter({
    name: 'flowhook_webhook_failed_total',
    help: 'Webhook jobs failed for good (sent to the DLQ), by reason (client_error, retries_exhausted, destination_refused, …).',
    labelNames: ['flow_id', 'reason'] as const,
    registers: [this.registry],
  });
  readonly webhookRetriesScheduled = new Counter({
    name: 'flowhook_webhook_retries_scheduled_total',
    help: 'Failed attempts scheduled for a retry, by retry tier.',
    labelNames: ['tier'] as const,
    registers: [this.registry],
  });
  readonly webhookDlq = new Counter({
    name: 'flowhook_webhook_dlq_total',
    help: 'Messages written to the webhook DLQ, by reason (failed jobs and undecodable or invalid jobs).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly webhookDeferred = new Counter({
    name: 'flowhook_webhook_deferred_total',
    help: 'Jobs sent back to a retry tier without an attempt, by cause (circuit_open, not_before, host_busy, in_flight, error).',
    labelNames: ['cause'] as const,
    registers: [this.registry],
  });
  readonly webhookDetached = new Counter({
    name: 'flowhook_webhook_detached_total',
    help: 'Attempts still in flight when their batch was committed: a lease copy was parked on a retry tier and the outcome is produced when the attempt ends.',
    registers: [this.registry],
  });
  readonly webhookAttemptDuration = new Histogram({
    name: 'flowhook_webhook_attempt_duration_seconds',
    help: 'Duration of one webhook attempt (request sent to response read, or failure).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly webhookEndToEnd = new Histogram({
    name: 'flowhook_webhook_end_to_end_seconds',
    help: 'From the triggering event time to the delivery of its webhook (jobs that carry event_time).',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400],
    registers: [this.registry],
  });
  readonly webhookInFlight = new Gauge({
    name: 'flowhook_webhook_in_flight',
    help: 'Webhook requests in flight in this process.',
    registers: [this.registry],
  });
  readonly circuitOpen = new Gauge({
    name: 'flowhook_circuit_open',
    help: 'Destination hosts whose circuit is open or half-open (their jobs wait on a retry tier).',
    registers: [this.registry],
  });

  // ---- delay (retry and flow-delay tiers) ----
  readonly delayScheduled = new Counter({
    name: 'flowhook_delay_scheduled_total',
    help: 'Messages produced to a delay tier, by queue (retry, delays) and tier.',
    labelNames: ['queue', 'tier'] as const,
    registers: [this.registry],
  });
  readonly delayForwarded = new Counter({
    name: 'flowhook_delay_forwarded_total',
    help: 'Due messages forwarded from a delay tier to their target, by queue and tier.',
    labelNames: ['queue', 'tier'] as const,
    registers: [this.registry],
  });
  readonly delayInvalid = new Counter({
    name: 'flowhook_delay_invalid_total',
    help: 'Delay-tier messages that could not be forwarded (sent to the DLQ), by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly delayPausedPartitions = new Gauge({
    name: 'flowhook_delay_paused_partitions',
    help: 'Delay-tier partitions paused until their head message is due.',
    registers: [this.registry],
  });
  readonly delayLateness = new Histogram({
    name: 'flowhook_delay_lateness_seconds',
    help: 'How long after its due time a delayed message was forwarded.',
    labelNames: ['queue'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  // ---- trigger ----
  readonly eventsConsumed = new Counter({
    name: 'flowhook_events_consumed_total',
    help: 'Events read from the event topics (valid or not).',
    registers: [this.registry],
  });
  readonly profileUpdates = new Counter({
    name: 'flowhook_profile_updates_total',
    help: 'Profile updates applied to the profile store (invalid ones count in flowhook_events_invalid_total).',
    registers: [this.registry],
  });
  readonly catalogUpdates = new Counter({
    name: 'flowhook_catalog_updates_total',
    help: 'Catalog records applied to the catalog store, by change (new, changed, unchanged, deleted); invalid ones count in flowhook_events_invalid_total.',
    labelNames: ['change'] as const,
    registers: [this.registry],
  });
  readonly itemAudienceRecords = new Counter({
    name: 'flowhook_item_audience_records_total',
    help: 'Views, cart additions, checkouts and purchases of an item recorded in the per-item audience store.',
    registers: [this.registry],
  });
  readonly itemFanouts = new Counter({
    name: 'flowhook_item_fanouts_total',
    help: 'Catalog changes (a price drop, inventory falling to a threshold) that started a fan-out to the item audience of a flow.',
    labelNames: ['flow_id'] as const,
    registers: [this.registry],
  });
  readonly itemEntriesEmitted = new Counter({
    name: 'flowhook_item_entries_emitted_total',
    help: 'Profiles of an item audience a price-drop or low-inventory fan-out sent towards a flow (before entry rules and profile filters).',
    labelNames: ['flow_id'] as const,
    registers: [this.registry],
  });
  readonly eventsInvalid = new Counter({
    name: 'flowhook_events_invalid_total',
    help: 'Events sent to the events DLQ, by reason (malformed_json, schema_invalid, render_error, …).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly recordsTooLarge = new Counter({
    name: 'flowhook_records_too_large_total',
    help: 'Records derived from an event and not produced because they exceed what their topic takes (max.message.bytes), by topic; the event goes to the events DLQ (record_too_large).',
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });
  readonly flowsLoaded = new Gauge({
    name: 'flowhook_flows_loaded',
    help: 'Valid flows in the flow table, by status (live, manual, draft).',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly flowsRejected = new Counter({
    name: 'flowhook_flows_rejected_total',
    help: 'Flow documents rejected by validation (the previous valid version stays in force).',
    registers: [this.registry],
  });

  readonly flowSignatureRefused = new Counter({
    name: 'flowhook_flow_signature_refused_total',
    help: 'Webhook flows refused by the trigger because flow signing is on and their signature is missing or wrong, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly flowEntries = new Counter({
    name: 'flowhook_flow_entries_total',
    help: 'Profiles that entered a flow.',
    labelNames: ['flow_id'] as const,
    registers: [this.registry],
  });
  readonly flowSkips = new Counter({
    name: 'flowhook_flow_skips_total',
    help: 'Entries refused and actions skipped, by reason (duplicate, backfill, trigger_filter, profile_filter, reentry, draft, …).',
    labelNames: ['flow_id', 'reason'] as const,
    registers: [this.registry],
  });
  readonly flowHeld = new Counter({
    name: 'flowhook_flow_held_total',
    help: 'Webhooks held by a manual flow or action, kept in the review queue until released or discarded.',
    labelNames: ['flow_id'] as const,
    registers: [this.registry],
  });
  readonly flowDelays = new Counter({
    name: 'flowhook_flow_delays_total',
    help: 'Walks that reached a time delay and were handed to the delay tiers.',
    labelNames: ['flow_id'] as const,
    registers: [this.registry],
  });
  readonly jobsEmitted = new Counter({
    name: 'flowhook_jobs_emitted_total',
    help: 'Webhook jobs emitted to the jobs topic (exactly once per event, flow and action).',
    labelNames: ['flow_id'] as const,
    registers: [this.registry],
  });
  readonly eventDuration = new Histogram({
    name: 'flowhook_event_processing_seconds',
    help: 'Time to decode, match and walk one event (without the Kafka commit).',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [this.registry],
  });

  // ---- activity log (admin role) ----
  readonly activityIngested = new Counter({
    name: 'flowhook_activity_records_ingested_total',
    help: 'Activity records added to the activity store (a record ingested again is not counted).',
    registers: [this.registry],
  });
  readonly activityUnreadable = new Counter({
    name: 'flowhook_activity_records_unreadable_total',
    help: 'Records on the activity source topics that could not be read (skipped, never stalling ingest).',
    labelNames: ['topic'] as const,
    registers: [this.registry],
  });
  readonly activityLagRecords = new Gauge({
    name: 'flowhook_activity_ingest_lag_records',
    help: 'Records on a source topic partition not yet in the activity store.',
    labelNames: ['topic', 'partition'] as const,
    registers: [this.registry],
  });
  readonly activityLagSeconds = new Gauge({
    name: 'flowhook_activity_ingest_lag_seconds',
    help: 'Age of the newest record ingested from a partition while more are waiting (0 when caught up).',
    labelNames: ['topic', 'partition'] as const,
    registers: [this.registry],
  });
  readonly activityPruned = new Counter({
    name: 'flowhook_activity_records_pruned_total',
    help: 'Activity records deleted because they are older than FLOWHOOK_ACTIVITY_RETENTION.',
    registers: [this.registry],
  });
  readonly activityWriteDuration = new Histogram({
    name: 'flowhook_activity_write_seconds',
    help: 'Time to write one ingest batch to the activity store.',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }
}
