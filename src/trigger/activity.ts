// What only the trigger knows about a walk, as activity records for flowhook.activity, and the
// webhooks it held, for the review queue (flowhook.review). Pure: the role sends the messages in
// the same transaction as the walk's jobs, so a fact is recorded exactly when it happened.
//
// A walk's record ids are `<walk>/<step index>-<status>`, where <walk> hashes the flow, event,
// profile and the action the walk started at: the same walk processed again (an aborted batch)
// gives the same ids, and records of one walk sort in walk order.

import { hash } from 'node:crypto';
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
  // One-shot hash: a third of createHash().update().digest() on inputs this short.
  const digest = hash(
    'sha256',
    `${flow.id}\u0000${event.id}\u0000${profileId}\u0000${start}`,
    'hex',
  );
  return `walk_${digest.slice(0, 32)}`;
}

let lastIsoMs = NaN;
let lastIso = '';

/** `now.toISOString()`, kept for the millisecond: every walk of an event records the same time. */
function isoTime(now: Date): string {
  const ms = now.getTime();
  if (ms !== lastIsoMs) {
    lastIso = now.toISOString();
    lastIsoMs = ms;
  }
  return lastIso;
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
  const time = isoTime(now);
  const email = event.profile.email;
  // Plain literals of one shape, no spreads: this runs for every walk (bench:trigger).
  const record = (
    id: string,
    status: ActivityRecord['status'],
    actionId: string | undefined,
  ): ActivityRecord => {
    const r: ActivityRecord = {
      id,
      time,
      status,
      flow_id: flow.id,
      flow_version: flow.version,
      profile_id: profileId,
      event_id: event.id,
    };
    if (actionId !== undefined) r.action_id = actionId;
    if (email !== undefined) r.email = email;
    return r;
  };
  const out: ActivityRecord[] = [];
  if (first.actionId === flow.entryActionId) {
    out.push(record(`${prefix}/0000-entered`, 'entered', undefined));
  }
  walk.steps.forEach((step, i) => {
    const id = (status: string) => `${prefix}/${String(i + 1).padStart(4, '0')}-${status}`;
    switch (step.kind) {
      case 'skipped': {
        const r = record(id('skipped'), 'skipped', step.actionId);
        r.reason = step.reason;
        out.push(r);
        break;
      }
      case 'held': {
        const r = record(id('held'), 'held', step.actionId);
        r.reason = step.reason;
        const jobId = walk.held.find((job) => job.action_id === step.actionId)?.id;
        if (jobId !== undefined) r.job_id = jobId;
        out.push(r);
        break;
      }
      case 'delay':
        if (walk.delay?.delay_action_id === step.actionId) {
          const r = record(id('waiting'), 'waiting', step.actionId);
          // Waiting for a webhook's outcome has no due time, only a deadline.
          if (walk.delay.awaits === undefined) r.due_at = walk.delay.resume_at;
          else {
            r.reason = 'webhook_outcome';
            r.job_id = walk.delay.awaits;
          }
          out.push(r);
        }
        break;
      case 'render_error': {
        const r = record(id('failed'), 'failed', step.actionId);
        r.reason = step.reason;
        if (step.detail !== undefined) r.error = step.detail;
        out.push(r);
        break;
      }
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
  const activity = records.map((r) => ({ key: r.profile_id ?? null, value: JSON.stringify(r) }));
  if (walk.held.length === 0) return { activity, review: [] };
  const reasons = new Map(
    records.filter((r) => r.status === 'held').map((r) => [r.action_id, r.reason]),
  );
  return {
    activity,
    review: walk.held.map((job) =>
      heldWebhookMessage({
        job,
        held_at: isoTime(now),
        reason: reasons.get(job.action_id) ?? 'held',
      }),
    ),
  };
}
