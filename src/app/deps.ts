import type { Kafka } from 'kafkajs';
import type { FlowhookConfig } from '../config/load';
import type { TopicNames } from '../kafka/topics';
import type { Logger } from '../observability/logger';

/**
 * What the application layer needs, passed in by its callers (the CLI builds it once per
 * command from the configuration; the admin role from its RoleContext).
 */
export interface AppDeps {
  kafka: Kafka;
  topics: TopicNames;
  config: FlowhookConfig;
  logger: Logger;
}

/** The part of AppDeps that needs no cluster (validate, preview, test-send). */
export type OfflineDeps = Pick<AppDeps, 'config'>;
