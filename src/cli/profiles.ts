import { profileKey } from '../profile-key';
import { profileUpdateFromValue } from '../profiles/update';
import { UsageError } from './flows';
import { publishFiles } from './events';
import type { Command } from './io';

/** `flowhook profiles send FILE… [--topic T]` (default: the first of FLOWHOOK_PROFILE_TOPICS). */
export const profilesCommand: Command = async (argv, io) => {
  const [sub, ...rest] = argv;
  if (sub !== 'send') throw new UsageError('profiles send FILE… [--topic TOPIC]');
  return publishFiles(rest, io, {
    what: 'profile update',
    usage: 'profiles send',
    defaultTopic: (config) => config.profiles.topics[0],
    key: (value) =>
      profileKey(
        profileUpdateFromValue(value, { topic: '', partition: 0, offset: '0', timestampMs: 0 })
          .profile,
      ),
  });
};
