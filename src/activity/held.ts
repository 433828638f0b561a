// What flowhook.review holds: one HeldWebhook per webhook held by a manual flow or action,
// key = job id (compacted). Releasing or discarding it writes a tombstone under the same key.

import type { Message } from 'kafkajs';
import type { WebhookJob } from '../documents';
import type { ReviewItem } from './types';

export interface HeldWebhook {
  /** Rendered like a live job; headers keep their {{ secrets.NAME }} references. */
  job: WebhookJob;
  held_at: string;
  /** action_manual | flow_manual */
  reason: string;
}

export function heldWebhookMessage(held: HeldWebhook): Message {
  return { key: held.job.id, value: JSON.stringify(held) };
}

/** The review item of a flowhook.review value; undefined when it cannot be read. */
export function parseHeldWebhook(value: Buffer): ReviewItem | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { job, held_at: heldAt } = parsed as Partial<HeldWebhook>;
  if (typeof job !== 'object' || job === null || typeof heldAt !== 'string') return undefined;
  const fields = [job.id, job.flow_id, job.action_id, job.profile_id, job.event_id, job.url];
  if (fields.some((f) => typeof f !== 'string') || Number.isNaN(Date.parse(heldAt)))
    return undefined;
  return {
    id: job.id,
    flow_id: job.flow_id,
    action_id: job.action_id,
    profile_id: job.profile_id,
    event_id: job.event_id,
    held_at: heldAt,
    job: job as unknown as Record<string, unknown>,
  };
}
