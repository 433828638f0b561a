// `flowhook dlq list [--flow ID] [--json]` and `flowhook dlq replay [--flow ID] [--since TIME]`.

import { parseArgs } from 'node:util';
import { dlqList, dlqReplay, parseSince, type DlqFilter, type DlqSummary } from '../app/dlq';
import { cliKafka, type CommandIo } from './io';

// The DLQ's logic lives in src/app/dlq.ts (shared with the admin API); re-exported for callers
// that imported it from here.
export * from '../app/dlq';

export const DLQ_USAGE = `Usage:
  flowhook dlq list [--flow ID] [--json] [--config FILE]
  flowhook dlq replay [--flow ID] [--since TIME] [--config FILE]
      TIME: an ISO-8601 time, or a duration back from now (30m, 2h, 7d).`;

function table(rows: DlqSummary[]): string[] {
  const header = ['JOB ID', 'FLOW', 'REASON', 'ATTEMPTS', 'FAILED AT'];
  const cells = rows.map((r) => [
    r.job_id ?? '-',
    r.flow_id ?? '-',
    r.reason,
    String(r.attempts),
    r.failed_at ?? '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  const line = (c: string[]) =>
    c
      .map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line)];
}

export async function dlqCommand(argv: string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'list' && sub !== 'replay') {
    io.err(sub ? `unknown dlq command "${sub}"\n\n${DLQ_USAGE}` : DLQ_USAGE);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      flow: { type: 'string' },
      json: { type: 'boolean', default: false },
      since: { type: 'string' },
      config: { type: 'string' },
    },
    strict: true,
  });
  const filter: DlqFilter = {};
  if (values.flow !== undefined) filter.flow = values.flow;
  if (values.since !== undefined) filter.sinceMs = parseSince(values.since);
  const { kafka, topics, logger } = cliKafka(process.env, values.config);

  if (sub === 'list') {
    const rows = await dlqList({ kafka, topics, logger }, filter);
    if (values.json) {
      io.out(JSON.stringify(rows, null, 2));
    } else {
      for (const line of table(rows)) io.out(line);
      io.err(`${rows.length} entr${rows.length === 1 ? 'y' : 'ies'} in ${topics.dlq}`);
    }
    return 0;
  }
  const result = await dlqReplay({ kafka, topics, logger }, filter);
  io.out(`replayed ${result.replayed} job${result.replayed === 1 ? '' : 's'} to ${topics.jobs}`);
  if (result.notReplayable > 0) {
    io.err(
      `${result.notReplayable} matching entr${result.notReplayable === 1 ? 'y is' : 'ies are'} not jobs (invalid messages) and cannot be replayed`,
    );
  }
  return 0;
}
