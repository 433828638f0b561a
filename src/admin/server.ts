// The admin API's routes (fastify). Each handler authenticates, checks the policy, calls the
// application layer (src/app) and returns data; errors become JSON with their FLOWHOOK_ERR_*
// code. Flow writes are checked against the version the client read (a stale write is 409),
// signed when signing is on, and published with their audit entry in one transaction.

import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ActivityFilter, ActivityStatus } from '../activity/types';
import { ACTIVITY_STATUSES } from '../activity/types';
import { auditEntry, type AuditAction, type AuditActor, type AuditLog } from '../app/audit';
import type { AppDeps } from '../app/deps';
import { dlqList, dlqReplay, parseSince, type DlqFilter } from '../app/dlq';
import { checkDocument, previewFlows, summarizeFlow, testSend } from '../app/flows';
import type { FlowPublisher } from '../app/publish';
import {
  BadRequestError,
  FlowhookError,
  FlowValidationError,
  NotConfiguredError,
  NotFoundError,
  VersionConflictError,
} from '../errors';
import type { CompiledFlow } from '../flows/types';
import type { Authenticator } from './auth';
import type { FlowView } from './flow-view';
import { consoleDirectory, serveConsole } from './console-files';
import { openApiDocument, pageOf, type RouteDoc } from './openapi';
import {
  authorizeFlowWrite,
  can,
  describeFlowChange,
  hasMfa,
  requirePermission,
  type MfaSettings,
  type Principal,
} from './policy';
import type { AdminServices } from './types';

export interface AdminServerDeps extends AdminServices {
  app: AppDeps;
  authenticator: Authenticator;
  mfa: MfaSettings;
  flows: FlowView;
  audit: AuditLog;
  publisher: FlowPublisher;
  /** Signs a document before it is published (signing on), naming the publisher. */
  sign?: (doc: Record<string, unknown>, publisher: string) => Record<string, unknown>;
  /** How the web console signs in (undefined while the local issuer starts). */
  signIn?: () => SignInConfig | undefined;
  /** The built console's directory (default: dist/console of this package). */
  consoleRoot?: string;
  /** Requests below /oidc go here (the embedded local issuer), when set. */
  oidcMount?: () => ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  clock?: () => Date;
}

const HTTP_STATUS: Record<string, number> = {
  FLOWHOOK_ERR_UNAUTHENTICATED: 401,
  FLOWHOOK_ERR_FORBIDDEN: 403,
  FLOWHOOK_ERR_MFA_REQUIRED: 403,
  FLOWHOOK_ERR_NOT_FOUND: 404,
  FLOWHOOK_ERR_VERSION_CONFLICT: 409,
  FLOWHOOK_ERR_BAD_REQUEST: 400,
  FLOWHOOK_ERR_EVENT_DECODE: 400,
  FLOWHOOK_ERR_FLOW_INVALID: 422,
  FLOWHOOK_ERR_SECRET_HOST: 422,
  FLOWHOOK_ERR_NOT_CONFIGURED: 503,
  FLOWHOOK_ERR_KAFKA_UNAVAILABLE: 503,
};

export interface SignInConfig {
  issuer: string;
  client_id: string;
  audience: string;
  /** RFC 8707 resource indicator the console asks a token for (an absolute URI), if any. */
  resource?: string;
  scope: string;
  local: boolean;
}

export const ROUTES: readonly RouteDoc[] = [
  { method: 'GET', url: '/api/openapi.json', summary: 'This document', access: 'anyone' },
  {
    method: 'GET',
    url: '/api/sign-in',
    summary: "The console's sign-in: issuer and public client (authorization code + PKCE)",
    access: 'anyone',
    response: 'SignIn',
  },
  {
    method: 'GET',
    url: '/api/me',
    summary: 'The signed-in principal and what it may do',
    access: 'signed in',
    response: 'Me',
  },
  {
    method: 'GET',
    url: '/api/flows',
    summary:
      'List flows by id with their last 24 h of activity; q matches id or name; 100 a page unless limit says (at most 1,000)',
    access: 'signed in',
    query: ['q', 'status', 'cursor', 'limit'],
    response: pageOf('FlowSummary'),
  },
  {
    method: 'POST',
    url: '/api/flows/draft-preview',
    summary: 'Validate an unsaved flow and preview its requests for an event (nothing sent)',
    access: 'signed in',
    body: {
      type: 'object',
      required: ['flow', 'event'],
      properties: {
        flow: { $ref: '#/components/schemas/Flow' },
        event: { $ref: '#/components/schemas/Event' },
      },
    },
    response: 'DraftPreview',
  },
  {
    method: 'POST',
    url: '/api/flows',
    summary: 'Create a flow (version 1)',
    access: 'manager+; MFA when it has a webhook',
    body: 'Flow',
    response: 'Flow',
    status: 201,
  },
  {
    method: 'POST',
    url: '/api/flows/validate',
    summary: 'Validate a flow document',
    access: 'signed in',
    body: 'Flow',
    response: 'Validation',
  },
  {
    method: 'GET',
    url: '/api/flows/:id',
    summary: 'One flow document',
    access: 'signed in',
    response: 'Flow',
  },
  {
    method: 'PUT',
    url: '/api/flows/:id',
    summary: 'Replace a flow; body.version is the version edited (stale: 409)',
    access: 'manager+; MFA to add or change a webhook',
    body: 'Flow',
    response: 'Flow',
  },
  {
    method: 'PATCH',
    url: '/api/flows/:id/status',
    summary: 'Set the status (live, manual, draft)',
    access: 'manager+',
    body: {
      type: 'object',
      required: ['status'],
      properties: { status: { enum: ['live', 'manual', 'draft'] }, version: { type: 'integer' } },
    },
    response: 'Flow',
  },
  {
    method: 'DELETE',
    url: '/api/flows/:id',
    summary: 'Delete a flow (?version= to guard against a stale delete)',
    access: 'manager+',
    query: ['version'],
  },
  {
    method: 'POST',
    url: '/api/flows/:id/preview',
    summary: 'The requests the flow would send for an event (nothing sent)',
    access: 'signed in',
    body: 'Event',
    response: 'Preview',
  },
  {
    method: 'POST',
    url: '/api/flows/:id/test-send',
    summary: 'Send those requests once and return the responses',
    access: 'manager+',
    body: 'Event',
    response: 'TestSend',
  },
  {
    method: 'GET',
    url: '/api/activity',
    summary: 'Activity log, newest first',
    access: 'signed in',
    query: [
      'flow_id',
      'action_id',
      'profile',
      'status',
      'since',
      'until',
      'job_id',
      'cursor',
      'limit',
    ],
    response: pageOf('ActivityRecord'),
  },
  {
    method: 'GET',
    url: '/api/review',
    summary: 'Webhooks held for review',
    access: 'signed in',
    query: ['flow_id', 'cursor', 'limit'],
    response: pageOf('ReviewItem'),
  },
  {
    method: 'POST',
    url: '/api/review/:id/release',
    summary: 'Send a held webhook (same webhook-id)',
    access: 'manager+',
  },
  {
    method: 'POST',
    url: '/api/review/:id/discard',
    summary: 'Drop a held webhook',
    access: 'manager+',
  },
  {
    method: 'GET',
    url: '/api/dlq',
    summary: 'Dead-lettered webhooks',
    access: 'signed in',
    query: ['flow_id', 'since'],
    response: {
      type: 'object',
      required: ['items'],
      properties: { items: { type: 'array', items: { $ref: '#/components/schemas/DlqEntry' } } },
    },
  },
  {
    method: 'POST',
    url: '/api/dlq/replay',
    summary: 'Re-enqueue dead webhooks (same webhook-id)',
    access: 'manager+',
    body: {
      type: 'object',
      properties: { flow_id: { type: 'string' }, since: { type: 'string' } },
    },
    response: {
      type: 'object',
      required: ['replayed', 'jobIds'],
      properties: {
        replayed: { type: 'integer' },
        jobIds: { type: 'array', items: { type: 'string' } },
        notReplayable: { type: 'integer' },
      },
    },
  },
  {
    method: 'GET',
    url: '/api/audit',
    summary: 'Audit log, newest first',
    access: 'signed in',
    query: ['flow_id', 'since', 'limit'],
    response: {
      type: 'object',
      required: ['items'],
      properties: { items: { type: 'array', items: { $ref: '#/components/schemas/AuditEntry' } } },
    },
  },
];

const FLOW_PAGE = 100;
const MAX_FLOW_PAGE = 1000;
const DAY_MS = 24 * 3600_000;

/** The flows list's outcome columns from the activity store's counts per status. */
function last24h(counts: Partial<Record<ActivityStatus, number>>) {
  const n = (...statuses: ActivityStatus[]) =>
    statuses.reduce((sum, st) => sum + (counts[st] ?? 0), 0);
  return {
    delivered: n('delivered'),
    // A webhook that fails for good is `failed` once (then `dead_lettered`): count it once.
    failed: n('failed'),
    waiting: n('waiting', 'held'),
  };
}

function actorOf(p: Principal): AuditActor {
  return { subject: p.subject, email: p.email, role: p.role, amr: p.amr };
}

function stringParam(query: unknown, name: string): string | undefined {
  const v = (query as Record<string, unknown> | undefined)?.[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string')
    throw new BadRequestError(`query parameter ${name} must be given once`);
  return v;
}

function intParam(query: unknown, name: string): number | undefined {
  const v = stringParam(query, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v))
    throw new BadRequestError(`query parameter ${name} must be a non-negative integer`);
  return Number(v);
}

function timeParam(query: unknown, name: string): string | undefined {
  const v = stringParam(query, name);
  return v === undefined ? undefined : new Date(parseSince(v)).toISOString();
}

function asObject(body: unknown, what: string): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new BadRequestError(`the body must be ${what} (a JSON object)`);
  return body as Record<string, unknown>;
}

/** The event bytes of a preview/test-send body: JSON (re-serialised) or registry-framed bytes. */
function eventBytes(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (body === undefined || body === null) throw new BadRequestError('the body must be an event');
  return Buffer.from(JSON.stringify(body));
}

export function buildAdminServer(deps: AdminServerDeps): FastifyInstance {
  const clock = deps.clock ?? (() => new Date());
  const server = Fastify({ logger: false, bodyLimit: 5 * 1024 * 1024 });
  const openapi = openApiDocument(ROUTES);

  server.addContentTypeParser(
    'application/octet-stream',
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, body),
  );

  server.setErrorHandler((err: unknown, _request, reply) => {
    if (err instanceof FlowhookError) {
      const problems = err instanceof FlowValidationError ? { problems: err.problems } : {};
      void reply
        .code(HTTP_STATUS[err.code] ?? 500)
        .send({ error: { code: err.code, message: err.message, ...problems } });
      return;
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      void reply.code(status).send({
        error: { code: 'FLOWHOOK_ERR_BAD_REQUEST', message: (err as Error).message },
      });
      return;
    }
    deps.app.logger.error({ err }, 'admin API error');
    void reply
      .code(500)
      .send({ error: { code: 'FLOWHOOK_ERR_INTERNAL', message: 'internal error' } });
  });
  server.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({
      error: {
        code: 'FLOWHOOK_ERR_NOT_FOUND',
        message: `no route ${request.method} ${request.url}`,
      },
    });
  });

  // The embedded issuer gets its requests raw, before fastify parses their (form) bodies.
  server.addHook('onRequest', (request, reply, done) => {
    const handle = deps.oidcMount?.();
    if (handle && (request.url === '/oidc' || request.url.startsWith('/oidc/'))) {
      void reply.hijack();
      handle(request.raw, reply.raw);
      return;
    }
    done();
  });

  const signIn = (request: FastifyRequest) =>
    deps.authenticator.authenticate(request.headers.authorization);

  const currentDoc = (id: string): Record<string, unknown> => {
    const doc = deps.flows.get(id);
    if (doc === undefined) throw new NotFoundError(`no flow ${id}`);
    return (doc ?? {}) as Record<string, unknown>;
  };

  const validated = (doc: unknown): CompiledFlow => {
    const result = checkDocument(doc, deps.app);
    if (!result.ok) throw new FlowValidationError(result.problems);
    return result.flow;
  };

  /** Publishes one flow change with its audit entry and waits until the view shows it. */
  const publish = async (
    request: FastifyRequest,
    principal: Principal,
    action: AuditAction,
    id: string,
    before: unknown,
    after: Record<string, unknown> | null,
  ): Promise<Record<string, unknown> | null> => {
    const doc = after && deps.sign ? deps.sign(after, principal.email ?? principal.subject) : after;
    const version = (after ?? (before as Record<string, unknown> | null))?.version;
    const { offsets } = await deps.publisher.publish([
      {
        record: { id, doc },
        audit: auditEntry(
          {
            actor: actorOf(principal),
            address: request.ip,
            action,
            flow_id: id,
            version: typeof version === 'number' ? version : null,
            summary: describeFlowChange(before, after),
          },
          clock(),
        ),
      },
    ]);
    await deps.flows.waitFor(offsets[0] ?? 0n);
    return doc;
  };

  const checkVersion = (id: string, current: Record<string, unknown>, based: unknown) => {
    if (based !== undefined && based !== current.version) {
      throw new VersionConflictError(
        `flow ${id} is at version ${String(current.version)}; this change was based on version ${String(based)}: reload it and apply the change again`,
      );
    }
  };

  server.get('/api/openapi.json', async () => openapi);

  server.get('/api/me', async (request) => {
    const p = await signIn(request);
    return {
      subject: p.subject,
      email: p.email,
      role: p.role,
      amr: p.amr,
      acr: p.acr,
      mfa: hasMfa(p, deps.mfa),
      may: { read: true, edit_flows: can(p, 'edit_flows'), operate: can(p, 'operate') },
    };
  });

  server.get('/api/sign-in', async () => {
    const config = deps.signIn?.();
    if (!config) throw new NotConfiguredError('sign-in is starting: try again in a moment');
    return config;
  });

  server.get('/api/flows', async (request) => {
    await signIn(request);
    const q = request.query;
    const text = stringParam(q, 'q')?.toLowerCase();
    const status = stringParam(q, 'status');
    const after = stringParam(q, 'cursor');
    const limit = Math.min(intParam(q, 'limit') ?? FLOW_PAGE, MAX_FLOW_PAGE) || FLOW_PAGE;
    const matching = deps.flows
      .entries()
      .filter(([id, doc]) => {
        const d = (doc ?? {}) as { name?: unknown; status?: unknown };
        if (after !== undefined && id <= after) return false;
        if (status !== undefined && d.status !== status) return false;
        return (
          text === undefined ||
          id.toLowerCase().includes(text) ||
          (typeof d.name === 'string' && d.name.toLowerCase().includes(text))
        );
      })
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const page = matching.slice(0, limit);
    const items = page.map(([id, doc]) => summarizeFlow(id, doc, deps.app));
    const counts = deps.activity
      ? await deps.activity.statusCounts(
          items.map((f) => f.id),
          new Date(clock().getTime() - DAY_MS),
        )
      : undefined;
    return {
      items: counts ? items.map((f) => ({ ...f, last_24h: last24h(counts[f.id] ?? {}) })) : items,
      next_cursor: matching.length > limit ? (page.at(-1)?.[0] ?? null) : null,
    };
  });

  server.post('/api/flows/draft-preview', async (request) => {
    await signIn(request);
    const body = asObject(request.body, '{ flow, event }');
    const draft = asObject(body.flow, 'a flow document');
    const result = checkDocument(draft, deps.app);
    if (!result.ok) return { ok: false, problems: result.problems, requests: [], notes: [] };
    const { requests, notes } = await previewFlows(
      [result.flow],
      eventBytes(body.event),
      deps.app,
      clock(),
    );
    return { ok: true, problems: [], requests, notes };
  });

  server.post('/api/flows/validate', async (request) => {
    await signIn(request);
    const result = checkDocument(request.body, deps.app);
    return result.ok
      ? { ok: true, problems: [], warnings: result.warnings }
      : { ok: false, problems: result.problems, warnings: result.warnings };
  });

  server.post('/api/flows', async (request, reply: FastifyReply) => {
    const principal = await signIn(request);
    const body = asObject(request.body, 'a flow document');
    const id = typeof body.id === 'string' ? body.id : '';
    const after: Record<string, unknown> = {
      ...body,
      version: 1,
      updated_at: clock().toISOString(),
    };
    delete after.signature;
    authorizeFlowWrite(principal, null, after, deps.mfa);
    validated(after);
    if (deps.flows.has(id)) throw new VersionConflictError(`flow ${id} exists: update it with PUT`);
    const doc = await publish(request, principal, 'flow.create', id, null, after);
    return reply.code(201).send(doc);
  });

  server.get<{ Params: { id: string } }>('/api/flows/:id', async (request) => {
    await signIn(request);
    return currentDoc(request.params.id);
  });

  server.put<{ Params: { id: string } }>('/api/flows/:id', async (request) => {
    const principal = await signIn(request);
    const { id } = request.params;
    const body = asObject(request.body, 'a flow document');
    if (body.id !== undefined && body.id !== id)
      throw new BadRequestError(`the body's id ${String(body.id)} is not the flow ${id}`);
    if (typeof body.version !== 'number')
      throw new BadRequestError(
        'version is required: the version of the flow this edit is based on',
      );
    const before = currentDoc(id);
    const after: Record<string, unknown> = {
      ...body,
      id,
      version: Number(before.version ?? 0) + 1,
      updated_at: clock().toISOString(),
    };
    delete after.signature;
    authorizeFlowWrite(principal, before, after, deps.mfa);
    checkVersion(id, before, body.version);
    validated(after);
    return publish(request, principal, 'flow.update', id, before, after);
  });

  server.patch<{ Params: { id: string } }>('/api/flows/:id/status', async (request) => {
    const principal = await signIn(request);
    const { id } = request.params;
    const body = asObject(request.body, '{ "status": "live" | "manual" | "draft" }');
    if (body.status !== 'live' && body.status !== 'manual' && body.status !== 'draft')
      throw new BadRequestError('status must be live, manual or draft');
    const before = currentDoc(id);
    const after: Record<string, unknown> = {
      ...before,
      status: body.status,
      version: Number(before.version ?? 0) + 1,
      updated_at: clock().toISOString(),
    };
    delete after.signature;
    authorizeFlowWrite(principal, before, after, deps.mfa);
    checkVersion(id, before, body.version);
    validated(after);
    return publish(request, principal, 'flow.status', id, before, after);
  });

  server.delete<{ Params: { id: string } }>('/api/flows/:id', async (request, reply) => {
    const principal = await signIn(request);
    const { id } = request.params;
    const before = currentDoc(id);
    authorizeFlowWrite(principal, before, null, deps.mfa);
    checkVersion(id, before, intParam(request.query, 'version'));
    await publish(request, principal, 'flow.delete', id, before, null);
    return reply.code(204).send();
  });

  const storedFlow = (id: string): CompiledFlow => validated(currentDoc(id));

  server.post<{ Params: { id: string } }>('/api/flows/:id/preview', async (request) => {
    await signIn(request);
    const flow = storedFlow(request.params.id);
    const { requests, notes } = await previewFlows(
      [flow],
      eventBytes(request.body),
      deps.app,
      clock(),
    );
    return { requests, notes };
  });

  server.post<{ Params: { id: string } }>('/api/flows/:id/test-send', async (request) => {
    const principal = await signIn(request);
    requirePermission(principal, 'edit_flows');
    const flow = storedFlow(request.params.id);
    const { jobs, notes } = await previewFlows([flow], eventBytes(request.body), deps.app, clock());
    return { results: await testSend(jobs, deps.app), notes };
  });

  const activity = () => {
    if (!deps.activity)
      throw new NotConfiguredError('the activity store is not available in this process');
    return deps.activity;
  };

  server.get('/api/activity', async (request) => {
    await signIn(request);
    const q = request.query;
    const status = stringParam(q, 'status');
    if (status !== undefined && !(ACTIVITY_STATUSES as readonly string[]).includes(status))
      throw new BadRequestError(`status must be one of ${ACTIVITY_STATUSES.join(', ')}`);
    const filter: ActivityFilter = {
      flow_id: stringParam(q, 'flow_id'),
      action_id: stringParam(q, 'action_id'),
      profile: stringParam(q, 'profile'),
      status: status as ActivityStatus | undefined,
      since: timeParam(q, 'since'),
      until: timeParam(q, 'until'),
      job_id: stringParam(q, 'job_id'),
      cursor: stringParam(q, 'cursor'),
      limit: intParam(q, 'limit'),
    };
    for (const k of Object.keys(filter) as (keyof ActivityFilter)[])
      if (filter[k] === undefined) delete filter[k];
    return activity().list(filter);
  });

  server.get('/api/review', async (request) => {
    await signIn(request);
    const q = request.query;
    const filter = {
      flow_id: stringParam(q, 'flow_id'),
      cursor: stringParam(q, 'cursor'),
      limit: intParam(q, 'limit'),
    };
    return activity().review(filter);
  });

  for (const decision of ['release', 'discard'] as const) {
    server.post<{ Params: { id: string } }>(`/api/review/:id/${decision}`, async (request) => {
      const principal = await signIn(request);
      requirePermission(principal, 'operate');
      if (!deps.review)
        throw new NotConfiguredError('the review queue is not available in this process');
      const { id } = request.params;
      const item = await activity().reviewItem(id);
      if (!item) throw new NotFoundError(`no held webhook ${id}`);
      await deps.review[decision](id, actorOf(principal));
      await deps.publisher.publishAudit([
        auditEntry(
          {
            actor: actorOf(principal),
            address: request.ip,
            action: decision === 'release' ? 'review.release' : 'review.discard',
            flow_id: item.flow_id,
            version: null,
            summary: `${decision === 'release' ? 'released' : 'discarded'} held webhook ${id} (action ${item.action_id})`,
            targets: [id],
          },
          clock(),
        ),
      ]);
      return { id, [decision === 'release' ? 'released' : 'discarded']: true };
    });
  }

  const dlqFilter = (flow: string | undefined, since: string | undefined): DlqFilter => {
    const filter: DlqFilter = {};
    if (flow !== undefined) filter.flow = flow;
    if (since !== undefined) filter.sinceMs = parseSince(since);
    return filter;
  };

  server.get('/api/dlq', async (request) => {
    await signIn(request);
    const q = request.query;
    return {
      items: await dlqList(deps.app, dlqFilter(stringParam(q, 'flow_id'), stringParam(q, 'since'))),
    };
  });

  server.post('/api/dlq/replay', async (request) => {
    const principal = await signIn(request);
    requirePermission(principal, 'operate');
    const body =
      request.body === undefined || request.body === null
        ? {}
        : asObject(request.body, '{ flow_id?, since? }');
    const flow = typeof body.flow_id === 'string' ? body.flow_id : undefined;
    const since = typeof body.since === 'string' ? body.since : undefined;
    const result = await dlqReplay(deps.app, dlqFilter(flow, since));
    await deps.publisher.publishAudit([
      auditEntry(
        {
          actor: actorOf(principal),
          address: request.ip,
          action: 'dlq.replay',
          flow_id: flow ?? null,
          version: null,
          summary: `replayed ${result.replayed} dead webhook${result.replayed === 1 ? '' : 's'}${since ? ` since ${since}` : ''}`,
          targets: result.jobIds,
        },
        clock(),
      ),
    ]);
    return result;
  });

  server.get('/api/audit', async (request) => {
    await signIn(request);
    const q = request.query;
    return {
      items: deps.audit.query({
        flow_id: stringParam(q, 'flow_id'),
        since: timeParam(q, 'since'),
        limit: intParam(q, 'limit'),
      }),
    };
  });

  serveConsole(server, deps.consoleRoot ?? consoleDirectory(), () => {
    const issuer = deps.signIn?.()?.issuer;
    return issuer ? new URL(issuer).origin : undefined;
  });

  return server;
}
