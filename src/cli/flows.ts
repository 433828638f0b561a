import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Message } from 'kafkajs';
import { decodeEvent } from '../events/decode';
import { schemaRegistryDecoder } from '../events/registry';
import { validateFlow, validateOptions } from '../flows/validate';
import type { CompiledFlow } from '../flows/types';
import { CompactedTopicReader } from '../kafka/compacted-reader';
import { ensureTopics, ownedTopics } from '../kafka/topics';
import type { WebhookJob } from '../documents';
import { walkFlow } from '../trigger/walk';
import { DestinationPolicy } from '../delivery/address-guard';
import { prepareRequest, signedHeaders } from '../delivery/deliver';
import { WebhookSender, type AttemptResult } from '../delivery/http-sender';
import { SecretStore } from '../delivery/secrets';
import { cliConfig, cliKafka, type CliKafka, type Command, type CommandIo } from './io';

// flowhook flows validate | preview | test-send | apply | delete | list

/** A flow FILE holds one flow document or an array of them. */
export function readFlowFile(path: string): unknown[] {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  return Array.isArray(parsed) ? parsed : [parsed];
}

function docId(doc: unknown): string {
  const id = (doc as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : '(no id)';
}

/** Validates every document of every file; prints path-pointing problems. */
function validateFiles(
  files: string[],
  io: CommandIo,
): { flows: CompiledFlow[]; docs: unknown[]; ok: boolean } {
  const options = validateOptions(cliConfig());
  const flows: CompiledFlow[] = [];
  const docs: unknown[] = [];
  let ok = true;
  for (const file of files) {
    let list: unknown[];
    try {
      list = readFlowFile(file);
    } catch (err) {
      io.err(`${file}: not a JSON flow file: ${(err as Error).message}`);
      ok = false;
      continue;
    }
    list.forEach((doc, index) => {
      const where =
        list.length > 1 ? `${file}[${index}] (${docId(doc)})` : `${file} (${docId(doc)})`;
      const result = validateFlow(doc, options);
      for (const w of result.warnings) io.err(`${where}: warning: ${w.path}: ${w.message}`);
      if (result.ok) {
        flows.push(result.flow);
        docs.push(doc);
      } else {
        ok = false;
        for (const p of result.problems) io.err(`${where}: error: ${p.path}: ${p.message}`);
      }
    });
  }
  return { flows, docs, ok };
}

const validate: Command = async (argv, io) => {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length === 0) throw new UsageError('flows validate FILE…');
  const { flows, ok } = validateFiles(positionals, io);
  for (const f of flows) io.out(`ok ${f.id} v${f.version} (${f.status})`);
  return ok ? 0 : 1;
};

/**
 * The jobs the flows of FILE would emit for one event, by the service's own engine (statuses
 * ignored, delays walked through); skips, holds and render errors are reported on stderr.
 */
async function previewJobs(
  command: 'preview' | 'test-send',
  argv: string[],
  io: CommandIo,
): Promise<WebhookJob[] | undefined> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { event: { type: 'string' } },
  });
  if (positionals.length !== 1 || !values.event) {
    throw new UsageError(`flows ${command} FILE --event EVENT.json`);
  }
  const [flowFile, eventFile] = [positionals[0], values.event];
  const { flows, ok } = validateFiles([flowFile], io);
  if (!ok) return undefined;
  const config = cliConfig();
  const registry = config.trigger.schemaRegistryUrl
    ? schemaRegistryDecoder(config.trigger.schemaRegistryUrl)
    : undefined;
  const { event } = await decodeEvent(readFileSync(eventFile), { registry });
  const organization = {
    name: config.trigger.organization.name,
    url: config.trigger.organization.url,
  };
  const jobs: WebhookJob[] = [];
  for (const flow of flows) {
    const walk = walkFlow({ flow, event, organization, now: new Date(), preview: true });
    for (const step of walk.steps) {
      if (step.kind === 'render_error')
        io.err(`${flow.id}: action ${step.actionId}: ${step.detail ?? step.reason}`);
      if (step.kind === 'skipped' || step.kind === 'held')
        io.err(`${flow.id}: action ${step.actionId}: ${step.kind} (${step.reason})`);
    }
    jobs.push(...walk.jobs);
  }
  return jobs;
}

const preview: Command = async (argv, io) => {
  const jobs = await previewJobs('preview', argv, io);
  if (!jobs) return 1;
  const requests = jobs.map((job) => ({
    flow: job.flow_id,
    action_id: job.action_id,
    url: job.url,
    // Secrets stay as their `{{ secrets.NAME }}` references: preview never resolves them.
    headers: { 'Content-Type': 'application/json', ...job.headers },
    body: JSON.parse(job.body) as unknown,
  }));
  io.out(JSON.stringify(requests, null, 2));
  return 0;
};

/** Sends each previewed request once, as the delivery worker would, and prints the responses. */
const testSend: Command = async (argv, io) => {
  const jobs = await previewJobs('test-send', argv, io);
  if (!jobs) return 1;
  const d = cliConfig().delivery;
  const sender = new WebhookSender({
    policy: new DestinationPolicy({ allowlist: d.destinationAllowlist, allowHttp: d.allowHttp }),
    timeoutMs: d.timeoutMs,
    maxBodyBytes: d.maxBodyBytes,
  });
  const deps = {
    secrets: new SecretStore({ dir: d.secretsDir }),
    signingSecrets: d.signingSecrets,
    maxBodyBytes: d.maxBodyBytes,
  };
  const results = [];
  let failures = 0;
  try {
    for (const job of jobs) {
      let result: AttemptResult;
      try {
        const prepared = await prepareRequest(job, deps);
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
      const ok2xx =
        result.statusCode !== undefined && result.statusCode >= 200 && result.statusCode < 300;
      if (!ok2xx) failures += 1;
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
  io.out(JSON.stringify(results, null, 2));
  return failures === 0 ? 0 : 1;
};

/**
 * The cluster, with flowhook.flows created (compacted) when a flow is applied before any
 * service has run: a broker's auto-creation would make it without compaction.
 */
async function flowsTopic(): Promise<CliKafka> {
  const cli = cliKafka();
  const layout = { partitions: 1, replication: cli.config.topicReplication };
  const flows = ownedTopics(cli.topics, layout).filter((t) => t.topic === cli.topics.flows);
  const admin = cli.kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, flows, cli.logger);
  } finally {
    await admin.disconnect();
  }
  return cli;
}

/** Produces flow documents (or tombstones) to flowhook.flows, acknowledged by all replicas. */
async function sendToFlowsTopic(messages: Message[]): Promise<void> {
  const { kafka, topics } = await flowsTopic();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({ topic: topics.flows, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

const apply: Command = async (argv, io) => {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length === 0) throw new UsageError('flows apply FILE…');
  const { docs, ok } = validateFiles(positionals, io);
  if (!ok) {
    io.err('nothing applied: fix the errors above first');
    return 1;
  }
  await sendToFlowsTopic(docs.map((doc) => ({ key: docId(doc), value: JSON.stringify(doc) })));
  for (const doc of docs) io.out(`applied ${docId(doc)}`);
  return 0;
};

const del: Command = async (argv, io) => {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length === 0) throw new UsageError('flows delete ID…');
  await sendToFlowsTopic(positionals.map((id) => ({ key: id, value: null })));
  for (const id of positionals) io.out(`deleted ${id}`);
  return 0;
};

const list: Command = async (argv, io) => {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' } } });
  const { kafka, topics, config, logger } = cliKafka();
  const docs = new Map<string, unknown>();
  const reader = new CompactedTopicReader(
    kafka,
    { topic: topics.flows, groupPrefix: 'flowhook-cli-flows' },
    logger,
  );
  try {
    await reader.start((r) => {
      if (r.key === null) return;
      if (r.value === null) docs.delete(r.key);
      else docs.set(r.key, JSON.parse(r.value.toString('utf8')) as unknown);
    });
  } finally {
    await reader.stop();
  }
  const rows = [...docs].map(([id, doc]) => {
    const result = validateFlow(doc, validateOptions(config));
    const d = doc as {
      name?: string;
      status?: string;
      version?: number;
      definition?: { triggers?: { type?: string; id?: string }[] };
    };
    const trigger = d.definition?.triggers?.[0];
    return {
      id,
      name: d.name ?? '',
      status: d.status ?? '',
      version: d.version ?? null,
      trigger: trigger ? `${trigger.type}:${trigger.id}` : '',
      valid: result.ok,
      problems: result.ok ? [] : result.problems,
    };
  });
  if (values.json) io.out(JSON.stringify(rows, null, 2));
  else {
    for (const r of rows) {
      io.out(
        `${r.id}\tv${r.version}\t${r.status}\t${r.trigger}\t${r.valid ? 'valid' : `INVALID (${r.problems.length} problems)`}\t${r.name}`,
      );
    }
    if (rows.length === 0) io.err('no flows');
  }
  return 0;
};

export class UsageError extends Error {
  constructor(usage: string) {
    super(`usage: flowhook ${usage}`);
  }
}

export const FLOW_COMMANDS: Record<string, Command> = {
  validate,
  preview,
  'test-send': testSend,
  apply,
  delete: del,
  list,
};

export const flowsCommand: Command = async (argv, io) => {
  const [sub, ...rest] = argv;
  const handler = sub ? FLOW_COMMANDS[sub] : undefined;
  if (!handler) throw new UsageError(`flows ${Object.keys(FLOW_COMMANDS).join('|')} …`);
  return handler(rest, io);
};
