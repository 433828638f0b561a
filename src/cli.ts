#!/usr/bin/env node
import { FlowhookError } from './errors';
import { processIo, type Command, type CommandIo } from './cli/io';
import { runCommand } from './cli/run';
import { VERSION } from './version';

const USAGE = `flowhook ${VERSION} — Kafka-native webhook flows

Usage:
  flowhook run [--roles trigger,delivery,delay] [--config FILE]
      Run the service. Without KAFKA_BROKERS a local single-node Kafka broker is started.

Settings come from the environment (and FILE / FLOWHOOK_CONFIG_FILE); see the README.
`;

const COMMANDS: Record<string, Command> = {
  run: runCommand,
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
