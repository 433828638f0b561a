import type { Kafka } from 'kafkajs';
import { loadConfig, type FlowhookConfig } from '../config/load';
import { ConfigError } from '../errors';
import { createKafka } from '../kafka/client';
import { readLocalAddress } from '../kafka/local-address';
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
/**
 * A local development instance (`npm start`: flowhook's own broker on this machine) accepts
 * http:// and 127.0.0.1 destinations, so `flowhook receive` can show webhooks arriving, and
 * signs with `signingSecret` — unless FLOWHOOK_ALLOW_HTTP, FLOWHOOK_DESTINATION_ALLOWLIST or
 * FLOWHOOK_SIGNING_SECRET say otherwise. Never applied with KAFKA_BROKERS set.
 */
export function localDevelopment(
  config: FlowhookConfig,
  env: NodeJS.ProcessEnv,
  brokers: string[],
  signingSecret: string | undefined,
): FlowhookConfig {
  const d = config.delivery;
  return {
    ...config,
    kafka: { ...config.kafka, brokers },
    delivery: {
      ...d,
      allowHttp: env.FLOWHOOK_ALLOW_HTTP === undefined ? true : d.allowHttp,
      destinationAllowlist:
        env.FLOWHOOK_DESTINATION_ALLOWLIST === undefined
          ? ['127.0.0.1/32']
          : d.destinationAllowlist,
      signingSecrets:
        d.signingSecrets.length === 0 && signingSecret !== undefined
          ? [signingSecret]
          : d.signingSecrets,
    },
  };
}

/** The configuration of one-shot commands: with the local instance's when KAFKA_BROKERS is unset. */
export function cliConfig(
  env: NodeJS.ProcessEnv = process.env,
  configFile?: string,
): FlowhookConfig {
  const config = loadConfig(env, configFile);
  if (config.kafka.brokers) return config;
  const local = readLocalAddress(env);
  return local === undefined
    ? config
    : localDevelopment(config, env, local.brokers, local.signing_secret);
}

export function cliKafka(env: NodeJS.ProcessEnv = process.env, configFile?: string): CliKafka {
  const config = cliConfig(env, configFile);
  const brokers = config.kafka.brokers;
  if (!brokers) {
    throw new ConfigError([
      {
        name: 'KAFKA_BROKERS',
        value: undefined,
        allowed:
          'the brokers of the cluster `flowhook run` uses (it prints them); a local broker started by `npm start` is found by itself',
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
