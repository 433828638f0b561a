import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import { DLQ_HEADERS } from './headers';

// A record on flowhook.events.dlq keeps the original key, value bytes and headers untouched
// and adds the reason and its source as headers (the Kafka Connect DLQ convention), so it can
// be inspected and re-published as it was.

export interface EventDeadLetterInput {
  source: { topic: string; partition: number; message: KafkaMessage };
  reason: string;
  error: string;
  flowId?: string;
  actionId?: string;
  now?: Date;
}

export function eventDeadLetter(input: EventDeadLetterInput): Message {
  const { topic, partition, message } = input.source;
  const headers: IHeaders = { ...(message.headers ?? {}) };
  headers[DLQ_HEADERS.reason] = input.reason;
  headers[DLQ_HEADERS.error] = input.error.slice(0, 2000);
  headers[DLQ_HEADERS.topic] = topic;
  headers[DLQ_HEADERS.partition] = String(partition);
  headers[DLQ_HEADERS.offset] = message.offset;
  headers[DLQ_HEADERS.timestamp] = message.timestamp;
  headers[DLQ_HEADERS.failedAt] = (input.now ?? new Date()).toISOString();
  if (input.flowId) headers[DLQ_HEADERS.flowId] = input.flowId;
  if (input.actionId) headers[DLQ_HEADERS.actionId] = input.actionId;
  return { key: message.key, value: message.value, headers };
}
