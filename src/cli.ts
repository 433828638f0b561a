#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { loadConfig, type FlowhookConfig } from './config/load';
import { FlowhookError } from './errors';
import { startKafka, type KafkaCluster } from './kafka/local-broker';
import { createLogger } from './observability/logger';
import { ROLE_FACTORIES } from './roles';
import { FlowhookService } from './service/service';
import { VERSION } from './version';

const USAGE = `flowhook ${VERSION} — Kafka-native webhook flows

Usage:
  flowhook run [--roles trigger,delivery,delay] [--config FILE]
      Run the service. Without KAFKA_BROKERS a local single-node Kafka broker is started.

Settings come from the environment (and FILE / FLOWHOOK_CONFIG_FILE); see the README.
`;

export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: CommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

function configWithRoles(
  env: NodeJS.ProcessEnv,
  configFile: string | undefined,
  roles: string | undefined,
): FlowhookConfig {
  return loadConfig(roles ? { ...env, FLOWHOOK_ROLES: roles } : env, configFile);
}

async function run(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { roles: { type: 'string' }, config: { type: 'string' } },
    strict: true,
  });
  const config = configWithRoles(process.env, values.config, values.roles);
  const logger = createLogger(config.logLevel);

  let cluster: KafkaCluster | undefined;
  if (!config.kafka.brokers) {
    io.err('KAFKA_BROKERS is not set: starting a local Kafka broker for this process…');
    cluster = await startKafka({ env: process.env, log: (line) => io.err(line) });
  }
  const brokers = config.kafka.brokers ?? cluster?.brokers ?? [];
  const service = new FlowhookService({
    config: { ...config, kafka: { ...config.kafka, brokers } },
    logger,
    roles: ROLE_FACTORIES,
  });

  let signals = 0;
  const shutdown = (signal: string) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(130);
    }
    logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ graceMs: config.shutdownGraceMs }, 'shutdown grace period exceeded: exiting');
      process.exit(1);
    }, config.shutdownGraceMs);
    timer.unref();
    void (async () => {
      await service.stop();
      await cluster?.stop();
      logger.info('stopped');
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  try {
    await service.start();
  } catch (err) {
    await service.stop();
    await cluster?.stop();
    throw err;
  }
  io.err(`flowhook ${VERSION} running roles ${config.roles.join(', ')}`);
  io.err(
    `  Kafka brokers: ${brokers.join(',')}${cluster?.kind === 'local' ? ` (local broker, log ${cluster.logFile})` : ''}`,
  );
  io.err(`  metrics:       http://127.0.0.1:${service.httpPort}/metrics`);
  io.err(`  health:        http://127.0.0.1:${service.httpPort}/healthz  /readyz`);
  logger.info({ brokers, roles: config.roles, httpPort: service.httpPort }, 'flowhook started');
  return new Promise<number>(() => undefined); // runs until a signal
}

const COMMANDS: Record<string, (argv: string[], io: CommandIo) => Promise<number>> = {
  run,
};

export async function main(argv: string[], io: CommandIo = defaultIo): Promise<number> {
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
