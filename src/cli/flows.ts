import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { auditEntry } from '../app/audit';
import {
  checkDocument,
  documentId,
  isSuccess,
  listFlows,
  previewFlows,
  testSend as sendOnce,
} from '../app/flows';
import { FlowPublisher, type FlowChange } from '../app/publish';
import type { FlowhookConfig } from '../config/load';
import { flowSigner } from '../flows/signature';
import type { CompiledFlow } from '../flows/types';
import { cliConfig, cliKafka, type Command, type CommandIo } from './io';

// flowhook flows validate | preview | test-send | apply | delete | list (logic in src/app)

/** A flow FILE holds one flow document or an array of them. */
export function readFlowFile(path: string): unknown[] {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** Validates every document of every file; prints path-pointing problems. */
function validateFiles(
  files: string[],
  io: CommandIo,
  config: FlowhookConfig,
): { flows: CompiledFlow[]; docs: unknown[]; ok: boolean } {
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
      const id = documentId(doc);
      const where = list.length > 1 ? `${file}[${index}] (${id})` : `${file} (${id})`;
      const result = checkDocument(doc, { config });
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
  const { flows, ok } = validateFiles(positionals, io, cliConfig());
  for (const f of flows) io.out(`ok ${f.id} v${f.version} (${f.status})`);
  return ok ? 0 : 1;
};

/** The preview of FILE's flows for EVENT; notes (skips, holds, render errors) on stderr. */
async function previewFile(command: 'preview' | 'test-send', argv: string[], io: CommandIo) {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { event: { type: 'string' } },
  });
  if (positionals.length !== 1 || !values.event) {
    throw new UsageError(`flows ${command} FILE --event EVENT.json`);
  }
  const config = cliConfig();
  const { flows, ok } = validateFiles([positionals[0] as string], io, config);
  if (!ok) return undefined;
  const preview = await previewFlows(flows, readFileSync(values.event), { config });
  for (const n of preview.notes) {
    io.err(
      n.kind === 'render_error'
        ? `${n.flow}: action ${n.action_id}: ${n.reason}`
        : `${n.flow}: action ${n.action_id}: ${n.kind} (${n.reason})`,
    );
  }
  return { preview, config };
}

const preview: Command = async (argv, io) => {
  const result = await previewFile('preview', argv, io);
  if (!result) return 1;
  // Secrets stay as their `{{ secrets.NAME }}` references: preview never resolves them.
  io.out(JSON.stringify(result.preview.requests, null, 2));
  return 0;
};

/** Sends each previewed request once, as the delivery worker would, and prints the responses. */
const testSend: Command = async (argv, io) => {
  const result = await previewFile('test-send', argv, io);
  if (!result) return 1;
  const results = await sendOnce(result.preview.jobs, { config: result.config });
  io.out(JSON.stringify(results, null, 2));
  return results.every(isSuccess) ? 0 : 1;
};

/** Publishes flow records with their audit entries (one transaction), as the local OS user. */
async function publish(changes: Omit<FlowChange, 'audit'>[], summary: (id: string) => string) {
  const deps = cliKafka();
  const subject = `cli:${userInfo().username}`;
  const signer = flowSigner(deps.config.flowSigning);
  const publisher = new FlowPublisher(deps, `flowhook-cli-${process.pid}-${Date.now()}`);
  try {
    await publisher.publish(
      changes.map(({ record }) => ({
        record:
          signer && record.doc !== null
            ? { id: record.id, doc: signer.sign(record.doc as Record<string, unknown>, subject) }
            : record,
        audit: auditEntry({
          actor: { subject, email: null, role: 'operator', amr: [] },
          address: null,
          action: record.doc === null ? 'flow.delete' : 'flow.update',
          flow_id: record.id,
          version: (record.doc as { version?: number } | null)?.version ?? null,
          summary: summary(record.id),
        }),
      })),
    );
  } finally {
    await publisher.close();
  }
}

const apply: Command = async (argv, io) => {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length === 0) throw new UsageError('flows apply FILE…');
  const { docs, ok } = validateFiles(positionals, io, cliConfig());
  if (!ok) {
    io.err('nothing applied: fix the errors above first');
    return 1;
  }
  await publish(
    docs.map((doc) => ({ record: { id: documentId(doc), doc } })),
    () => 'applied with flowhook flows apply',
  );
  for (const doc of docs) io.out(`applied ${documentId(doc)}`);
  return 0;
};

const del: Command = async (argv, io) => {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length === 0) throw new UsageError('flows delete ID…');
  await publish(
    positionals.map((id) => ({ record: { id, doc: null } })),
    () => 'deleted with flowhook flows delete',
  );
  for (const id of positionals) io.out(`deleted ${id}`);
  return 0;
};

const list: Command = async (argv, io) => {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' } } });
  const rows = await listFlows(cliKafka());
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
