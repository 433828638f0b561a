// What the benchmarks that run flowhook in-process share: the flow document of one trigger and
// one webhook, the input topics and the compacted flows topic, and waiting on a counter.

import type { Kafka } from 'kafkajs';

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
