// The one module that loads kafkajs (an ESLint rule holds that): it first puts flowhook's
// replacements for three of kafkajs's modules into Node's require cache, where kafkajs finds
// them — the quadratic partition grouping (partition-grouping.ts), the layered produce request
// encoding (produce-encoding.ts) and the BigInt murmur2 of the default partitioner (murmur2.ts).
// Each gives kafkajs's results. Types come from 'kafkajs' directly; values come from here.
import Module from 'node:module';
import { dirname, join } from 'node:path';
import { kafkajsMurmur2Path, murmur2 } from './murmur2';
import { groupMessagesPerPartition, kafkajsGroupingPath } from './partition-grouping';
import { kafkajsProduceV3Path, produceRequestV3 } from './produce-encoding';

/**
 * Puts `exports` into the require cache as kafkajs's module at `path`, unless that cannot work:
 * a module that holds on to the original (`loadedBy`) is loaded already, or the loader is not
 * Node's own (jest keeps its own registry; kafkajs then runs unchanged, only slower).
 */
function preload(path: string, exports: unknown, loadedBy: string[]): void {
  const cache = require.cache;
  if (cache[path] || loadedBy.some((p) => cache[p])) return;
  const entry = new Module(path, module);
  entry.filename = path;
  entry.exports = exports;
  entry.loaded = true;
  cache[path] = entry;
}

const grouping = kafkajsGroupingPath();
preload(grouping, groupMessagesPerPartition, [join(dirname(grouping), 'sendMessages.js')]);
const hash = kafkajsMurmur2Path();
preload(hash, murmur2, [join(dirname(hash), 'index.js')]);
// Produce v4–v7 wrap v3 and keep the module they required; produce/index.js requires lazily.
const produceV3 = kafkajsProduceV3Path();
preload(
  produceV3,
  produceRequestV3,
  [4, 5, 6, 7].map((v) => join(dirname(produceV3), '..', `v${v}`, 'request.js')),
);

// eslint-disable-next-line @typescript-eslint/no-restricted-imports -- this is the one place
export { AssignerProtocol, ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
