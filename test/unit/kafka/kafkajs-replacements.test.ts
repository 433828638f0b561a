import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

// src/kafka/kafkajs.ts puts three replacements into Node's require cache before kafkajs loads
// (jest keeps a registry of its own, so this looks from a plain node process, at the built
// modules: npm test builds first).
it('are what kafkajs loads in a Node process that loads it through src/kafka/kafkajs', () => {
  const dist = resolve(__dirname, '../../../dist/src/kafka');
  const probe = `
    require(${JSON.stringify(`${dist}/kafkajs.js`)});
    const grouping = require(${JSON.stringify(`${dist}/partition-grouping.js`)});
    const produce = require(${JSON.stringify(`${dist}/produce-encoding.js`)});
    const hash = require(${JSON.stringify(`${dist}/murmur2.js`)});
    process.stdout.write(JSON.stringify([
      require(grouping.kafkajsGroupingPath()) === grouping.groupMessagesPerPartition,
      require(produce.kafkajsProduceV3Path()) === produce.produceRequestV3,
      require(hash.kafkajsMurmur2Path()) === hash.murmur2,
    ]));
  `;
  expect(JSON.parse(execFileSync(process.execPath, ['-e', probe]).toString())).toEqual([
    true,
    true,
    true,
  ]);
});
