// The admin API as the console sees it: types generated from its OpenAPI document
// (src/generated/api.ts, written by `npm run build`), one fetch wrapper with the bearer token.

import type { components, paths } from './generated/api';
import { currentToken } from './auth';

type Schemas = components['schemas'];
export type Flow = Schemas['Flow'];
export type FlowSummary = Schemas['FlowSummary'];
export type Me = Schemas['Me'];
export type SignIn = Schemas['SignIn'];
export type ActivityRecord = Schemas['ActivityRecord'];
export type AuditEntry = Schemas['AuditEntry'];
export type ReviewItem = Schemas['ReviewItem'];
export type DlqEntry = Schemas['DlqEntry'];
export type DraftPreview = Schemas['DraftPreview'];
export type TestSend = Schemas['TestSend'];
export type ApiErrorBody = Schemas['Error']['error'];
export type Problem = DraftPreview['problems'][number];

/** The JSON a route answers with on success, from the OpenAPI document. */
type Ok<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  responses: infer R;
}
  ? R extends { 200: { content: { 'application/json': infer T } } }
    ? T
    : R extends { 201: { content: { 'application/json': infer T } } }
      ? T
      : unknown
  : never;

/** A refused or failed call, with the API's FLOWHOOK_ERR_* code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
  }
  get code(): string {
    return this.body.code;
  }
}

/** Called when the API answers 401: the token expired or was refused. */
let onUnauthenticated: () => void = () => undefined;
export function whenUnauthenticated(handler: () => void): void {
  onUnauthenticated = handler;
}

async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const token = currentToken();
  const res = await fetch(url, {
    method,
    headers: {
      accept: 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json: unknown = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const error = (json as { error?: ApiErrorBody } | null)?.error ?? {
      code: 'FLOWHOOK_ERR_INTERNAL',
      message: `${res.status} ${res.statusText}`,
    };
    if (res.status === 401) onUnauthenticated();
    throw new ApiError(res.status, error);
  }
  return json as T;
}

const query = (params: Record<string, string | number | undefined | null>) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
};
const enc = encodeURIComponent;

export const api = {
  signIn: () => call<Ok<'/api/sign-in', 'get'>>('GET', '/api/sign-in'),
  me: () => call<Ok<'/api/me', 'get'>>('GET', '/api/me'),
  flows: (p: { q?: string; status?: string; cursor?: string | null; limit?: number }) =>
    call<Ok<'/api/flows', 'get'>>('GET', `/api/flows${query(p)}`),
  flow: (id: string) => call<Ok<'/api/flows/{id}', 'get'>>('GET', `/api/flows/${enc(id)}`),
  saveFlow: (id: string, doc: Flow) =>
    call<Ok<'/api/flows/{id}', 'put'>>('PUT', `/api/flows/${enc(id)}`, doc),
  setStatus: (id: string, status: 'live' | 'manual' | 'draft', version: number | undefined) =>
    call<Ok<'/api/flows/{id}/status', 'patch'>>('PATCH', `/api/flows/${enc(id)}/status`, {
      status,
      version,
    }),
  draftPreview: (flow: Flow, event: unknown) =>
    call<Ok<'/api/flows/draft-preview', 'post'>>('POST', '/api/flows/draft-preview', {
      flow,
      event,
    }),
  testSend: (id: string, event: unknown) =>
    call<Ok<'/api/flows/{id}/test-send', 'post'>>('POST', `/api/flows/${enc(id)}/test-send`, event),
  activity: (p: {
    flow_id?: string;
    action_id?: string;
    status?: string;
    profile?: string;
    since?: string;
    until?: string;
    cursor?: string | null;
    limit?: number;
  }) => call<Ok<'/api/activity', 'get'>>('GET', `/api/activity${query(p)}`),
  review: (p: { flow_id?: string; cursor?: string | null; limit?: number }) =>
    call<Ok<'/api/review', 'get'>>('GET', `/api/review${query(p)}`),
  decide: (id: string, decision: 'release' | 'discard') =>
    call<unknown>('POST', `/api/review/${enc(id)}/${decision}`),
  dlq: (p: { flow_id?: string }) => call<Ok<'/api/dlq', 'get'>>('GET', `/api/dlq${query(p)}`),
  replay: (flowId: string) =>
    call<Ok<'/api/dlq/replay', 'post'>>('POST', '/api/dlq/replay', { flow_id: flowId }),
  audit: (p: { flow_id?: string; limit?: number }) =>
    call<Ok<'/api/audit', 'get'>>('GET', `/api/audit${query(p)}`),
};
