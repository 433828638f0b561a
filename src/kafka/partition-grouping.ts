import type { Message, PartitionMetadata } from 'kafkajs';
import { kafkajsFile } from './kafkajs-file';

// kafkajs 2.2.4 groups a produce request's messages by partition with
// `Object.assign(result, { [partition]: [...current, message] })`: every message copies its
// partition's list so far. A task sends one partition's outputs and changelog records in a
// request of up to ~900 KiB, a few thousand messages, so a request cost millions of copies —
// 7 % of the trigger's CPU in bench:trigger's profile. The grouping below is the same function
// (same partitioner calls, in order; same result) in one pass. sendMessages.js keeps the
// module it required at load time, so the replacement must be in the require cache before
// kafkajs is first loaded: src/kafka/kafkajs.ts installs it and is the only module that loads
// kafkajs (an ESLint rule holds that).

interface GroupingInput {
  topic: string;
  partitionMetadata: PartitionMetadata[];
  messages: Message[];
  partitioner: (args: {
    topic: string;
    partitionMetadata: PartitionMetadata[];
    message: Message;
  }) => number;
}

/** kafkajs's groupMessagesPerPartition in one pass: partition → its messages, in order. */
export function groupMessagesPerPartition(input: GroupingInput): Record<number, Message[]> {
  const grouped: Record<number, Message[]> = {};
  if (input.partitionMetadata.length === 0) return grouped;
  const { topic, partitionMetadata, partitioner } = input;
  for (const message of input.messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    const list = grouped[partition];
    if (list) list.push(message);
    else grouped[partition] = [message];
  }
  return grouped;
}

/** Where kafkajs keeps the module this replaces. */
export function kafkajsGroupingPath(): string {
  return kafkajsFile('producer', 'groupMessagesPerPartition.js');
}
