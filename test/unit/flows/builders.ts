// Shared helpers for flow, walker and entry tests: fixtures and small document builders.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FlowhookEvent } from '../../../src/documents';
import { validateFlow } from '../../../src/flows/validate';
import type { CompiledFlow } from '../../../src/flows/types';

export const FIXTURES = join(__dirname, '../../fixtures');

export function readFixture<T = unknown>(relative: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, relative), 'utf8')) as T;
}

export type Doc = Record<string, unknown> & {
  definition: Record<string, unknown> & { actions: Record<string, unknown>[] };
};

export function clone<T>(v: T): T {
  return structuredClone(v);
}

/**
 * A minimal valid metric flow: one live webhook. Webhooks fire in parallel (the walk's tests
 * see every step at once); sequential webhooks have tests of their own.
 */
export function flowDoc(
  over: Record<string, unknown> = {},
  definition: Record<string, unknown> = {},
): Doc {
  return {
    id: 'flow-1',
    name: 'Test flow',
    status: 'live',
    version: 1,
    webhook_order: 'parallel',
    ...over,
    definition: {
      triggers: [{ type: 'metric', id: 'Placed Order' }],
      entry_action_id: 'hook',
      actions: [webhook('hook', null)],
      ...definition,
    },
  } as Doc;
}

export function webhook(
  id: string,
  next: string | null,
  message: Record<string, unknown> = {},
  /** null: no status at all (Klaviyo's default, draft, applies). */
  status: string | null = 'live',
): Record<string, unknown> {
  return {
    id,
    type: 'send-webhook',
    links: { next },
    data: {
      ...(status === null ? {} : { status }),
      message: { url: `https://hooks.example.com/${id}`, body: '{"ok": true}', ...message },
    },
  };
}

export function delay(
  id: string,
  next: string | null,
  data: Record<string, unknown> = { unit: 'hours', value: 2 },
): Record<string, unknown> {
  return { id, type: 'time-delay', links: { next }, data };
}

export function pass(
  id: string,
  next: string | null,
  type = 'send-email',
): Record<string, unknown> {
  return { id, type, links: { next }, data: { status: 'live' } };
}

export const conditions = (...conds: unknown[]): unknown => ({
  condition_groups: [{ conditions: conds }],
});

export function conditionalSplit(
  id: string,
  ifTrue: string | null,
  ifFalse: string | null,
  ...conds: unknown[]
): Record<string, unknown> {
  return {
    id,
    type: 'conditional-split',
    links: { next_if_true: ifTrue, next_if_false: ifFalse },
    data: { profile_filter: conditions(...conds) },
  };
}

export function triggerSplit(
  id: string,
  ifTrue: string | null,
  ifFalse: string | null,
  ...conds: unknown[]
): Record<string, unknown> {
  return {
    id,
    type: 'trigger-split',
    links: { next_if_true: ifTrue, next_if_false: ifFalse },
    data: { trigger_filter: conditions(...conds) },
  };
}

export const metricProp = (field: string, filter: unknown, metric = 'Placed Order'): unknown => ({
  type: 'metric-property',
  metric_id: metric,
  field,
  filter,
});
export const profileProp = (property: string, filter: unknown): unknown => ({
  type: 'profile-property',
  property,
  filter,
});

/** Validates and compiles; fails the test with the problems when the document is invalid. */
export function compile(doc: unknown, allowHttp = false): CompiledFlow {
  const r = validateFlow(doc, { allowHttp });
  if (!r.ok)
    throw new Error(
      `flow is invalid:\n${r.problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`,
    );
  return r.flow;
}

export function event(over: Partial<FlowhookEvent> = {}): FlowhookEvent {
  return {
    id: 'evt-1',
    metric: 'Placed Order',
    time: '2024-05-01T12:00:00.000Z',
    profile: {
      id: 'p-1',
      email: 'sarah@example.com',
      first_name: 'Sarah',
      location: { country: 'US', timezone: 'America/New_York' },
    },
    properties: { OrderId: '1234', $value: 129.99, ItemNames: ['Book'] },
    ...over,
  };
}
