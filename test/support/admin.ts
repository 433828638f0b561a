import type {
  ActivityFilter,
  ActivityPage,
  ActivityReader,
  ActivityStatus,
  ReviewItem,
} from '../../src/activity/types';
import { AdminRole, type AdminRoleOptions } from '../../src/admin/role';
import type { ReviewActions, ReviewActor } from '../../src/admin/types';
import { startFlowhook, type Harness } from './flowhook-harness';

export const AUDIENCE = 'urn:flowhook:api';
export const ROLE_CLAIM = 'flowhook_role';

/** In-memory ActivityReader: returns its records, remembers the filters it was asked for. */
export class FakeActivity implements ActivityReader {
  readonly filters: ActivityFilter[] = [];
  constructor(
    readonly page: ActivityPage = { items: [], next_cursor: null },
    readonly held: ReviewItem[] = [],
  ) {}
  async list(filter: ActivityFilter): Promise<ActivityPage> {
    this.filters.push(filter);
    return this.page;
  }
  async review(filter: { flow_id?: string }) {
    return {
      items: this.held.filter((i) => filter.flow_id === undefined || i.flow_id === filter.flow_id),
      next_cursor: null,
    };
  }
  async reviewItem(id: string): Promise<ReviewItem | undefined> {
    return this.held.find((i) => i.id === id);
  }
  async statusCounts(flowIds: readonly string[], since: Date) {
    const out: Record<string, Partial<Record<ActivityStatus, number>>> = {};
    for (const r of this.page.items)
      if (flowIds.includes(r.flow_id) && Date.parse(r.time) >= since.getTime()) {
        const counts = (out[r.flow_id] ??= {});
        counts[r.status] = (counts[r.status] ?? 0) + 1;
      }
    return out;
  }
}

/** In-memory ReviewActions: records each decision and drops the item from the fake store. */
export class FakeReview implements ReviewActions {
  readonly decisions: { decision: 'release' | 'discard'; id: string; actor: ReviewActor }[] = [];
  constructor(private readonly activity: FakeActivity) {}
  async release(id: string, actor: ReviewActor): Promise<void> {
    this.decide('release', id, actor);
  }
  async discard(id: string, actor: ReviewActor): Promise<void> {
    this.decide('discard', id, actor);
  }
  private decide(decision: 'release' | 'discard', id: string, actor: ReviewActor): void {
    this.decisions.push({ decision, id, actor });
    const i = this.activity.held.findIndex((h) => h.id === id);
    if (i >= 0) this.activity.held.splice(i, 1);
  }
}

export interface AdminHarness extends Harness {
  admin: AdminRole;
  url(path: string): string;
}

/** The admin role alone, against the test broker, signing people in with `issuer`. */
export async function startAdmin(
  issuer: string,
  options: AdminRoleOptions = {},
  settings: Record<string, string> = {},
): Promise<AdminHarness> {
  let admin: AdminRole | undefined;
  const harness = await startFlowhook({
    name: 'admin',
    settings: {
      FLOWHOOK_ROLES: 'admin',
      FLOWHOOK_ADMIN_PORT: '0',
      FLOWHOOK_OIDC_ISSUER: issuer,
      FLOWHOOK_OIDC_AUDIENCE: AUDIENCE,
      FLOWHOOK_OIDC_ROLE_CLAIM: ROLE_CLAIM,
      FLOWHOOK_OIDC_ALGORITHMS: 'ES256,RS256',
      ...settings,
    },
    roles: { admin: (ctx) => (admin = new AdminRole(ctx, options)) },
  });
  const role = admin as AdminRole;
  return { ...harness, admin: role, url: (path) => `http://127.0.0.1:${role.port}${path}` };
}

export interface ApiResponse {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test assertions read JSON freely
}

/** One API call with a bearer token (none when token is undefined). */
export async function api(
  h: AdminHarness,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
): Promise<ApiResponse> {
  const res = await fetch(h.url(path), {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
}
