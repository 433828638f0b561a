// Flow operations shared by the CLI (`flowhook flows …`) and the admin API: validate, preview,
// test-send, publish (apply / delete) and list. Each takes its dependencies and returns data;
// printing and HTTP status codes are the callers' business.

import type { Message } from 'kafkajs';
import { DestinationPolicy } from '../delivery/address-guard';
import { prepareRequest, signedHeaders } from '../delivery/deliver';
import { WebhookSender, type AttemptResult } from '../delivery/http-sender';
import { secretHostProblems, SecretStore } from '../delivery/secrets';
import type { WebhookJob } from '../documents';
import { decodeEvent } from '../events/decode';
import { schemaRegistryDecoder } from '../events/registry';
import type { CompiledFlow, ValidationProblem } from '../flows/types';
import { validateFlow, validateOptions } from '../flows/validate';
import { CompactedTopicReader } from '../kafka/compacted-reader';
import { ensureTopics, ownedTopics } from '../kafka/topics';
import { walkFlow } from '../trigger/walk';
import type { AppDeps, OfflineDeps } from './deps';

export function documentId(doc: unknown): string {
  const id = (doc as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : '(no id)';
}

export type DocumentCheck =
  | { id: string; ok: true; flow: CompiledFlow; warnings: ValidationProblem[] }
  | { id: string; ok: false; problems: ValidationProblem[]; warnings: ValidationProblem[] };

/**
 * Validates one flow document with the service's own rules, then the secrets' allowed hosts
 * (FLOWHOOK_SECRETS_DIR/NAME.hosts).
 */
export function checkDocument(doc: unknown, deps: OfflineDeps): DocumentCheck {
  const id = documentId(doc);
  const result = validateFlow(doc, validateOptions(deps.config));
  if (!result.ok) return { id, ok: false, problems: result.problems, warnings: result.warnings };
  const problems = secretHostProblems(doc, deps.config.delivery.secretsDir);
  if (problems.length > 0) return { id, ok: false, problems, warnings: result.warnings };
  return { id, ok: true, flow: result.flow, warnings: result.warnings };
}

/** A request `preview` shows: secrets stay as their `{{ secrets.NAME }}` references. */
export interface PreviewRequest {
  flow: string;
  action_id: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

/** Why an action sends nothing for this event (skipped, held, or a body that fails to render). */
export interface PreviewNote {
  flow: string;
  action_id: string;
  kind: 'skipped' | 'held' | 'render_error';
  reason: string;
}

export interface Preview {
  jobs: WebhookJob[];
  requests: PreviewRequest[];
  notes: PreviewNote[];
}

/**
 * The jobs the flows would emit for one event (bytes in any accepted input form), by the
 * service's own engine: statuses ignored, delays walked through, nothing sent.
 */
export async function previewFlows(
  flows: readonly CompiledFlow[],
  event: Buffer,
  deps: OfflineDeps,
  now = new Date(),
): Promise<Preview> {
  const { trigger } = deps.config;
  const registry = trigger.schemaRegistryUrl
    ? schemaRegistryDecoder(trigger.schemaRegistryUrl)
    : undefined;
  const decoded = await decodeEvent(event, { registry });
  const organization = { name: trigger.organization.name, url: trigger.organization.url };
  const jobs: WebhookJob[] = [];
  const notes: PreviewNote[] = [];
  for (const flow of flows) {
    const walk = walkFlow({ flow, event: decoded.event, organization, now, preview: true });
    for (const step of walk.steps) {
      if (step.kind === 'render_error' || step.kind === 'skipped' || step.kind === 'held') {
        const reason =
          (step.kind === 'render_error' ? (step.detail ?? step.reason) : step.reason) ?? '';
        notes.push({ flow: flow.id, action_id: step.actionId, kind: step.kind, reason });
      }
    }
    jobs.push(...walk.jobs);
  }
  const requests = jobs.map((job) => ({
    flow: job.flow_id,
    action_id: job.action_id,
    url: job.url,
    headers: { 'Content-Type': 'application/json', ...job.headers },
    body: JSON.parse(job.body) as unknown,
  }));
  return { jobs, requests, notes };
}

export interface TestSendResult {
  flow: string;
  action_id: string;
  url: string;
  webhook_id: string;
  status: number | null;
  error: { code: string; message: string } | null;
  duration_ms: number;
  response_body: string;
}

/** Sends each job once, as the delivery worker would (guard, secrets, signature); no retries. */
export async function testSend(
  jobs: readonly WebhookJob[],
  deps: OfflineDeps,
): Promise<TestSendResult[]> {
  const d = deps.config.delivery;
  const sender = new WebhookSender({
    policy: new DestinationPolicy({ allowlist: d.destinationAllowlist, allowHttp: d.allowHttp }),
    timeoutMs: d.timeoutMs,
    maxBodyBytes: d.maxBodyBytes,
  });
  const prepareDeps = {
    secrets: new SecretStore({ dir: d.secretsDir }),
    signingSecrets: d.signingSecrets,
    maxBodyBytes: d.maxBodyBytes,
  };
  const results: TestSendResult[] = [];
  try {
    for (const job of jobs) {
      let result: AttemptResult;
      try {
        const prepared = await prepareRequest(job, prepareDeps);
        result = await sender.send({
          url: prepared.url,
          headers: signedHeaders(prepared, job.id, Date.now()),
          body: prepared.body,
        });
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'error';
        result = {
          error: { code, message: (err as Error).message },
          durationMs: 0,
          responseBody: '',
          responseTruncated: false,
        };
      }
      results.push({
        flow: job.flow_id,
        action_id: job.action_id,
        url: job.url,
        webhook_id: job.id,
        status: result.statusCode ?? null,
        error: result.error ?? null,
        duration_ms: result.durationMs,
        response_body: result.responseBody,
      });
    }
  } finally {
    sender.close();
  }
  return results;
}

export function isSuccess(result: TestSendResult): boolean {
  return result.status !== null && result.status >= 200 && result.status < 300;
}

/**
 * Creates flowhook.flows (compacted, one partition) when missing: a flow applied before any
 * service has run would otherwise get a broker-auto-created topic without compaction.
 */
export async function ensureFlowsTopic(deps: AppDeps): Promise<void> {
  const layout = { partitions: 1, replication: deps.config.topicReplication };
  const wanted = ownedTopics(deps.topics, layout).filter(
    (t) => t.topic === deps.topics.flows || t.topic === deps.topics.audit,
  );
  const admin = deps.kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, wanted, deps.logger);
  } finally {
    await admin.disconnect();
  }
}

/** A flow document to publish, or a tombstone (null) to delete it. */
export interface FlowRecord {
  id: string;
  doc: unknown | null;
}

export function flowMessage(record: FlowRecord): Message {
  return {
    key: record.id,
    value: record.doc === null ? null : JSON.stringify(record.doc),
  };
}

/** Every flow document on flowhook.flows (latest per id), read to its end once. */
export async function readFlows(deps: AppDeps): Promise<Map<string, unknown>> {
  const docs = new Map<string, unknown>();
  const reader = new CompactedTopicReader(
    deps.kafka,
    { topic: deps.topics.flows, groupPrefix: 'flowhook-flows-reader' },
    deps.logger,
  );
  try {
    await reader.start((r) => {
      if (r.key === null) return;
      if (r.value === null) docs.delete(r.key);
      else {
        try {
          docs.set(r.key, JSON.parse(r.value.toString('utf8')) as unknown);
        } catch {
          docs.set(r.key, null); // not JSON: listed as invalid
        }
      }
    });
  } finally {
    await reader.stop();
  }
  return docs;
}

/** One line of `flows list` / GET /api/flows. */
export interface FlowSummary {
  id: string;
  name: string;
  status: string;
  version: number | null;
  updated_at: string | null;
  trigger: string;
  valid: boolean;
  problems: ValidationProblem[];
  signed_by: string | null;
}

export function summarizeFlow(id: string, doc: unknown, deps: OfflineDeps): FlowSummary {
  const result = checkDocument(doc, deps);
  const d = (doc ?? {}) as {
    name?: string;
    status?: string;
    version?: number;
    updated_at?: string;
    signature?: { publisher?: string };
    definition?: { triggers?: { type?: string; id?: string; date_profile_property?: string }[] };
  };
  const trigger = d.definition?.triggers?.[0];
  return {
    id,
    name: d.name ?? '',
    status: d.status ?? '',
    version: d.version ?? null,
    updated_at: d.updated_at ?? null,
    trigger: trigger
      ? trigger.type === 'price-drop' || trigger.type === 'low-inventory'
        ? trigger.type
        : `${trigger.type}:${trigger.type === 'date' ? trigger.date_profile_property : trigger.id}`
      : '',
    valid: result.ok,
    problems: result.ok ? [] : result.problems,
    signed_by: d.signature?.publisher ?? null,
  };
}

export async function listFlows(deps: AppDeps): Promise<FlowSummary[]> {
  return [...(await readFlows(deps))].map(([id, doc]) => summarizeFlow(id, doc, deps));
}
