import { dirname, join } from 'node:path';

/** A file of kafkajs's own sources (for the modules flowhook replaces or reads internals of). */
export function kafkajsFile(...path: string[]): string {
  return join(dirname(require.resolve('kafkajs')), 'src', ...path);
}
