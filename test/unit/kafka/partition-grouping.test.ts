import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
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

  it('is what kafkajs loads in a Node process that loads it through src/kafka/kafkajs', () => {
    // The built module (npm test builds first), in a plain node process with Node's loader.
    const dist = resolve(__dirname, '../../../dist/src/kafka');
    const probe = `
      require(${JSON.stringify(`${dist}/kafkajs.js`)});
      const { groupMessagesPerPartition, kafkajsGroupingPath } =
        require(${JSON.stringify(`${dist}/partition-grouping.js`)});
      process.stdout.write(String(require(kafkajsGroupingPath()) === groupMessagesPerPartition));
    `;
    expect(execFileSync(process.execPath, ['-e', probe]).toString()).toBe('true');
  });
});
