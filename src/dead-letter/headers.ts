// Headers of records on both dead-letter topics (flowhook.events.dlq and flowhook.dlq). Every
// record carries the reason; event records also say where they were read (the Kafka Connect DLQ
// convention) and, when one flow's action failed, which.

export const DLQ_HEADERS = {
  reason: 'flowhook-dlq-reason',
  error: 'flowhook-dlq-error',
  topic: 'flowhook-dlq-source-topic',
  partition: 'flowhook-dlq-source-partition',
  offset: 'flowhook-dlq-source-offset',
  timestamp: 'flowhook-dlq-source-timestamp',
  failedAt: 'flowhook-dlq-failed-at',
  flowId: 'flowhook-dlq-flow-id',
  actionId: 'flowhook-dlq-action-id',
  /** On a copy cut to fit its topic: the original value's size in bytes (not replayable). */
  truncated: 'flowhook-dlq-value-truncated',
} as const;
