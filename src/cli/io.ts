import type { Kafka } from 'kafkajs';
import { loadConfig, type FlowhookConfig } from '../config/load';
import { ConfigError } from '../errors';
import { createKafka } from '../kafka/client';
import { topicNames, type TopicNames } from '../kafka/topics';
import pino from 'pino';
import { createLogger, type Logger } from '../observability/logger';

/** Where a command writes: stdout for results (JSON where it is data), stderr for people. */
export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

export type Command = (argv: string[], io: CommandIo) => Promise<number>;

export const processIo: CommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Logs of one-shot commands go to stderr (stdout carries their result), warnings and up. */
export function cliLogger(level = 'warn'): Logger {
  return createLogger(level === 'info' ? 'warn' : level, pino.destination(2));
}

export interface CliKafka {
  config: FlowhookConfig;
  logger: Logger;
  kafka: Kafka;
  topics: TopicNames;
}

/**
 * The cluster for one-shot commands (flows apply, events send, dlq …). Unlike `run`, they never
 * start a broker of their own: a table written to a throwaway broker would vanish with it.
 */
export function cliKafka(env: NodeJS.ProcessEnv = process.env, configFile?: string): CliKafka {
  const config = loadConfig(env, configFile);
  const brokers = config.kafka.brokers;
  if (!brokers) {
    throw new ConfigError([
      {
        name: 'KAFKA_BROKERS',
        value: undefined,
        allowed: 'the brokers of the cluster `flowhook run` uses (it prints them)',
      },
    ]);
  }
  const logger = cliLogger(config.logLevel);
  return {
    config,
    logger,
    kafka: createKafka(
      { ...config.kafka, brokers, connectRetries: Math.min(config.kafka.connectRetries, 3) },
      logger,
    ),
    topics: topicNames(config.topicPrefix),
  };
}
