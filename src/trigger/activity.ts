// What only the trigger knows about a walk, as activity records for flowhook.activity, and the
// webhooks it held, for the review queue (flowhook.review). Pure: the role sends the messages in
// the same transaction as the walk's jobs, so a fact is recorded exactly when it happened.
//
// A walk's record ids are `<walk>/<step index>-<status>`, where <walk> hashes the flow, event,
// profile and the action the walk started at: the same walk processed again (an aborted batch)
// gives the same ids, and records of one walk sort in walk order.

import { createHash } from 'node:crypto';
import type { Message } from 'kafkajs';
import { heldWebhookMessage } from '../activity/held';
import type { ActivityRecord } from '../activity/types';
import type { FlowhookEvent } from '../documents';
import { profileKey } from '../profile-key';
import type { CompiledFlow } from '../flows/types';
import type { WalkResult } from './walk';

function walkId(
  flow: CompiledFlow,
  event: FlowhookEvent,
  profileId: string,
  start: string,
): string {
  const digest = createHash('sha256')
    .update([flow.id, event.id, profileId, start].join('\u0000'))
    .digest('hex');
  return `walk_${digest.slice(0, 32)}`;
}

/**
 * entered (when the walk began at the flow's entry action, i.e. not a resume after a delay),
 * skipped (reason), held (job id, reason), waiting (due time) and failed (render errors).
 * Sent webhooks are recorded from flowhook.jobs and flowhook.deliveries instead.
 */
export function walkActivity(
  flow: CompiledFlow,
  walk: WalkResult,
  event: FlowhookEvent,
  now: Date,
): ActivityRecord[] {
  const first = walk.steps[0];
  if (first === undefined) return [];
  const profileId = profileKey(event.profile) ?? '';
  const prefix = walkId(flow, event, profileId, first.actionId);
  const time = now.toISOString();
  const base = {
    time,
    flow_id: flow.id,
    flow_version: flow.version,
    profile_id: profileId,
    event_id: event.id,
    ...(event.profile.email !== undefined && { email: event.profile.email }),
  };
  const heldJobs = new Map(walk.held.map((job) => [job.action_id, job.id]));
  const out: ActivityRecord[] = [];
  if (first.actionId === flow.entryActionId) {
    out.push({ ...base, id: `${prefix}/0000-entered`, status: 'entered' });
  }
  walk.steps.forEach((step, i) => {
    const id = `${prefix}/${String(i + 1).padStart(4, '0')}-`;
    const action = { ...base, action_id: step.actionId };
    switch (step.kind) {
      case 'skipped':
        out.push({ ...action, id: `${id}skipped`, status: 'skipped', reason: step.reason });
        break;
      case 'held': {
        const jobId = heldJobs.get(step.actionId);
        out.push({
          ...action,
          id: `${id}held`,
          status: 'held',
          reason: step.reason,
          ...(jobId !== undefined && { job_id: jobId }),
        });
        break;
      }
      case 'delay':
        if (walk.delay?.delay_action_id === step.actionId) {
          out.push({
            ...action,
            id: `${id}waiting`,
            status: 'waiting',
            // Waiting for a webhook's outcome has no due time, only a deadline.
            ...(walk.delay.awaits === undefined
              ? { due_at: walk.delay.resume_at }
              : { reason: 'webhook_outcome', job_id: walk.delay.awaits }),
          });
        }
        break;
      case 'render_error':
        out.push({
          ...action,
          id: `${id}failed`,
          status: 'failed',
          reason: step.reason,
          ...(step.detail !== undefined && { error: step.detail }),
        });
        break;
      default:
        break;
    }
  });
  return out;
}

/** Everything the walk adds to flowhook.activity and flowhook.review, by topic kind. */
export function walkActivityMessages(
  flow: CompiledFlow,
  walk: WalkResult,
  event: FlowhookEvent,
  now: Date,
): { activity: Message[]; review: Message[] } {
  const records = walkActivity(flow, walk, event, now);
  const reasons = new Map(
    records.filter((r) => r.status === 'held').map((r) => [r.action_id, r.reason]),
  );
  return {
    activity: records.map((r) => ({ key: r.profile_id ?? null, value: JSON.stringify(r) })),
    review: walk.held.map((job) =>
      heldWebhookMessage({
        job,
        held_at: now.toISOString(),
        reason: reasons.get(job.action_id) ?? 'held',
      }),
    ),
  };
}
