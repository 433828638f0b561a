import type { Consumer, Kafka, PartitionAssigner } from 'kafkajs';
import type { Logger } from '../observability/logger';
import type { FlowhookMetrics } from '../observability/metrics';
import { isFatalKafkaError } from './errors';

export interface SupervisedConsumerOptions {
  kafka: Kafka;
  logger: Logger;
  metrics: FlowhookMetrics;
  groupId: string;
  sessionTimeoutMs?: number;
  /** Longest a fetch waits for data when idle. Default 100 ms. */
  maxWaitTimeMs?: number;
  maxBytesPerPartition?: number;
  partitionAssigners?: PartitionAssigner[];
  /** The owner is stopping: kafkajs must not restart, a crash is not replaced. */
  isClosing(): boolean;
  onJoin(assignment: Record<string, number[]>): void;
  /** What a restart cannot fix (authorisation, authentication): report it. */
  onFatal(err: Error): void;
  /** kafkajs gave up on a crash it could have survived: the owner starts a new consumer. */
  onGaveUp(err: Error): void;
}

/**
 * The consumer every role uses: read_committed, heartbeats at a tenth of the session timeout,
 * kafkajs restarts for retriable crashes, and the three outcomes of any other crash routed to
 * its owner (fatal, gave up, or ignored once the owner replaced it). Lag is exported per
 * partition.
 */
export function supervisedConsumer(options: SupervisedConsumerOptions): Consumer {
  const { logger, metrics, groupId } = options;
  const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
  const consumer = options.kafka.consumer({
    groupId,
    sessionTimeout,
    heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 10)),
    maxWaitTimeInMs: options.maxWaitTimeMs ?? 100,
    maxBytesPerPartition: options.maxBytesPerPartition,
    // read_committed: never see the records of an aborted transaction.
    readUncommitted: false,
    allowAutoTopicCreation: false,
    ...(options.partitionAssigners ? { partitionAssigners: options.partitionAssigners } : {}),
    retry: {
      retries: 8,
      initialRetryTime: 300,
      maxRetryTime: 5000,
      restartOnFailure: async (err) => !isFatalKafkaError(err) && !options.isClosing(),
    },
  });
  const { GROUP_JOIN, CRASH, END_BATCH_PROCESS } = consumer.events;
  consumer.on(GROUP_JOIN, (e) => options.onJoin(e.payload.memberAssignment));
  consumer.on(CRASH, (e) => {
    metrics.kafkaErrors.inc({ kind: 'crash' });
    const err = e.payload.error;
    if (e.payload.restart) {
      logger.warn({ err }, 'consumer error; kafkajs restarts it');
    } else if (isFatalKafkaError(err)) {
      logger.error({ err }, 'consumer stopped: a restart cannot fix this');
      options.onFatal(err);
    } else if (!options.isClosing()) {
      options.onGaveUp(err);
    }
  });
  consumer.on(END_BATCH_PROCESS, (e) => {
    const { topic, partition, offsetLag } = e.payload;
    metrics.consumerLag.set(
      { group: groupId, topic, partition: String(partition) },
      Number(offsetLag),
    );
  });
  return consumer;
}
