#!/usr/bin/env node
import { FlowhookError } from './errors';
import { processIo, type Command, type CommandIo } from './cli/io';
import { dlqCommand } from './cli/dlq';
import { eventsCommand } from './cli/events';
import { profilesCommand } from './cli/profiles';
import { catalogCommand } from './cli/catalog';
import { flowsCommand, UsageError } from './cli/flows';
import { receiveCommand } from './cli/receive';
import { runCommand } from './cli/run';
import { VERSION } from './version';

const USAGE = `flowhook ${VERSION} — Kafka-native webhook flows

Usage:
  flowhook run [--roles trigger,delivery,delay] [--config FILE]
      Run the service. Without KAFKA_BROKERS a local single-node Kafka broker is started.
  flowhook flows validate FILE…
      Validate flow documents; exit 1 with path-pointing messages when one is invalid.
  flowhook flows preview FILE --event EVENT.json
      Print, as JSON, each webhook request the flows would send for that event (secrets masked).
  flowhook flows test-send FILE --event EVENT.json
      Send those requests once and print the responses (no retries, nothing enqueued).
  flowhook flows apply FILE… | flows delete ID… | flows list [--json]
      Manage the flow table (the compacted flowhook.flows topic).
  flowhook events send FILE… [--topic TOPIC]
      Publish events (a JSON event, an array, or JSON lines), keyed by profile.
  flowhook events dlq list|replay [--reason REASON] [--since TIME] [--json]
      List the events DLQ (flowhook.events.dlq), or re-publish matching records to the topic
      they came from as they were (same key, bytes, headers and timestamp: same event id).
  flowhook profiles send FILE… [--topic TOPIC]
      Publish profile updates (canonical, or Klaviyo profile-import bodies), keyed by profile.
  flowhook catalog send FILE… [--topic TOPIC]
      Publish catalog items (flat, or Klaviyo catalog-item bodies), keyed by item id.
  flowhook dlq list [--flow ID] [--since TIME] [--json]
      List the webhook DLQ (flowhook.dlq): job id, flow, reason, attempts, failed at.
  flowhook dlq replay [--flow ID] [--since TIME]
      Re-enqueue matching dead jobs on flowhook.jobs with a fresh attempt budget (same
      webhook-id). TIME: ISO-8601, or a duration back from now (2h, 7d).

  flowhook receive [--port 8787] [--secret whsec_…] [--count N]
      A webhook receiver on 127.0.0.1: prints each request and verifies its signature.

Settings come from the environment (and FILE / FLOWHOOK_CONFIG_FILE); see the README.
`;

const COMMANDS: Record<string, Command> = {
  run: runCommand,
  flows: flowsCommand,
  events: eventsCommand,
  profiles: profilesCommand,
  catalog: catalogCommand,
  dlq: dlqCommand,
  receive: receiveCommand,
};

export async function main(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    io.out(USAGE);
    return command ? 0 : 2;
  }
  if (command === '--version' || command === 'version') {
    io.out(VERSION);
    return 0;
  }
  const handler = COMMANDS[command];
  if (!handler) {
    io.err(`unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await handler(rest, io);
  } catch (err) {
    if (err instanceof FlowhookError) {
      io.err(`flowhook: ${err.message} [${err.code}]`);
      return 1;
    }
    if (err instanceof UsageError) {
      io.err(err.message);
      return 2;
    }
    if (
      err instanceof TypeError &&
      'code' in err &&
      String(err.code).startsWith('ERR_PARSE_ARGS')
    ) {
      io.err(`flowhook: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(
        `flowhook: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
