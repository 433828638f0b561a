// What the benchmarks that run flowhook in-process share: the flow document of one trigger and
// one webhook, the input topics and the compacted flows topic, the trigger role started on
// them, and waiting on a counter.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { buildConfig, type FlowhookConfig } from '../src/config/load';
import { createLogger } from '../src/observability/logger';
import { FlowhookMetrics } from '../src/observability/metrics';
import { ROLE_FACTORIES } from '../src/roles';
import { FlowhookService } from '../src/service/service';

/** A live flow: `trigger`, then one webhook to `url` with `body`. */
export function oneWebhookFlow(
  id: string,
  trigger: Record<string, unknown>,
  message: { url: string; body: string },
): Record<string, unknown> {
  return {
    id,
    name: `bench ${id}`,
    status: 'live',
    version: 1,
    updated_at: '2026-12-01T00:00:00Z',
    definition: {
      triggers: [trigger],
      profile_filter: null,
      entry_action_id: 'hook',
      reentry_criteria: null,
      actions: [
        {
          id: 'hook',
          type: 'send-webhook',
          links: { next: null },
          data: { status: 'live', message: { url: message.url, headers: {}, body: message.body } },
        },
      ],
    },
  };
}

/** Creates `<prefix><input>` for each input (`partitions` each) and `<prefix>flows` (compacted). */
export async function createBenchTopics(
  kafka: Kafka,
  prefix: string,
  inputs: string[],
  partitions: number,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [
        ...inputs.map((name) => ({ topic: `${prefix}${name}`, numPartitions: partitions })),
        {
          topic: `${prefix}flows`,
          numPartitions: 1,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

/** Polls `probe` until it holds (benchmarks measure time, so they poll rather than sleep). */
export async function until(
  probe: () => Promise<boolean> | boolean,
  intervalMs = 20,
): Promise<void> {
  while (!(await probe())) await new Promise((r) => setTimeout(r, intervalMs));
}

/** Sum of a prom-client metric over its labels. */
export async function counter(metric: {
  get(): Promise<{ values: { value: number }[] }>;
}): Promise<number> {
  return (await metric.get()).values.reduce((n, v) => n + v.value, 0);
}

/**
 * The trigger role alone, in this process, on `<prefix>events`, `<prefix>profiles` and
 * `<prefix>catalog`; started, not yet ready (callers wait with `until`).
 */
export async function startBenchTrigger(options: {
  brokers: string[];
  prefix: string;
  partitions: number;
  instanceId: string;
  stateDir: string;
}): Promise<{ service: FlowhookService; metrics: FlowhookMetrics }> {
  const { prefix } = options;
  const config = buildConfig({
    KAFKA_BROKERS: options.brokers.join(','),
    FLOWHOOK_TOPIC_PREFIX: prefix,
    FLOWHOOK_TOPIC_PARTITIONS: String(options.partitions),
    FLOWHOOK_EVENT_TOPICS: `${prefix}events`,
    FLOWHOOK_PROFILE_TOPICS: `${prefix}profiles`,
    FLOWHOOK_CATALOG_TOPICS: `${prefix}catalog`,
    FLOWHOOK_ROLES: 'trigger',
    FLOWHOOK_HTTP_PORT: '0',
    FLOWHOOK_INSTANCE_ID: options.instanceId,
    FLOWHOOK_STATE_DIR: options.stateDir,
    LOG_LEVEL: 'silent',
  }) as FlowhookConfig & { kafka: { brokers: string[] } };
  const metrics = new FlowhookMetrics({ defaultMetrics: false });
  const service = new FlowhookService({
    config,
    logger: createLogger('silent'),
    roles: ROLE_FACTORIES,
    metrics,
  });
  await service.start();
  return { service, metrics };
}

/** Peak JS heap and RSS of this process, sampled every 20 ms from start() to stop(), in MiB. */
export class MemoryPeaks {
  private heap = 0;
  private rss = 0;
  private timer: NodeJS.Timeout | undefined;

  start(): this {
    this.heap = 0;
    this.rss = 0;
    this.sample();
    this.timer = setInterval(() => this.sample(), 20);
    return this;
  }

  stop(): { peakHeapMb: number; peakRssMb: number } {
    clearInterval(this.timer);
    this.sample();
    return { peakHeapMb: mib(this.heap), peakRssMb: mib(this.rss) };
  }

  private sample(): void {
    const m = process.memoryUsage();
    this.heap = Math.max(this.heap, m.heapUsed);
    this.rss = Math.max(this.rss, m.rss);
  }
}

export const mib = (bytes: number): number => Math.round(bytes / 2 ** 20);

/** Writes a benchmark's result to bench/results/<file> (beside the sources, not in dist/). */
export function writeBenchResult(file: string, result: unknown): void {
  const dir = join(__dirname, '..', '..', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, file), JSON.stringify(result, null, 2) + '\n');
}
