import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig, type FlowhookConfig } from '../config/load';
import { writeLocalAddress } from '../kafka/local-address';
import { startKafka, type KafkaCluster } from '../kafka/local-broker';
import { createLogger } from '../observability/logger';
import { ROLE_FACTORIES } from '../roles';
import { FlowhookService } from '../service/service';
import { VERSION } from '../version';
import { localDevelopment, type CommandIo } from './io';

function configWithRoles(
  env: NodeJS.ProcessEnv,
  configFile: string | undefined,
  roles: string | undefined,
): FlowhookConfig {
  return loadConfig(roles ? { ...env, FLOWHOOK_ROLES: roles } : env, configFile);
}

export async function runCommand(argv: string[], io: CommandIo): Promise<number> {
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
  let serviceConfig = config;
  let forgetAddress = (): void => undefined;
  if (cluster !== undefined) {
    const secret =
      config.delivery.signingSecrets[0] ?? `whsec_${randomBytes(24).toString('base64')}`;
    serviceConfig = localDevelopment(config, process.env, cluster.brokers, secret);
    // Other terminals' one-shot commands (and `flowhook receive`) find this instance by itself.
    forgetAddress = writeLocalAddress({ brokers: cluster.brokers, signing_secret: secret });
    const d = serviceConfig.delivery;
    io.err(
      `local development: http ${d.allowHttp ? 'allowed' : 'refused'}, destinations allowed: ${d.destinationAllowlist.join(',') || 'none'} (for \`flowhook receive\`)`,
    );
  }
  const brokers = serviceConfig.kafka.brokers ?? [];
  const service = new FlowhookService({
    config: { ...serviceConfig, kafka: { ...serviceConfig.kafka, brokers } },
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
      forgetAddress();
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
    forgetAddress();
    await cluster?.stop();
    throw err;
  }
  io.err(`flowhook ${VERSION} running roles ${config.roles.join(', ')}`);
  io.err(
    `  Kafka brokers: ${brokers.join(',')}${cluster?.kind === 'local' ? ` (local broker, log ${cluster.logFile})` : ''}`,
  );
  io.err(`  metrics:       http://127.0.0.1:${service.httpPort}/metrics`);
  io.err(`  health:        http://127.0.0.1:${service.httpPort}/healthz  /readyz`);
  if (config.roles.includes('admin'))
    io.err(`  admin API:     http://${config.admin.host}:${config.admin.port}/api/openapi.json`);
  logger.info({ brokers, roles: config.roles, httpPort: service.httpPort }, 'flowhook started');
  return new Promise<number>(() => undefined); // runs until a signal
}
