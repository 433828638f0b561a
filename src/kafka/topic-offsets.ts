// A topic's low and high offsets per partition, asked for right after the topic was created.
//
// kafkajs's createTopics({ waitForLeaders }) returns once the metadata names a leader, but the
// leader may answer ListOffsets with NOT_LEADER_OR_FOLLOWER (or LEADER_NOT_AVAILABLE) for a
// moment longer, until it has loaded the partition; kafkajs's admin gives up on the first such
// answer. On a fresh start that failed the whole role, which then restarted after a backoff.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin } from 'kafkajs';

export type TopicOffsets = Awaited<ReturnType<Admin['fetchTopicOffsets']>>;

const LEADERSHIP_ERRORS = new Set(['NOT_LEADER_FOR_PARTITION', 'LEADER_NOT_AVAILABLE']);
/** About 3 s in all: a partition that long without a loaded leader is a real fault. */
const BACKOFF_MS = [20, 50, 100, 200, 400, 800, 1600];

export async function fetchTopicOffsets(admin: Admin, topic: string): Promise<TopicOffsets> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await admin.fetchTopicOffsets(topic);
    } catch (err) {
      const type = (err as { type?: unknown }).type;
      const wait = BACKOFF_MS[attempt];
      if (typeof type !== 'string' || !LEADERSHIP_ERRORS.has(type) || wait === undefined) throw err;
      await sleep(wait);
    }
  }
}
