// What flowhook.dlq holds. Two kinds of entries, both JSON, keyed as noted:
//   - a DeadLetter (src/documents.ts): a job that will not be attempted again, with its whole
//     attempt history, the reason and the error code. Key = job id. `flowhook dlq replay`
//     re-enqueues these.
//   - a RejectedMessage: a message that never became a job (undecodable or schema-invalid job,
//     a delayed message without a usable target). It keeps the raw value and where it was read,
//     so nothing is dropped silently. Key = the original message key.
// Every DLQ message also carries the header `flowhook-dlq-reason`.

import type { KafkaMessage, Message } from 'kafkajs';
import type { DeadLetter } from '../documents';
import { DLQ_HEADERS } from './headers';

export interface RejectedMessage {
  reason: string;
  error_code: string;
  /** Human-readable, path-pointing where possible. */
  error: string;
  failed_at: string;
  source: { topic: string; partition: number; offset: string; key: string | null };
  /** The value as read: UTF-8 text, or base64 when it is not valid UTF-8; null for no value. */
  raw: string | null;
  raw_encoding: 'utf8' | 'base64';
  /** Set when `raw` holds only the first RAW_KEPT_BYTES of the value: its size in bytes. */
  raw_bytes?: number;
}

/**
 * Most bytes of a rejected value kept: the DLQ record must fit its topic whatever came in
 * (base64 adds a third), and a prefix is enough to tell what it was.
 */
export const RAW_KEPT_BYTES = 64 * 1024;

export type DlqEntry =
  | { kind: 'job'; letter: DeadLetter }
  | { kind: 'rejected'; letter: RejectedMessage }
  | { kind: 'unreadable'; raw: string };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function rawText(
  value: Buffer | null,
): Pick<RejectedMessage, 'raw' | 'raw_encoding' | 'raw_bytes'> {
  if (value === null) return { raw: null, raw_encoding: 'utf8' };
  if (value.length > RAW_KEPT_BYTES) {
    // Cut at a character boundary, so a UTF-8 value stays readable as text.
    let end = RAW_KEPT_BYTES;
    while (end > 0 && ((value[end] as number) & 0xc0) === 0x80) end -= 1;
    return { ...rawText(value.subarray(0, end)), raw_bytes: value.length };
  }
  try {
    return { raw: strictUtf8.decode(value), raw_encoding: 'utf8' };
  } catch {
    return { raw: value.toString('base64'), raw_encoding: 'base64' };
  }
}

export function deadLetterMessage(letter: DeadLetter): Message {
  return {
    key: letter.job.id,
    value: JSON.stringify(letter),
    headers: { [DLQ_HEADERS.reason]: letter.reason },
  };
}

export interface RejectedMessageInput {
  reason: string;
  errorCode: string;
  error: string;
  topic: string;
  partition: number;
  message: KafkaMessage;
  now?: number;
}

export function rejectedMessage(input: RejectedMessageInput): Message {
  const key = input.message.key?.toString('utf8') ?? null;
  const letter: RejectedMessage = {
    reason: input.reason,
    error_code: input.errorCode,
    error: input.error,
    failed_at: new Date(input.now ?? Date.now()).toISOString(),
    source: { topic: input.topic, partition: input.partition, offset: input.message.offset, key },
    ...rawText(input.message.value),
  };
  return {
    key: input.message.key,
    value: JSON.stringify(letter),
    headers: { [DLQ_HEADERS.reason]: input.reason },
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads one DLQ value; never throws. */
export function parseDlqEntry(value: Buffer | null): DlqEntry {
  const text = value?.toString('utf8') ?? '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: 'unreadable', raw: text };
  }
  if (isObject(parsed) && typeof parsed.reason === 'string') {
    const job = parsed.job;
    if (isObject(job) && typeof job.id === 'string' && typeof job.url === 'string') {
      return { kind: 'job', letter: parsed as unknown as DeadLetter };
    }
    if (isObject(parsed.source)) {
      return { kind: 'rejected', letter: parsed as unknown as RejectedMessage };
    }
  }
  return { kind: 'unreadable', raw: text };
}
