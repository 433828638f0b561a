import type { KafkaMessage } from 'kafkajs';
import {
  eventDeadLetter,
  fitEventDeadLetter,
  KEPT_PREFIX_BYTES,
  recordTooLargeDeadLetter,
} from '../../../src/dead-letter/events';
import { DLQ_HEADERS } from '../../../src/dead-letter/headers';
import { parseDlqEntry, RAW_KEPT_BYTES, rejectedMessage } from '../../../src/dead-letter/jobs';
import { recordBatchBytes } from '../../../src/kafka/record-limits';

function source(value: Buffer, headers: KafkaMessage['headers'] = { origin: 'shop' }) {
  const message: KafkaMessage = {
    key: Buffer.from('profile-1'),
    value,
    headers,
    offset: '7',
    timestamp: '1700000000000',
    attributes: 0,
  };
  return { topic: 'events', partition: 1, message };
}

describe('fitEventDeadLetter', () => {
  it('leaves a DLQ copy that fits as it is: the original bytes, replayable', () => {
    const letter = eventDeadLetter({
      source: source(Buffer.from('{"a":1}')),
      reason: 'x',
      error: 'y',
    });
    expect(fitEventDeadLetter(letter, 1_048_588)).toBe(letter);
  });

  it('cuts the value of a copy too large for the topic to a prefix, marked with the original size', () => {
    const value = Buffer.alloc(2 * 1024 * 1024, 'a');
    const letter = eventDeadLetter({ source: source(value), reason: 'schema_invalid', error: 'e' });
    const fitted = fitEventDeadLetter(letter, 1_048_588);
    expect(recordBatchBytes(fitted)).toBeLessThanOrEqual(1_048_588);
    expect((fitted.value as Buffer).equals(value.subarray(0, KEPT_PREFIX_BYTES))).toBe(true);
    expect(fitted.headers?.[DLQ_HEADERS.truncated]).toBe(String(value.length));
    expect(fitted.headers?.[DLQ_HEADERS.reason]).toBe('schema_invalid');
    expect(fitted.headers?.origin).toBe('shop');
    expect(fitted.key?.toString()).toBe('profile-1');
  });

  it('drops the original headers too when they alone do not fit, keeping its own', () => {
    const letter = eventDeadLetter({
      source: source(Buffer.from('{}'), { huge: 'h'.repeat(5000) }),
      reason: 'r',
      error: 'e',
    });
    const fitted = fitEventDeadLetter(letter, 3000);
    expect(recordBatchBytes(fitted)).toBeLessThanOrEqual(3000);
    expect(fitted.headers?.huge).toBeUndefined();
    expect(fitted.headers?.[DLQ_HEADERS.reason]).toBe('r');
    expect(fitted.headers?.[DLQ_HEADERS.truncated]).toBe('2');
  });
});

describe('recordTooLargeDeadLetter', () => {
  it('dead-letters the source event with reason record_too_large, naming topic, sizes, flow and action', () => {
    const job = { id: 'j', flow_id: 'order-hook', action_id: 'hook', body: 'x'.repeat(100) };
    const letter = recordTooLargeDeadLetter({
      source: source(Buffer.from('{"id":"e-1"}')),
      tooLarge: { topic: 'flowhook.jobs', bytes: 2_100_000, limit: 983_052 },
      message: { key: 'p', value: JSON.stringify(job) },
    });
    expect(letter.value?.toString()).toBe('{"id":"e-1"}');
    expect(letter.headers?.[DLQ_HEADERS.reason]).toBe('record_too_large');
    expect(String(letter.headers?.[DLQ_HEADERS.error])).toMatch(
      /2100000 bytes for flowhook\.jobs exceeds .*983052 bytes/,
    );
    expect(letter.headers?.[DLQ_HEADERS.flowId]).toBe('order-hook');
    expect(letter.headers?.[DLQ_HEADERS.actionId]).toBe('hook');
    expect(letter.headers?.[DLQ_HEADERS.topic]).toBe('events');
    expect(letter.headers?.[DLQ_HEADERS.offset]).toBe('7');
  });

  it('names the flow of a delay timer, and nothing for a value that is not JSON', () => {
    const timer = { id: 't', payload: { resume: { flow_id: 'f', delay_action_id: 'wait' } } };
    const fromTimer = recordTooLargeDeadLetter({
      source: source(Buffer.from('{}')),
      tooLarge: { topic: 'flowhook.timers', bytes: 2, limit: 1 },
      message: { key: 'd:1', value: JSON.stringify(timer) },
    });
    expect(fromTimer.headers?.[DLQ_HEADERS.flowId]).toBe('f');
    expect(fromTimer.headers?.[DLQ_HEADERS.actionId]).toBe('wait');
    const opaque = recordTooLargeDeadLetter({
      source: source(Buffer.from('{}')),
      tooLarge: { topic: 't', bytes: 2, limit: 1 },
      message: { key: null, value: 'not json' },
    });
    expect(opaque.headers?.[DLQ_HEADERS.flowId]).toBeUndefined();
  });
});

describe('rejectedMessage', () => {
  it('keeps a prefix of a huge rejected value, cut at a character boundary, with its size', () => {
    const value = Buffer.from(`${'a'.repeat(RAW_KEPT_BYTES - 1)}é${'z'.repeat(3 * 1024 * 1024)}`);
    const message = rejectedMessage({
      reason: 'invalid_job',
      errorCode: 'FLOWHOOK_ERR_TOPIC_SCHEMA',
      error: 'bad',
      topic: 'flowhook.jobs',
      partition: 0,
      message: { key: null, value, offset: '1', timestamp: '0', attributes: 0, headers: {} },
    });
    expect(recordBatchBytes(message)).toBeLessThan(RAW_KEPT_BYTES * 2);
    const entry = parseDlqEntry(Buffer.from(String(message.value)));
    expect(entry.kind === 'rejected' && entry.letter).toMatchObject({
      raw: 'a'.repeat(RAW_KEPT_BYTES - 1),
      raw_encoding: 'utf8',
      raw_bytes: value.length,
    });
  });
});
