// Who may do what, as pure functions of the signed-in principal and the documents involved.
//
//   - Roles are Klaviyo's: owner > admin > manager > analyst > viewer. A missing or unknown
//     role is viewer (the least), never an error that could be mistaken for more.
//   - Everyone signed in reads. Manager and above create, edit, delete and change the status
//     of flows, and replay, release and discard webhooks.
//   - Creating a flow with a webhook action, adding one, or changing a webhook's URL, headers,
//     body or signing secret also needs MFA evidence in the token: an `amr` value or the `acr`
//     among the configured ones. Removing a webhook, or changing only its status, does not.

import { ForbiddenError, MfaRequiredError } from '../errors';

export const ADMIN_ROLES = ['owner', 'admin', 'manager', 'analyst', 'viewer'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

export interface Principal {
  subject: string;
  email: string | null;
  role: AdminRole;
  amr: string[];
  acr: string | null;
}

export interface MfaSettings {
  amr: readonly string[];
  acr: readonly string[];
}

const RANK: Record<AdminRole, number> = { owner: 4, admin: 3, manager: 2, analyst: 1, viewer: 0 };

function asRole(value: unknown): AdminRole | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  return (ADMIN_ROLES as readonly string[]).includes(v) ? (v as AdminRole) : undefined;
}

/** The role in `claims` at the dotted `claimPath`; an array gives its highest known role. */
export function roleFromClaims(claims: Record<string, unknown>, claimPath: string): AdminRole {
  let value: unknown = claims;
  for (const part of claimPath.split('.')) {
    value =
      value !== null && typeof value === 'object'
        ? (value as Record<string, unknown>)[part]
        : undefined;
  }
  const candidates = (Array.isArray(value) ? value : [value]).map(asRole);
  let best: AdminRole = 'viewer';
  for (const role of candidates) if (role && RANK[role] > RANK[best]) best = role;
  return best;
}

export function hasMfa(principal: Principal, settings: MfaSettings): boolean {
  if (principal.amr.some((m) => settings.amr.includes(m))) return true;
  return principal.acr !== null && settings.acr.includes(principal.acr);
}

export type Permission = 'read' | 'edit_flows' | 'operate';

export function can(principal: Principal, permission: Permission): boolean {
  if (permission === 'read') return true;
  return RANK[principal.role] >= RANK.manager;
}

export function requirePermission(principal: Principal, permission: Permission): void {
  if (!can(principal, permission)) {
    const what =
      permission === 'edit_flows' ? 'create or edit flows' : 'replay, release or discard webhooks';
    throw new ForbiddenError(
      `role ${principal.role} may not ${what}: manager, admin or owner is needed`,
    );
  }
}

interface WebhookView {
  url: unknown;
  headers: unknown;
  body: unknown;
  signing_secret: unknown;
}

/** The send-webhook actions of a flow document, by action id. */
function webhooksOf(doc: unknown): Map<string, WebhookView> {
  const out = new Map<string, WebhookView>();
  const actions = (doc as { definition?: { actions?: unknown } } | null)?.definition?.actions;
  if (!Array.isArray(actions)) return out;
  actions.forEach((action: unknown, index) => {
    const a = action as {
      type?: unknown;
      id?: unknown;
      temporary_id?: unknown;
      data?: { message?: Record<string, unknown> };
    } | null;
    if (a?.type !== 'send-webhook') return;
    const id =
      typeof a.id === 'string'
        ? a.id
        : typeof a.temporary_id === 'string'
          ? a.temporary_id
          : `#${index}`;
    const m = a.data?.message ?? {};
    out.set(id, {
      url: m.url,
      headers: m.headers ?? null,
      body: m.body ?? null,
      signing_secret: m.signing_secret ?? null,
    });
  });
  return out;
}

/** Key-order-insensitive equality of JSON values. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}

/**
 * What a write does to webhooks that needs MFA, in words ("adds webhook action crm",
 * "changes the URL of webhook crm"); empty when nothing does. `before` null = a new flow.
 */
export function webhookChanges(before: unknown, after: unknown): string[] {
  const old = webhooksOf(before);
  const changes: string[] = [];
  for (const [id, hook] of webhooksOf(after)) {
    const prev = old.get(id);
    if (!prev) {
      changes.push(before === null ? `creates webhook action ${id}` : `adds webhook action ${id}`);
      continue;
    }
    const changed = (['url', 'headers', 'body', 'signing_secret'] as const).filter(
      (field) => !sameJson(prev[field], hook[field]),
    );
    const words = {
      url: 'URL',
      headers: 'headers',
      body: 'body',
      signing_secret: 'signing secret',
    };
    if (changed.length > 0)
      changes.push(`changes the ${changed.map((f) => words[f]).join(', ')} of webhook ${id}`);
  }
  return changes;
}

/**
 * Throws unless the principal may write `after` over `before` (null = create, `after` null =
 * delete): ForbiddenError for a role below manager, MfaRequiredError (saying why) for a
 * webhook change without MFA evidence.
 */
export function authorizeFlowWrite(
  principal: Principal,
  before: unknown,
  after: unknown,
  mfa: MfaSettings,
): void {
  requirePermission(principal, 'edit_flows');
  if (after === null) return;
  const changes = webhookChanges(before, after);
  if (changes.length > 0 && !hasMfa(principal, mfa)) {
    throw new MfaRequiredError(
      `this change ${changes.join('; ')}: adding or editing a webhook needs two-step ` +
        `authentication, and your sign-in carries no MFA evidence (amr ${JSON.stringify(principal.amr)}` +
        `${principal.acr ? `, acr ${principal.acr}` : ''}; accepted amr: ${mfa.amr.join(', ')}` +
        `${mfa.acr.length > 0 ? `; accepted acr: ${mfa.acr.join(', ')}` : ''}). Sign in again with a second factor.`,
    );
  }
}

/** A one-line summary of a flow change for the audit log. */
export function describeFlowChange(before: unknown, after: unknown): string {
  if (after === null) return 'deleted the flow';
  const parts: string[] = [];
  if (before === null) parts.push('created the flow');
  else {
    const b = before as Record<string, unknown>;
    const a = after as Record<string, unknown>;
    if (b.status !== a.status) parts.push(`status ${String(b.status)} -> ${String(a.status)}`);
    if (b.name !== a.name) parts.push('renamed');
    if (!sameJson(b.definition, a.definition)) parts.push('definition changed');
  }
  parts.push(...webhookChanges(before, after));
  return parts.length > 0 ? parts.join('; ') : 'no change';
}
