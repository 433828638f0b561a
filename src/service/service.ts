import type { Admin, Kafka } from 'kafkajs';
import type { FlowhookConfig } from '../config/load';
import type { RoleName } from '../config/settings';
import { FlowhookError, KafkaUnavailableError } from '../errors';
import { createKafka } from '../kafka/client';
import { ensureTopics, ownedTopics, topicNames, type TopicNames } from '../kafka/topics';
import { HealthServer } from '../observability/http-server';
import type { Logger } from '../observability/logger';
import { FlowhookMetrics } from '../observability/metrics';
import { VERSION } from '../version';
import type { Role, RoleFactory } from './role';

export interface ServiceOptions {
  config: FlowhookConfig & { kafka: { brokers: string[] } };
  logger: Logger;
  roles: Partial<Record<RoleName, RoleFactory>>;
  metrics?: FlowhookMetrics;
}

/**
 * One process: the health/metrics server, the topics, and the roles asked for. Start order:
 * HTTP (so /healthz answers while loading) → topics → roles. Stop order is the reverse.
 */
export class FlowhookService {
  readonly metrics: FlowhookMetrics;
  readonly topics: TopicNames;
  readonly kafka: Kafka;
  private readonly http: HealthServer;
  private readonly roles: Role[] = [];
  private closing: Promise<void> | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  httpPort = 0;

  constructor(private readonly options: ServiceOptions) {
    this.metrics = options.metrics ?? new FlowhookMetrics();
    this.topics = topicNames(options.config.topicPrefix);
    this.kafka = createKafka(options.config.kafka, options.logger);
    this.http = new HealthServer(this.metrics.registry);
  }

  async start(): Promise<void> {
    const { config } = this.options;
    this.metrics.buildInfo.set({ version: VERSION, roles: config.roles.join(',') }, 1);
    const address = await this.http.listen(config.http.port, config.http.host);
    this.httpPort = address.port;
    if (config.createTopics) await this.createTopics();

    await Promise.all(config.roles.map((name, index) => this.startRole(name, index)));
    this.healthTimer = setInterval(() => this.refreshHealth(), 1000);
    this.healthTimer.unref();
  }

  /**
   * Starts one role; a retriable Kafka error while starting (a partition leader not elected
   * yet, a coordinator still loading, a broker restarting) retires that instance and starts a
   * fresh one, with backoff, up to KAFKA_CONNECT_RETRIES times.
   */
  private async startRole(name: RoleName, index: number): Promise<void> {
    const { config, logger } = this.options;
    const factory = this.options.roles[name];
    if (!factory) throw new Error(`role ${name} is not available in this build`);
    const roleLogger = logger.child({ role: name });
    this.http.addReadinessSource({ name, isReady: () => this.roles[index]?.isReady() ?? false });
    for (let attempt = 1; ; attempt++) {
      const role = factory({
        config,
        kafka: this.kafka,
        topics: this.topics,
        logger: roleLogger,
        metrics: this.metrics,
      });
      this.roles[index] = role;
      try {
        await role.start();
        return;
      } catch (err) {
        await role.stop().catch(() => undefined);
        const retriable = (err as { retriable?: unknown }).retriable === true;
        if (!retriable || attempt > config.kafka.connectRetries || this.closing) throw err;
        roleLogger.warn({ err, attempt }, 'role could not start yet; retrying');
        await new Promise((r) => setTimeout(r, Math.min(10_000, 250 * 2 ** attempt)));
      }
    }
  }

  private refreshHealth(): void {
    let healthy = true;
    for (const role of this.roles) {
      this.metrics.ready.set({ role: role.name }, role.isReady() ? 1 : 0);
      const failure = role.failure();
      if (failure) {
        healthy = false;
        this.options.logger.error({ role: role.name, err: failure }, 'role failed');
      }
    }
    this.http.setHealthy(healthy);
  }

  /** Creates missing topics, retrying while the cluster is unreachable (not on permissions). */
  private async createTopics(): Promise<void> {
    const { config, logger } = this.options;
    const layout = { partitions: config.topicPartitions, replication: config.topicReplication };
    const topics = ownedTopics(this.topics, layout);
    // Named event, profile and catalog topics that do not exist yet are created like the broker's
    // auto-creation would (so a fresh local setup works), with as many partitions as
    // flowhook.state.
    if (config.roles.includes('trigger')) {
      const named = [
        ...(Array.isArray(config.eventTopics) ? config.eventTopics : []),
        ...(config.profiles.enabled ? config.profiles.topics : []),
        ...(config.catalog.enabled ? config.catalog.topics : []),
      ];
      for (const topic of named) {
        topics.push({
          topic,
          numPartitions: layout.partitions,
          replicationFactor: layout.replication,
        });
      }
    }
    const attempts = Math.max(1, config.kafka.connectRetries);
    for (let attempt = 1; ; attempt++) {
      const admin: Admin = this.kafka.admin();
      try {
        await admin.connect().catch((err: unknown) => {
          throw new KafkaUnavailableError(
            `cannot reach Kafka at ${config.kafka.brokers.join(',')}: ${(err as Error).message}`,
            { cause: err },
          );
        });
        await ensureTopics(admin, topics, logger);
        return;
      } catch (err) {
        const retriable = err instanceof FlowhookError ? err.retriable : false;
        if (!retriable || attempt >= attempts) throw err;
        logger.warn({ err, attempt }, 'Kafka not reachable yet; retrying');
        await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** attempt)));
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    }
  }

  isReady(): boolean {
    return this.roles.every((r) => r.isReady());
  }

  /** Idempotent and ordered: roles (reverse start order), then the HTTP server. */
  stop(): Promise<void> {
    this.closing ??= (async () => {
      if (this.healthTimer) clearInterval(this.healthTimer);
      for (const role of this.roles.filter(Boolean).reverse()) {
        await role
          .stop()
          .catch((err: unknown) =>
            this.options.logger.error({ err, role: role.name }, 'stopping role'),
          );
      }
      await this.http.close();
    })();
    return this.closing;
  }
}
