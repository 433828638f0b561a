// The walk of a flow's action graph for one profile and one triggering event: a pure function
// of (compiled flow, event, organization, now). It starts at entry_action_id (or, after a time
// delay, at the action the delay resumes) and follows links until the path ends or a delay stops
// it. The Kafka wiring emits `jobs` on flowhook.jobs, schedules `delay` on flowhook.delays.<tier>
// and dead-letters `render_error` steps.
//
// Per action:
//   - The flow's profile filter is checked before every webhook and pass-through action; a
//     profile that fails it skips that action (step `skipped`, reason `profile_filter`) and
//     continues to links.next. Splits and delays route and wait: they are not "skipped".
//   - send-webhook: status live → a WebhookJob (step `webhook`); manual, or any webhook of a
//     flow whose status is manual → step `held` and the rendered job in `held` (sent only if a
//     manager releases it from the review queue); draft /
//     disabled → `skipped`. The walk continues to links.next either way (Klaviyo does not wait
//     for the response). A render failure is a `render_error` step and the walk continues.
//   - conditional-split / trigger-split: next_if_true / next_if_false (step `split`, reason
//     `true` / `false`); multi-branch-split: the first branch whose filter matches, else the
//     else branch (reason `branch:<id>` / `else`).
//   - time-delay: the walk stops with a `delay` step and `delay` tells where to resume. A delay
//     with no live or manual webhook reachable after it is `skipped` (`nothing_after_delay`) and
//     the profile exits, as in Klaviyo.
//   - Actions flowhook does not run (email, SMS, …): `passed`, continue to links.next.
// Preview mode (CLI) renders every webhook whatever its status or the flow's, and walks through
// delays (reported as `delay` steps with reason `preview`) so every request of the flow shows.

import { hash } from 'node:crypto';
import type { FlowhookEvent, Profile, WebhookJob } from '../documents';
import { profileKey } from '../profile-key';
import type { CompiledAction, CompiledFlow, ConditionContext } from '../flows/types';
import type { ProfileRecord } from '../profiles/record';

type CompiledWebhook = Extract<CompiledAction, { kind: 'webhook' }>;
import { renderBody, renderHeader, type OrganizationInfo, type TemplateInput } from '../template';
import { computeDelay } from './delay';

export type StepKind =
  'webhook' | 'skipped' | 'held' | 'passed' | 'delay' | 'split' | 'render_error';

export interface WalkStep {
  actionId: string;
  kind: StepKind;
  /**
   * skipped: profile_filter | left_segment | draft | disabled | flow_draft | nothing_after_delay |
   * resume_action_missing; held: action_manual | flow_manual; passed: the action type;
   * split: true | false | branch:<id> | else; delay: wait in ms, or `preview`;
   * render_error: the error code.
   */
  reason?: string;
  /** render_error: the error message (never contains secrets: headers keep `{{ secrets.X }}`). */
  detail?: string;
}

/** Everything needed to resume the walk when the delay has elapsed. */
export interface DelayResume {
  flow_id: string;
  flow_version: number;
  event_id: string;
  profile_id: string;
  /** The time-delay action that stopped the walk. */
  delay_action_id: string;
  /** Pass as `startAt` when resuming. */
  resume_action_id: string;
  wait_ms: number;
  /** ISO-8601. */
  resume_at: string;
  /** The profile's previous entry into the flow, for profile-not-in-flow conditions (ISO). */
  previous_entry_at: string | null;
  /** When this entry into the flow happened, for `flow-start` timeframes (ISO). */
  flow_start_at?: string;
  /**
   * Set when the walk waits for this webhook job's outcome (webhook_order sequential), not for
   * a time delay: resume_at is then only the deadline after which it continues anyway.
   */
  awaits?: string;
}

/** Longest a walk waits for a webhook's outcome (retries take up to ~17 h by default). */
export const AWAIT_OUTCOME_MS = 48 * 3_600_000;

export interface WalkResult {
  jobs: WebhookJob[];
  /** Webhooks held by a manual flow or action, rendered like live ones, for the review queue. */
  held: WebhookJob[];
  steps: WalkStep[];
  delay?: DelayResume;
}

export interface WalkInput {
  flow: CompiledFlow;
  event: FlowhookEvent;
  organization: OrganizationInfo;
  now: Date;
  /** Resume at this action (DelayResume.resume_action_id) instead of the entry action. */
  startAt?: string;
  /** Previous entry of this profile into the flow (EntryDecision.previousEntryAt). */
  previousEntryAt?: Date | null;
  /** The profile as it is now (the profile store's); default: event.profile. */
  profile?: Profile;
  /**
   * The profile store's record, for conditions on history, membership and consent; undefined
   * when the store is off. Segment flows then also skip webhooks of profiles that left the
   * segment (reason `left_segment`): Klaviyo sends only to profiles still in it.
   */
  stored?: ProfileRecord | null;
  /** When the profile entered the flow (this entry); default: the event's time. */
  flowStartAt?: Date;
  /** CLI preview: ignore statuses, walk through delays. */
  preview?: boolean;
  /** Zone for delays with timezone 'profile' when the profile has none. Default UTC. */
  fallbackTimeZone?: string;
}

/** Stable across reprocessing and flow versions: the same event reaching the same action. */
export function webhookJobId(
  flowId: string,
  actionId: string,
  eventId: string,
  profileId: string,
): string {
  // One-shot hash: a third of createHash().update().digest() on inputs this short.
  const digest = hash(
    'sha256',
    `${flowId}\u0000${actionId}\u0000${eventId}\u0000${profileId}`,
    'hex',
  );
  return `msg_${digest.slice(0, 32)}`;
}

function errorCode(e: unknown): string {
  if (typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string') {
    return (e as { code: string }).code;
  }
  return 'FLOWHOOK_ERR_TEMPLATE_RENDER';
}

/** action_manual | flow_manual when the webhook is held for review; undefined when it is sent. */
function heldReason(
  flow: CompiledFlow,
  action: CompiledWebhook,
  preview: boolean,
): string | undefined {
  if (preview) return undefined;
  if (action.status === 'manual') return 'action_manual';
  if (flow.status === 'manual') return 'flow_manual';
  return undefined;
}

/** The job of a webhook action; throws a coded error when a header or the body does not render. */
function renderJob(
  flow: CompiledFlow,
  action: CompiledWebhook,
  event: FlowhookEvent,
  profileId: string,
  templateInput: TemplateInput,
): WebhookJob {
  const headers: Record<string, string> = {};
  for (const h of action.headers) {
    const value = renderHeader(h.template, templateInput);
    if (/[\r\n\0]/.test(value)) {
      throw Object.assign(new Error(`header ${h.name} renders a line break`), {
        code: 'FLOWHOOK_ERR_HEADER_INJECTION',
      });
    }
    headers[h.name] = value;
  }
  const body = action.body === null ? '{}' : renderBody(action.body, templateInput);
  const job: WebhookJob = {
    id: webhookJobId(flow.id, action.id, event.id, profileId),
    flow_id: flow.id,
    flow_version: flow.version,
    action_id: action.id,
    event_id: event.id,
    profile_id: profileId,
    url: action.url,
    headers,
    body,
    attempt: 0,
    event_time: event.time,
  };
  if (action.signingSecret !== null) job.signing_secret_ref = action.signingSecret;
  return job;
}

export function walkFlow(input: WalkInput): WalkResult {
  const { flow, event, now } = input;
  const profile = input.profile ?? event.profile;
  const profileId = profileKey(profile) ?? '';
  const preview = input.preview === true;
  const previousEntryAt = input.previousEntryAt ?? null;
  const flowStartAt =
    input.flowStartAt ?? new Date(Math.min(Date.parse(event.time), now.getTime()));
  const ctx: ConditionContext = {
    event,
    profile,
    now,
    flowId: flow.id,
    previousEntryAt,
    stored: input.stored ?? null,
    flowStartAt,
  };
  const leftSegment = (): boolean => {
    const t = flow.trigger;
    return (
      t.type === 'segment' &&
      input.stored !== undefined &&
      !preview &&
      !Object.hasOwn(input.stored?.segments ?? {}, t.segmentId)
    );
  };
  const templateInput: TemplateInput = {
    profile,
    event: flow.trigger.type === 'metric' || flow.trigger.type === 'item' ? event.properties : null,
    organization: input.organization,
    flow: { id: flow.id, name: flow.name },
    now,
  };
  const result: WalkResult = { jobs: [], held: [], steps: [] };
  const step = (actionId: string, kind: StepKind, reason?: string, detail?: string): void => {
    const s: WalkStep = { actionId, kind };
    if (reason !== undefined) s.reason = reason;
    if (detail !== undefined) s.detail = detail;
    result.steps.push(s);
  };
  /** Where the walk resumes after waiting `waitMs` at `actionId`. */
  const waitAt = (actionId: string, resumeActionId: string, waitMs: number): DelayResume => ({
    flow_id: flow.id,
    flow_version: flow.version,
    event_id: event.id,
    profile_id: profileId,
    delay_action_id: actionId,
    resume_action_id: resumeActionId,
    wait_ms: waitMs,
    resume_at: new Date(now.getTime() + waitMs).toISOString(),
    previous_entry_at: previousEntryAt === null ? null : previousEntryAt.toISOString(),
    flow_start_at: flowStartAt.toISOString(),
  });
  const passesProfileFilter = (): boolean => flow.profileFilter === null || flow.profileFilter(ctx);

  let current: string | null = input.startAt ?? flow.entryActionId;
  if (input.startAt !== undefined && !flow.actions.has(input.startAt)) {
    step(input.startAt, 'skipped', 'resume_action_missing');
    return result;
  }
  const visited = new Set<string>();
  while (current !== null) {
    if (visited.has(current)) break; // validation refuses cycles; this only guards
    visited.add(current);
    const action: CompiledAction | undefined = flow.actions.get(current);
    if (action === undefined) {
      step(current, 'skipped', 'resume_action_missing');
      break;
    }
    switch (action.kind) {
      case 'webhook': {
        current = action.next;
        if (!passesProfileFilter()) {
          step(action.id, 'skipped', 'profile_filter');
          break;
        }
        if (leftSegment()) {
          step(action.id, 'skipped', 'left_segment');
          break;
        }
        if (!preview) {
          if (flow.status === 'draft') {
            step(action.id, 'skipped', 'flow_draft');
            break;
          }
          if (action.status === 'draft' || action.status === 'disabled') {
            step(action.id, 'skipped', action.status);
            break;
          }
        }
        const held = heldReason(flow, action, preview);
        try {
          const job = renderJob(flow, action, event, profileId, templateInput);
          if (held === undefined) {
            result.jobs.push(job);
            step(action.id, 'webhook');
            // Klaviyo schedules one step at a time: the next waits for this webhook's outcome.
            if (flow.sequentialWebhooks && !preview && action.next !== null) {
              job.await_outcome = true;
              step(action.id, 'delay', 'webhook_outcome');
              result.delay = {
                ...waitAt(action.id, action.next, AWAIT_OUTCOME_MS),
                awaits: job.id,
              };
              current = null;
            }
          } else {
            result.held.push(job);
            step(action.id, 'held', held);
          }
        } catch (e) {
          step(action.id, 'render_error', errorCode(e), e instanceof Error ? e.message : String(e));
        }
        break;
      }
      case 'pass':
        current = action.next;
        if (!passesProfileFilter()) step(action.id, 'skipped', 'profile_filter');
        else step(action.id, 'passed', action.type);
        break;
      case 'split': {
        const yes = action.test(ctx);
        step(action.id, 'split', yes ? 'true' : 'false');
        current = yes ? action.ifTrue : action.ifFalse;
        break;
      }
      case 'multi-split': {
        const branch = action.branches.find((b) => b.test(ctx));
        step(action.id, 'split', branch === undefined ? 'else' : `branch:${branch.branchId}`);
        current = branch === undefined ? action.elseNext : branch.next;
        break;
      }
      case 'delay': {
        if (action.next === null || (!action.workAfter && !preview)) {
          step(action.id, 'skipped', 'nothing_after_delay');
          current = null;
          break;
        }
        if (preview) {
          step(action.id, 'delay', 'preview');
          current = action.next;
          break;
        }
        const d = computeDelay(
          action.data,
          now,
          profile.location?.timezone ?? null,
          input.fallbackTimeZone,
        );
        step(action.id, 'delay', String(d.waitMs));
        result.delay = waitAt(action.id, action.next, d.waitMs);
        current = null;
        break;
      }
    }
  }
  return result;
}
