import type { Kafka } from 'kafkajs';
import type { FlowhookConfig } from '../config/load';
import type { RoleName } from '../config/settings';
import type { TopicNames } from '../kafka/topics';
import type { Logger } from '../observability/logger';
import type { FlowhookMetrics } from '../observability/metrics';

/** What every role gets from the service: dependencies are passed in, never imported. */
export interface RoleContext {
  config: FlowhookConfig;
  kafka: Kafka;
  topics: TopicNames;
  logger: Logger;
  metrics: FlowhookMetrics;
}

/**
 * A role is one consuming pipeline (trigger, delivery, delay). start() resolves once it is
 * running (it may still be loading: isReady() tells); stop() is idempotent, stops fetching,
 * finishes or hands back in-flight work, commits and disconnects.
 */
export interface Role {
  readonly name: RoleName;
  start(): Promise<void>;
  isReady(): boolean;
  /** Set when the role failed beyond recovery: /healthz turns 503 and Kubernetes restarts it. */
  failure(): Error | undefined;
  stop(): Promise<void>;
}

export type RoleFactory = (context: RoleContext) => Role;

/** Consumer group of a role: `flowhook-<role>` for the default prefix, `<prefix stem>-<role>` else. */
export function roleGroupId(topicPrefix: string, role: string): string {
  const stem = topicPrefix.replace(/[._-]+$/, '');
  return `${stem === '' ? 'flowhook' : stem}-${role}`;
}
