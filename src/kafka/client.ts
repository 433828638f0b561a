import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import type { KafkaSettings } from '../config/load';
import type { Logger } from '../observability/logger';

// kafkajs warns about its v2 partitioner change on every producer; flowhook always uses the
// default (murmur2-compatible) partitioner, so the warning carries no information.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** Routes kafkajs's own log lines into pino, one level down: kafkajs is chatty at INFO. */
function pinoLogCreator(logger: Logger) {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      const pinoLevel = LEVELS[level] ?? 'info';
      child[pinoLevel === 'info' ? 'debug' : pinoLevel](extra, message);
    };
}

export function createKafka(
  settings: KafkaSettings & { brokers: string[] },
  logger: Logger,
): Kafka {
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
