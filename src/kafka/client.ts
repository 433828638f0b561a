import type { KafkaConfig, LogEntry, SASLOptions } from 'kafkajs';
import { Kafka, logLevel } from './kafkajs';
import type { KafkaSettings } from '../config/load';
import type { Logger } from '../observability/logger';
import { installCoordinatorCache } from './coordinator-cache';

// kafkajs warns about its v2 partitioner change on every producer; flowhook always uses the
// default (murmur2-compatible) partitioner, so the warning carries no information.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * Errors kafkajs logs and then retries by itself while a cluster starts, elects a coordinator
 * or rebalances: expected, and said again by flowhook's own lines if they do not pass.
 */
const TRANSIENT =
  /coordinator is (loading|not available|not aware)|not the (correct )?coordinator|rebalanc|leader|ECONNREFUSED|ECONNRESET|Connection (error|timeout)|seed broker|Closed connection|Request timed out|NOT_COORDINATOR|COORDINATOR_LOAD|UNKNOWN_MEMBER_ID/i;

/**
 * kafkajs warns on every idempotent producer with bounded retries. flowhook bounds them on
 * purpose: a failed transaction is aborted and its input processed again, and an at-least-once
 * batch that cannot be produced is fetched again; retrying forever would only wedge a task.
 */
const EXPECTED_WARNING = /^Limiting retries for the idempotent producer/;

/**
 * Routes kafkajs's own log lines into pino, one level down: kafkajs is chatty at INFO, and
 * logs at ERROR what it retries. flowhook's roles report what a fault did to them (warn while
 * they heal, error only for what a restart cannot fix), so kafkajs never logs above warn, and
 * its transient errors go to debug.
 */
function pinoLogCreator(logger: Logger) {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      const text = `${message} ${String((extra as { error?: unknown }).error ?? '')}`;
      const pinoLevel = LEVELS[level] ?? 'info';
      if (
        pinoLevel === 'info' ||
        pinoLevel === 'debug' ||
        TRANSIENT.test(text) ||
        EXPECTED_WARNING.test(String(message))
      ) {
        child.debug(extra, message);
      } else {
        child.warn(extra, message);
      }
    };
}

export function createKafka(
  settings: KafkaSettings & { brokers: string[] },
  logger: Logger,
): Kafka {
  installCoordinatorCache();
  const config: KafkaConfig = {
    clientId: settings.clientId,
    brokers: settings.brokers,
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(logger),
    connectionTimeout: 5000,
    requestTimeout: 30000,
    retry: { retries: settings.connectRetries, initialRetryTime: 300, maxRetryTime: 10_000 },
  };
  if (settings.ssl) config.ssl = settings.ssl;
  if (settings.sasl) config.sasl = settings.sasl as SASLOptions;
  return new Kafka(config);
}
