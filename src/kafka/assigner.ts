import type { PartitionAssigner } from 'kafkajs';
import { AssignerProtocol } from './kafkajs';

/**
 * Co-partitioned assignment: partition number p of every subscribed topic goes to the same
 * member (Kafka Streams' tasks). A processor's task p reads partition p of each input topic and
 * owns store partition p and the transactional id of task p; round-robin would hand partition
 * 0 of one topic to one member and partition 0 of another to a second member, and the two
 * would fence each other forever.
 *
 * Members are sorted by id and partition numbers dealt round-robin, so the assignment only
 * depends on who is in the group.
 */
export const coPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'FlowhookCoPartitioned',
  version: 1,
  async assign({ members, topics }) {
    const sortedMembers = members.map((m) => m.memberId).sort();
    const partitionsOf = new Map<string, number[]>();
    let width = 0;
    for (const topic of topics) {
      const ids = cluster
        .findTopicPartitionMetadata(topic)
        .map((m) => m.partitionId)
        .sort((a, b) => a - b);
      partitionsOf.set(topic, ids);
      width = Math.max(width, ids.length === 0 ? 0 : (ids[ids.length - 1] as number) + 1);
    }
    const assignment = new Map<string, Record<string, number[]>>(
      sortedMembers.map((id) => [id, {}]),
    );
    for (let p = 0; p < width; p++) {
      const member = sortedMembers[p % sortedMembers.length] as string;
      const mine = assignment.get(member) as Record<string, number[]>;
      for (const [topic, ids] of partitionsOf) {
        if (ids.includes(p)) (mine[topic] ??= []).push(p);
      }
    }
    return sortedMembers.map((memberId) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 1,
        assignment: assignment.get(memberId) ?? {},
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: 'FlowhookCoPartitioned',
      metadata: AssignerProtocol.MemberMetadata.encode({
        version: 1,
        topics,
        userData: Buffer.alloc(0),
      }),
    };
  },
});
