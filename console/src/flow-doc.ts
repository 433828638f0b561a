// Reading a flow document (FlowDefinition) for drawing and editing: the actions by id and the
// links between them. Loose on purpose: the API validated the document; the console only walks it.

import type { Flow } from './api';

export interface ActionView {
  id: string;
  type: string;
  links?: {
    next?: string | null;
    next_if_true?: string | null;
    next_if_false?: string | null;
  } | null;
  data?: {
    status?: string;
    message?: WebhookMessage;
    unit?: string;
    value?: number;
    branches?: { branch_id: string; links?: { next?: string | null } | null; is_else?: boolean }[];
    [k: string]: unknown;
  };
}

export interface WebhookMessage {
  url: string;
  headers?: Record<string, string> | null;
  body?: string | null;
  signing_secret?: string | null;
  [k: string]: unknown;
}

interface DefinitionView {
  triggers?: { type?: string; id?: string }[];
  entry_action_id?: string | null;
  actions?: ActionView[];
}

export function definitionOf(flow: Flow): DefinitionView {
  return ((flow as { definition?: unknown }).definition ?? {}) as DefinitionView;
}

export function actionsOf(flow: Flow): Map<string, ActionView> {
  return new Map((definitionOf(flow).actions ?? []).map((a) => [a.id, a]));
}

/** The branches leaving an action, labelled (a plain action has one, unlabelled). */
export function branchesOf(a: ActionView): { label: string; next: string | null }[] {
  if (a.type === 'conditional-split' || a.type === 'trigger-split')
    return [
      { label: 'yes', next: a.links?.next_if_true ?? null },
      { label: 'no', next: a.links?.next_if_false ?? null },
    ];
  if (a.type === 'multi-branch-split')
    return (a.data?.branches ?? []).map((b) => ({
      label: b.is_else ? 'else' : b.branch_id,
      next: b.links?.next ?? null,
    }));
  return [{ label: '', next: a.links?.next ?? null }];
}

export function describeAction(a: ActionView): string {
  switch (a.type) {
    case 'send-webhook':
      return a.data?.message?.url ?? '';
    case 'time-delay':
      return `wait ${a.data?.value ?? '?'} ${a.data?.unit ?? 'days'}`;
    case 'conditional-split':
      return 'profile filter';
    case 'trigger-split':
      return 'event filter';
    case 'multi-branch-split':
      return `${a.data?.branches?.length ?? 0} branches`;
    default:
      return '';
  }
}

/** The flow with one webhook message replaced (a copy; the rest unchanged). */
export function withMessage(flow: Flow, actionId: string, message: WebhookMessage): Flow {
  const def = definitionOf(flow);
  return {
    ...flow,
    definition: {
      ...def,
      actions: (def.actions ?? []).map((a) =>
        a.id === actionId ? { ...a, data: { ...a.data, message } } : a,
      ),
    },
  } as Flow;
}

/** A made-up event for the trigger, when none is pasted. */
export function exampleEvent(flow: Flow): Record<string, unknown> {
  const trigger = definitionOf(flow).triggers?.[0];
  return {
    id: 'example-event-1',
    metric: trigger?.type === 'metric' ? trigger.id : 'Example',
    time: new Date().toISOString(),
    profile: { id: 'example-profile', email: 'sam@example.com', first_name: 'Sam' },
    properties: { OrderId: 'A-1001', $value: 42 },
  };
}
