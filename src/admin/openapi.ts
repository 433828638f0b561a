// The OpenAPI 3.1 document of the admin API, generated from the route table (routes.ts) and the
// JSON Schemas in schemas/ — the documents are described once, there. Each schema's $defs are
// hoisted into components.schemas under a prefix (Flow_Action, Event_Profile, …) and its
// internal `#/$defs/X` references rewritten, so every OpenAPI tool resolves them.

import eventSchema from '../../schemas/event.schema.json';
import flowSchema from '../../schemas/flow.schema.json';
import jobSchema from '../../schemas/job.schema.json';
import { ACTIVITY_STATUSES } from '../activity/types';
import { VERSION } from '../version';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function rewriteRefs(value: Json, prefix: string): Json {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, prefix));
  if (value === null || typeof value !== 'object') return value;
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === '$ref' && typeof v === 'string' && v.startsWith('#/$defs/'))
      out[k] = `#/components/schemas/${prefix}${v.slice('#/$defs/'.length)}`;
    else if (k === '$ref' && v === '#') out[k] = `#/components/schemas/${prefix.replace(/_$/, '')}`;
    else out[k] = rewriteRefs(v, prefix);
  }
  return out;
}

/** The schema as components: `name` for the root, `name_X` for each of its $defs. */
export function hoistSchema(schema: object, name: string): Record<string, Json> {
  const root = { ...(schema as { [key: string]: Json }) };
  const $defs = root.$defs;
  delete root.$defs;
  delete root.$schema;
  delete root.$id;
  const prefix = `${name}_`;
  const out: Record<string, Json> = { [name]: rewriteRefs(root, prefix) };
  for (const [def, body] of Object.entries(($defs ?? {}) as Record<string, Json>))
    out[`${prefix}${def}`] = rewriteRefs(body, prefix);
  return out;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const PROBLEMS = {
  type: 'array',
  items: {
    type: 'object',
    required: ['path', 'message'],
    properties: { path: { type: 'string' }, message: { type: 'string' } },
  },
};

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', pattern: '^FLOWHOOK_ERR_[A-Z_]+$' },
        message: { type: 'string' },
        problems: PROBLEMS,
      },
    },
  },
};

const ACTIVITY_RECORD = {
  type: 'object',
  required: ['id', 'time', 'status', 'flow_id'],
  properties: {
    id: { type: 'string' },
    time: { type: 'string', format: 'date-time' },
    status: { enum: [...ACTIVITY_STATUSES] },
    flow_id: { type: 'string' },
    flow_version: { type: 'integer' },
    action_id: { type: 'string' },
    profile_id: { type: 'string' },
    email: { type: 'string' },
    event_id: { type: 'string' },
    job_id: { type: 'string' },
    attempt: { type: 'integer' },
    http_status: { type: 'integer' },
    duration_ms: { type: 'number' },
    error: { type: 'string' },
    response_excerpt: { type: 'string' },
    reason: { type: 'string' },
    due_at: { type: 'string', format: 'date-time' },
  },
};

const AUDIT_ENTRY = {
  type: 'object',
  required: ['id', 'time', 'actor', 'action', 'summary'],
  properties: {
    id: { type: 'string' },
    time: { type: 'string', format: 'date-time' },
    actor: {
      type: 'object',
      properties: {
        subject: { type: 'string' },
        email: { type: ['string', 'null'] },
        role: { type: 'string' },
        amr: { type: 'array', items: { type: 'string' } },
      },
    },
    address: { type: ['string', 'null'] },
    action: { type: 'string' },
    flow_id: { type: ['string', 'null'] },
    version: { type: ['integer', 'null'] },
    summary: { type: 'string' },
    targets: { type: 'array', items: { type: 'string' } },
  },
};

const STATUS_COUNTS = {
  type: 'object',
  description: 'Activity records of the last 24 hours by outcome.',
  required: ['delivered', 'failed', 'waiting'],
  properties: {
    delivered: { type: 'integer' },
    failed: { type: 'integer', description: 'failed for good (dead-lettered) or not rendered' },
    waiting: { type: 'integer', description: 'entered a delay, or held for review' },
  },
};

const FLOW_SUMMARY = {
  type: 'object',
  required: ['id', 'name', 'status', 'version', 'trigger', 'valid', 'problems'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    status: { type: 'string' },
    version: { type: ['integer', 'null'] },
    updated_at: { type: ['string', 'null'] },
    trigger: { type: 'string' },
    valid: { type: 'boolean' },
    problems: PROBLEMS,
    signed_by: { type: ['string', 'null'] },
    last_24h: STATUS_COUNTS,
  },
};

const ME = {
  type: 'object',
  required: ['subject', 'role', 'amr', 'mfa', 'may'],
  properties: {
    subject: { type: 'string' },
    email: { type: ['string', 'null'] },
    role: { enum: ['owner', 'admin', 'manager', 'analyst', 'viewer'] },
    amr: { type: 'array', items: { type: 'string' } },
    acr: { type: ['string', 'null'] },
    mfa: { type: 'boolean', description: 'the token carries MFA evidence' },
    may: {
      type: 'object',
      required: ['read', 'edit_flows', 'operate'],
      properties: {
        read: { type: 'boolean' },
        edit_flows: { type: 'boolean' },
        operate: { type: 'boolean' },
      },
    },
  },
};

const SIGN_IN = {
  type: 'object',
  description: 'How the console signs in: authorization code with PKCE at this issuer.',
  required: ['issuer', 'client_id', 'audience', 'scope'],
  properties: {
    issuer: { type: 'string' },
    client_id: { type: 'string' },
    audience: { type: 'string' },
    resource: { type: 'string', description: 'RFC 8707 resource indicator to ask a token for' },
    scope: { type: 'string' },
    local: { type: 'boolean', description: 'the embedded local issuer (password + TOTP)' },
  },
};

const PREVIEW_REQUEST = {
  type: 'object',
  required: ['flow', 'action_id', 'url', 'headers', 'body'],
  properties: {
    flow: { type: 'string' },
    action_id: { type: 'string' },
    url: { type: 'string' },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    body: {},
  },
};

const PREVIEW_NOTE = {
  type: 'object',
  required: ['flow', 'action_id', 'kind', 'reason'],
  properties: {
    flow: { type: 'string' },
    action_id: { type: 'string' },
    kind: { enum: ['skipped', 'held', 'render_error'] },
    reason: { type: 'string' },
  },
};

const PREVIEW = {
  type: 'object',
  required: ['requests', 'notes'],
  properties: {
    requests: { type: 'array', items: PREVIEW_REQUEST },
    notes: { type: 'array', items: PREVIEW_NOTE },
  },
};

const DRAFT_PREVIEW = {
  type: 'object',
  description: 'The validation of a draft flow and, when it is valid, its preview.',
  required: ['ok', 'problems', 'requests', 'notes'],
  properties: { ok: { type: 'boolean' }, problems: PROBLEMS, ...PREVIEW.properties },
};

const TEST_SEND = {
  type: 'object',
  required: ['results', 'notes'],
  properties: {
    results: {
      type: 'array',
      items: {
        type: 'object',
        required: ['flow', 'action_id', 'url', 'webhook_id', 'status', 'duration_ms'],
        properties: {
          flow: { type: 'string' },
          action_id: { type: 'string' },
          url: { type: 'string' },
          webhook_id: { type: 'string' },
          status: { type: ['integer', 'null'] },
          error: {
            type: ['object', 'null'],
            properties: { code: { type: 'string' }, message: { type: 'string' } },
          },
          duration_ms: { type: 'number' },
          response_body: { type: 'string' },
        },
      },
    },
    notes: { type: 'array', items: PREVIEW_NOTE },
  },
};

const VALIDATION = {
  type: 'object',
  required: ['ok', 'problems', 'warnings'],
  properties: { ok: { type: 'boolean' }, problems: PROBLEMS, warnings: PROBLEMS },
};

const REVIEW_ITEM = {
  type: 'object',
  required: ['id', 'flow_id', 'action_id', 'profile_id', 'event_id', 'held_at', 'job'],
  properties: {
    id: { type: 'string' },
    flow_id: { type: 'string' },
    action_id: { type: 'string' },
    profile_id: { type: 'string' },
    event_id: { type: 'string' },
    held_at: { type: 'string', format: 'date-time' },
    job: { type: 'object' },
  },
};

const DLQ_ENTRY = {
  type: 'object',
  required: ['reason', 'attempts', 'partition', 'offset'],
  properties: {
    job_id: { type: ['string', 'null'] },
    flow_id: { type: ['string', 'null'] },
    reason: { type: 'string' },
    error_code: { type: ['string', 'null'] },
    attempts: { type: 'integer' },
    failed_at: { type: ['string', 'null'] },
    last_error: { type: ['string', 'null'] },
    url: { type: ['string', 'null'] },
    partition: { type: 'integer' },
    offset: { type: 'string' },
  },
};

/** A page of `component` items with the cursor of the next page. */
export const pageOf = (component: string) => ({
  type: 'object',
  required: ['items', 'next_cursor'],
  properties: {
    items: { type: 'array', items: ref(component) },
    next_cursor: { type: ['string', 'null'] },
  },
});

/** One route as the OpenAPI document describes it. */
export interface RouteDoc {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** fastify form: /api/flows/:id */
  url: string;
  summary: string;
  /** Who may call it, in words. */
  access: string;
  query?: string[];
  /** Component name of the request body, or an inline schema. */
  body?: string | object;
  /** Component name (or inline schema) of the 2xx response. */
  response?: string | object;
  status?: number;
}

const schemaOf = (s: string | object) => (typeof s === 'string' ? ref(s) : s);

export function openApiDocument(routes: readonly RouteDoc[]): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const params = [
      ...[...r.url.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      ...(r.query ?? []).map((name) => ({
        name,
        in: 'query',
        required: false,
        schema: { type: 'string' },
      })),
    ];
    const ok = String(r.status ?? 200);
    paths[path] ??= {};
    (paths[path] as Record<string, object>)[r.method.toLowerCase()] = {
      summary: r.summary,
      description: `Access: ${r.access}.`,
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: schemaOf(r.body) } },
            },
          }
        : {}),
      responses: {
        [ok]: {
          description: 'OK',
          ...(r.response
            ? { content: { 'application/json': { schema: schemaOf(r.response) } } }
            : {}),
        },
        default: {
          description: 'Error, with its FLOWHOOK_ERR_* code',
          content: { 'application/json': { schema: ref('Error') } },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'flowhook admin API',
      version: VERSION,
      description:
        'Flows, preview and test-send, activity, review queue, DLQ and audit. Every call needs `Authorization: Bearer <JWT>` from the configured OpenID Connect issuer.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: {
        ...hoistSchema(flowSchema, 'Flow'),
        ...hoistSchema(eventSchema, 'Event'),
        ...hoistSchema(jobSchema, 'Job'),
        Error: ERROR_SCHEMA,
        ActivityRecord: ACTIVITY_RECORD,
        AuditEntry: AUDIT_ENTRY,
        FlowSummary: FLOW_SUMMARY,
        Me: ME,
        SignIn: SIGN_IN,
        Preview: PREVIEW,
        DraftPreview: DRAFT_PREVIEW,
        TestSend: TEST_SEND,
        Validation: VALIDATION,
        ReviewItem: REVIEW_ITEM,
        DlqEntry: DLQ_ENTRY,
      },
    },
  };
}
