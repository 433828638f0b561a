import { catalogItemFromValue } from '../catalog/item';
import { UsageError } from './flows';
import { publishFiles } from './events';
import type { Command } from './io';

/** `flowhook catalog send FILE… [--topic T]` (default: the first of FLOWHOOK_CATALOG_TOPICS). */
export const catalogCommand: Command = async (argv, io) => {
  const [sub, ...rest] = argv;
  if (sub !== 'send') throw new UsageError('catalog send FILE… [--topic TOPIC]');
  return publishFiles(rest, io, {
    what: 'catalog item',
    usage: 'catalog send',
    defaultTopic: (config) => config.catalog.topics[0],
    key: (value) => catalogItemFromValue(value).id,
  });
};
