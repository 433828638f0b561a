import type { FlowhookEvent } from '../../src/documents';

/** A small valid flow: one trigger, one webhook per URL in `webhooks`, run in order. */
export function webhookFlow(options: {
  id: string;
  metric?: string;
  /** Any trigger (a date, a list, …) instead of the metric trigger. */
  trigger?: Record<string, unknown>;
  version?: number;
  status?: 'live' | 'manual' | 'draft';
  webhooks?: { id: string; url: string; body?: string }[];
  triggerFilter?: unknown;
  /** Adds a time delay before the first webhook (0 = resume at once, through the delay tiers). */
  delayMinutes?: number;
  reentry?: unknown;
  /** Default: flowhook's (sequential: a webhook after a webhook waits for its outcome). */
  webhookOrder?: 'sequential' | 'parallel';
}): Record<string, unknown> {
  const webhooks = options.webhooks ?? [
    {
      id: 'hook',
      url: 'https://crm.example.com/orders',
      body: '{"order": "{{ event.OrderId }}", "email": "{{ email }}"}',
    },
  ];
  const actions: Record<string, unknown>[] = webhooks.map((w, i) => ({
    id: w.id,
    type: 'send-webhook',
    links: { next: webhooks[i + 1]?.id ?? null },
    data: {
      status: 'live',
      message: {
        url: w.url,
        headers: { 'X-Flow': '{{ flow.id }}' },
        body: w.body ?? '{"order": "{{ event.OrderId }}"}',
      },
    },
  }));
  let entry = webhooks[0].id;
  if (options.delayMinutes !== undefined) {
    actions.unshift({
      id: 'wait',
      type: 'time-delay',
      links: { next: entry },
      data: { unit: 'minutes', value: options.delayMinutes },
    });
    entry = 'wait';
  }
  return {
    id: options.id,
    name: `test flow ${options.id}`,
    status: options.status ?? 'live',
    version: options.version ?? 1,
    updated_at: '2026-11-24T00:00:00Z',
    ...(options.webhookOrder && { webhook_order: options.webhookOrder }),
    definition: {
      triggers: [
        options.trigger ?? {
          type: 'metric',
          id: options.metric ?? 'Placed Order',
          ...(options.triggerFilter ? { trigger_filter: options.triggerFilter } : {}),
        },
      ],
      profile_filter: null,
      entry_action_id: entry,
      reentry_criteria: options.reentry ?? null,
      actions,
    },
  };
}

let counter = 0;

export function placedOrder(
  overrides: Partial<FlowhookEvent> & { orderId?: string } = {},
): FlowhookEvent {
  counter += 1;
  const { orderId, ...rest } = overrides;
  return {
    id: `evt-${process.pid}-${Date.now()}-${counter}`,
    metric: 'Placed Order',
    time: new Date().toISOString(),
    profile: {
      id: `profile-${counter}`,
      email: `shopper${counter}@example.com`,
      first_name: 'Sam',
    },
    properties: { OrderId: orderId ?? `order-${counter}`, $value: 42 },
    ...rest,
  };
}
