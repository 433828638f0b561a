import type { Message } from 'kafkajs';
import type { ProcessorContext } from '../../../src/kafka/processor';
import {
  BROKER_DEFAULT_MAX_MESSAGE_BYTES,
  boundedContext,
  OWNED_TOPIC_MAX_MESSAGE_BYTES,
  recordBatchBytes,
  RecordLimits,
  type RecordTooLarge,
} from '../../../src/kafka/record-limits';
import { timerChangelogRecord, type Timer, type TimerService } from '../../../src/kafka/timers';
import { ownedTopics, topicNames } from '../../../src/kafka/topics';
import { DEFAULT_MAX_EVENT_BYTES } from '../../../src/events';

describe('recordBatchBytes', () => {
  it('bounds the record batch from above: key, value, headers and the v2 framing', () => {
    const empty = recordBatchBytes({ key: null, value: null });
    expect(empty).toBeGreaterThanOrEqual(61 + 7); // batch header + the smallest record
    const value = 'é'.repeat(1000); // 2 bytes each in UTF-8
    const m: Message = { key: 'k', value, headers: { h: 'v', many: ['a', 'bc'] } };
    const payload = 1 + 2000 + (1 + 1) + (4 + 1) + (4 + 2);
    expect(recordBatchBytes(m)).toBeGreaterThan(payload);
    expect(recordBatchBytes(m)).toBeLessThan(payload + 200);
    expect(recordBatchBytes({ key: null, value: Buffer.alloc(5000) })).toBe(empty + 5000);
  });
});

describe('RecordLimits', () => {
  const limits = new RecordLimits(new Map([['big', 10_000]]));

  it('takes the broker default for topics it has no limit for', () => {
    expect(limits.limit('other')).toBe(BROKER_DEFAULT_MAX_MESSAGE_BYTES);
  });

  it('says which record does not fit, by how much', () => {
    const fits: Message = { key: 'k', value: 'x'.repeat(9000) };
    const tooLarge: Message = { key: 'k', value: 'x'.repeat(10_000) };
    expect(limits.check('big', fits)).toBeUndefined();
    expect(limits.check('big', tooLarge)).toEqual({
      topic: 'big',
      bytes: recordBatchBytes(tooLarge),
      limit: 10_000,
    });
  });

  it('counts UTF-8 bytes, not characters: three-byte text near the limit', () => {
    const fits: Message = { key: 'k', value: '€'.repeat(3280), headers: { h: '€' } };
    const tooLarge: Message = { key: 'k', value: '€'.repeat(3400) };
    expect(recordBatchBytes(fits)).toBeLessThanOrEqual(10_000);
    expect(limits.check('big', fits)).toBeUndefined();
    expect(limits.check('big', tooLarge)).toEqual({
      topic: 'big',
      bytes: recordBatchBytes(tooLarge),
      limit: 10_000,
    });
    expect(recordBatchBytes(tooLarge)).toBeGreaterThan(10_200);
  });

  it('keeps headroom on topics whose records are copied onward with more added', () => {
    const reserved = limits.reserving(['big', 'other'], 1000);
    expect(reserved.limit('big')).toBe(9000);
    expect(reserved.limit('other')).toBe(BROKER_DEFAULT_MAX_MESSAGE_BYTES - 1000);
    expect(limits.limit('big')).toBe(10_000);
  });
});

describe('the topics flowhook creates', () => {
  it('take a record embedding the largest accepted event, above the broker default', () => {
    expect(OWNED_TOPIC_MAX_MESSAGE_BYTES).toBeGreaterThan(BROKER_DEFAULT_MAX_MESSAGE_BYTES);
    const event = {
      id: 'e',
      metric: 'Placed Order',
      properties: { p: 'x'.repeat(DEFAULT_MAX_EVENT_BYTES) },
    };
    const timer: Timer = {
      id: 'p|f|wait|e',
      due: Date.now(),
      key: 'p',
      payload: { resume: {}, event },
    };
    expect(recordBatchBytes(timerChangelogRecord(timer))).toBeLessThan(
      OWNED_TOPIC_MAX_MESSAGE_BYTES,
    );
    for (const topic of ownedTopics(topicNames('flowhook.'), { partitions: 6, replication: -1 })) {
      expect({ topic: topic.topic, entries: topic.configEntries }).toEqual({
        topic: topic.topic,
        entries: expect.arrayContaining([
          { name: 'max.message.bytes', value: String(OWNED_TOPIC_MAX_MESSAGE_BYTES) },
        ]),
      });
    }
  });
});

describe('boundedContext', () => {
  function fakeContext() {
    const emitted: { topic: string; message: Message }[] = [];
    const scheduled: Timer[] = [];
    const timers = {
      schedule: (t: Timer) => scheduled.push(t),
      cancel: () => true,
    } as unknown as TimerService;
    const context: ProcessorContext = {
      partition: 2,
      now: () => 42,
      store: () => {
        throw new Error('unused');
      },
      timers,
      emit: (topic, message) => emitted.push({ topic, message }),
      pauseUntil: () => undefined,
    };
    return { context, emitted, scheduled };
  }
  const limits = new RecordLimits(
    new Map([
      ['jobs', 1000],
      ['dlq', 1000],
      ['timers', 1000],
    ]),
  );

  it('emits what fits, hands what does not to onTooLarge and never produces it', () => {
    const { context, emitted } = fakeContext();
    const refused: { tooLarge: RecordTooLarge; message: Message }[] = [];
    const bounded = boundedContext(context, {
      limits,
      onTooLarge: (tooLarge, message) => refused.push({ tooLarge, message }),
    });
    const small: Message = { key: 'a', value: 'small' };
    const big: Message = { key: 'b', value: 'x'.repeat(2000) };
    bounded.emit('jobs', small);
    bounded.emit('jobs', big);
    expect(emitted).toEqual([{ topic: 'jobs', message: small }]);
    expect(refused).toEqual([
      { tooLarge: { topic: 'jobs', bytes: recordBatchBytes(big), limit: 1000 }, message: big },
    ]);
    expect(bounded.partition).toBe(2);
    expect(bounded.now()).toBe(42);
  });

  it('makes records of a fitted topic fit instead of refusing them', () => {
    const { context, emitted } = fakeContext();
    const onTooLarge = jest.fn();
    const bounded = boundedContext(context, {
      limits,
      fit: new Map([
        [
          'dlq',
          (m: Message, limit: number) => ({ ...m, value: String(m.value).slice(0, limit / 2) }),
        ],
      ]),
      onTooLarge,
    });
    bounded.emit('dlq', { key: 'k', value: 'y'.repeat(5000) });
    expect(onTooLarge).not.toHaveBeenCalled();
    expect(String(emitted[0]?.message.value)).toHaveLength(500);
  });

  it('does not set a timer too large for the timers changelog', () => {
    const { context, scheduled } = fakeContext();
    const refused: RecordTooLarge[] = [];
    const bounded = boundedContext(context, {
      limits,
      timersChangelogTopic: 'timers',
      onTooLarge: (tooLarge) => refused.push(tooLarge),
    });
    const small: Timer = { id: 's', due: 1, key: 'k', payload: { n: 1 } };
    const big: Timer = { id: 'b', due: 1, key: 'k', payload: { n: 'z'.repeat(2000) } };
    bounded.timers.schedule(small);
    bounded.timers.schedule(big);
    expect(scheduled).toEqual([small]);
    expect(refused).toEqual([
      { topic: 'timers', bytes: recordBatchBytes(timerChangelogRecord(big)), limit: 1000 },
    ]);
    expect(bounded.timers.cancel('s')).toBe(true);
  });
});
