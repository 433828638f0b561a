// fetchTopicOffsets: a freshly created partition whose leader has not loaded it yet is asked
// again; every other error, and a leader that never loads, reach the caller.
import type { Admin } from 'kafkajs';
import { fetchTopicOffsets, type TopicOffsets } from '../../../src/kafka/topic-offsets';

const OFFSETS: TopicOffsets = [{ partition: 0, offset: '7', high: '7', low: '0' }];
const kafkaError = (type: string): Error => Object.assign(new Error(type), { type });

/** An admin whose fetchTopicOffsets answers with `answers` in turn (an Error is thrown). */
function admin(answers: (TopicOffsets | Error)[]): { admin: Admin; calls: string[] } {
  const calls: string[] = [];
  const fake = {
    fetchTopicOffsets: async (topic: string) => {
      calls.push(topic);
      const next = answers.shift();
      if (next === undefined || next instanceof Error) throw next ?? new Error('no answer left');
      return next;
    },
  };
  return { admin: fake as unknown as Admin, calls };
}

describe('fetchTopicOffsets', () => {
  it('asks again while the new partition has no loaded leader', async () => {
    const a = admin([
      kafkaError('NOT_LEADER_FOR_PARTITION'),
      kafkaError('LEADER_NOT_AVAILABLE'),
      OFFSETS,
    ]);
    await expect(fetchTopicOffsets(a.admin, 'flows')).resolves.toEqual(OFFSETS);
    expect(a.calls).toEqual(['flows', 'flows', 'flows']);
  });

  it('hands any other error to the caller at once', async () => {
    const a = admin([kafkaError('TOPIC_AUTHORIZATION_FAILED'), OFFSETS]);
    await expect(fetchTopicOffsets(a.admin, 'flows')).rejects.toMatchObject({
      type: 'TOPIC_AUTHORIZATION_FAILED',
    });
    expect(a.calls).toHaveLength(1);
  });

  it('gives up on a leader that never loads the partition', async () => {
    const a = admin(Array.from({ length: 20 }, () => kafkaError('NOT_LEADER_FOR_PARTITION')));
    await expect(fetchTopicOffsets(a.admin, 'flows')).rejects.toMatchObject({
      type: 'NOT_LEADER_FOR_PARTITION',
    });
    expect(a.calls).toHaveLength(8);
  });
});
