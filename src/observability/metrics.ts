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
    help: 'Time to process one fetched batch, including the commit or transaction.',
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

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }
}
