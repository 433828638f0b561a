import type { Message, PartitionMetadata } from 'kafkajs';
import {
  groupMessagesPerPartition,
  kafkajsGroupingPath,
} from '../../../src/kafka/partition-grouping';

type Grouping = typeof groupMessagesPerPartition;

// jest loads kafkajs's own module from its file (jest keeps its own module registry).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const kafkajsGrouping = require(kafkajsGroupingPath()) as Grouping;

const partitionMetadata = [0, 1, 2].map(
  (partitionId) => ({ partitionId, leader: 1 }) as PartitionMetadata,
);

/** Runs a grouping with a partitioner that records the messages it was asked about. */
function run(group: Grouping, messages: Message[], metadata = partitionMetadata) {
  const asked: string[] = [];
  const grouped = group({
    topic: 't',
    partitionMetadata: metadata,
    messages,
    partitioner: ({ message }) => {
      asked.push(String(message.value));
      return message.partition ?? Number(message.key) % 3;
    },
  });
  return { grouped, asked };
}

describe('groupMessagesPerPartition', () => {
  it('groups as kafkajs does: same partitions, same order, same partitioner calls', () => {
    const messages: Message[] = Array.from({ length: 200 }, (_, i) => ({
      key: String((i * 7) % 11),
      value: `m${i}`,
      ...(i % 5 === 0 ? { partition: 2 } : {}),
    }));
    expect(run(groupMessagesPerPartition, messages)).toEqual(run(kafkajsGrouping, messages));
    expect(Object.keys(run(groupMessagesPerPartition, messages).grouped)).toEqual(['0', '1', '2']);
  });

  it('returns nothing without partition metadata, as kafkajs does', () => {
    const messages = [{ key: '1', value: 'a' }];
    expect(run(groupMessagesPerPartition, messages, [])).toEqual({ grouped: {}, asked: [] });
    expect(run(kafkajsGrouping, messages, [])).toEqual({ grouped: {}, asked: [] });
  });
});
