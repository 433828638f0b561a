import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import { recordBatchBytes, type RecordTooLarge } from '../kafka/record-limits';
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

/** Bytes of the original value a DLQ copy cut to fit keeps: enough to tell which event it was. */
export const KEPT_PREFIX_BYTES = 64 * 1024;

/**
 * The events-DLQ record made to fit a topic taking at most `limit` bytes a record: when it is
 * larger, its value is cut to a prefix (and the original headers dropped, should they alone be
 * too large), marked with DLQ_HEADERS.truncated = the original value's size. Dead-lettering a
 * huge event so never fails; the original stays at its source topic, partition and offset.
 */
export function fitEventDeadLetter(message: Message, limit: number): Message {
  if (recordBatchBytes(message) <= limit) return message;
  const value =
    message.value === null || message.value === undefined ? null : Buffer.from(message.value);
  const original = value?.length ?? 0;
  let headers: IHeaders = { ...(message.headers ?? {}), [DLQ_HEADERS.truncated]: String(original) };
  const own = new Set<string>(Object.values(DLQ_HEADERS));
  const withoutValue = (h: IHeaders) =>
    recordBatchBytes({ key: message.key, value: null, headers: h });
  if (withoutValue(headers) > limit) {
    headers = Object.fromEntries(Object.entries(headers).filter(([name]) => own.has(name)));
  }
  const room = Math.max(0, limit - withoutValue(headers));
  return {
    key: message.key,
    value: value ? value.subarray(0, Math.min(KEPT_PREFIX_BYTES, room)) : null,
    headers,
  };
}

/** Flow and action a derived record belongs to, when its JSON says (a job, a delay timer). */
function originOf(message: Message): { flowId?: string; actionId?: string } {
  try {
    const doc = JSON.parse(message.value?.toString() ?? '') as {
      flow_id?: unknown;
      action_id?: unknown;
      payload?: { resume?: { flow_id?: unknown; delay_action_id?: unknown } };
    };
    const flowId = doc.flow_id ?? doc.payload?.resume?.flow_id;
    const actionId = doc.action_id ?? doc.payload?.resume?.delay_action_id;
    return {
      ...(typeof flowId === 'string' && { flowId }),
      ...(typeof actionId === 'string' && { actionId }),
    };
  } catch {
    return {};
  }
}

/**
 * The events-DLQ record for an event one of whose derived records (`message`, for
 * `tooLarge.topic`) exceeded its topic's limit and was not produced: reason record_too_large.
 */
export function recordTooLargeDeadLetter(input: {
  source: EventDeadLetterInput['source'];
  tooLarge: RecordTooLarge;
  message: Message;
  now?: Date;
}): Message {
  const { topic, bytes, limit } = input.tooLarge;
  return eventDeadLetter({
    source: input.source,
    reason: 'record_too_large',
    error: `a record of ${bytes} bytes for ${topic} exceeds what the topic takes (${limit} bytes, max.message.bytes); it was not produced`,
    ...originOf(input.message),
    ...(input.now && { now: input.now }),
  });
}
