import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Message } from 'kafkajs';
import { crc32c } from '../../../src/kafka/crc32c';
import {
  encodeProduceRequest,
  kafkajsProduceV3Path,
  produceRequestV3,
  type ProduceRequestArgs,
} from '../../../src/kafka/produce-encoding';

// jest loads kafkajs's own modules from their files (jest keeps its own module registry), so
// these are kafkajs's originals, not the replacements src/kafka/kafkajs.ts installs.
const protocol = join(dirname(kafkajsProduceV3Path()), '..', '..', '..');
/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs's untyped internals */
const kafkajsProduceV3 = require(kafkajsProduceV3Path()) as typeof produceRequestV3;
const kafkajsCrc32c = require(join(protocol, 'recordBatch', 'crc32C', 'index.js')) as (
  b: Buffer,
) => number;
const Decoder = require(join(protocol, 'decoder.js')) as new (b: Buffer) => unknown;
const decodeRecordBatch = require(join(protocol, 'recordBatch', 'v0', 'decoder.js')) as (
  d: unknown,
) => Promise<DecodedBatch>;
const Long = require(join(protocol, '..', 'utils', 'long.js')) as {
  fromValue(v: number | string): { value: bigint };
};
/* eslint-enable @typescript-eslint/no-require-imports */

interface DecodedBatch {
  firstTimestamp: string;
  maxTimestamp: string;
  inTransaction: boolean;
  producerId: string;
  firstSequence: number;
  records: { key: Buffer | null; value: Buffer | null; timestamp: string; headers: object }[];
}

async function kafkajsBytes(args: ProduceRequestArgs): Promise<Buffer> {
  const encoder = (await kafkajsProduceV3(args).encode()) as unknown as { buffer: Buffer };
  return encoder.buffer;
}

async function ourBytes(args: ProduceRequestArgs, now?: number): Promise<Buffer> {
  const encoder = (await produceRequestV3(args).encode()) as unknown as { buffer: Buffer };
  return now === undefined ? encoder.buffer : encodeProduceRequest(args, now);
}

/** Walks a Produce v3 body: each partition's record set, with its CRC checked by kafkajs's. */
async function recordSets(body: Buffer): Promise<DecodedBatch[]> {
  let at = 0;
  const int16 = () => ((at += 2), body.readInt16BE(at - 2));
  const int32 = () => ((at += 4), body.readInt32BE(at - 4));
  const skipString = () => {
    const length = int16();
    at += Math.max(0, length);
  };
  skipString();
  int16();
  int32();
  const batches: DecodedBatch[] = [];
  for (let topics = int32(); topics > 0; topics -= 1) {
    skipString();
    for (let partitions = int32(); partitions > 0; partitions -= 1) {
      int32();
      const size = int32();
      const set = body.subarray(at, at + size);
      at += size;
      expect(set.readUInt32BE(17)).toBe(kafkajsCrc32c(set.subarray(21)));
      batches.push(await decodeRecordBatch(new Decoder(set)));
    }
  }
  expect(at).toBe(body.length);
  return batches;
}

const T = 1_764_600_000_000;

function messages(n: number, extra: (i: number) => Partial<Message> = () => ({})): Message[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `profile-${i % 7}`,
    value: JSON.stringify({ i, text: 'ünïcode ✓'.repeat(i % 4) }),
    timestamp: String(T + i * 3),
    ...extra(i),
  }));
}

const cases: [string, ProduceRequestArgs][] = [
  [
    'transactional, several topics and partitions, headers',
    {
      acks: -1,
      timeout: 30_000,
      transactionalId: 'flowhook-trigger-0',
      producerId: Long.fromValue(4711),
      producerEpoch: 3,
      topicData: [
        {
          topic: 'flowhook.jobs',
          partitions: [
            {
              partition: 0,
              firstSequence: 120,
              messages: messages(50, (i) => ({
                headers: { kind: 'job', tags: ['a', Buffer.from([0, 1, 2])], n: String(i) },
              })),
            },
            { partition: 2, firstSequence: 0, messages: messages(3) },
          ],
        },
        { topic: 'flowhook.activity', partitions: [{ partition: 1, messages: messages(1) }] },
      ],
    },
  ],
  [
    'not transactional, null keys and values, Buffers, no producer id',
    {
      acks: 1,
      timeout: 5_000,
      topicData: [
        {
          topic: 't',
          partitions: [
            {
              partition: 7,
              messages: [
                { key: null, value: 'v', timestamp: String(T) },
                { key: Buffer.from('k'), value: null, timestamp: String(T) },
                { value: Buffer.alloc(0), timestamp: String(T + 1) },
              ],
            },
          ],
        },
      ],
    },
  ],
  [
    'varints of 1 to 5 bytes: values up to 300 KB, 20,000 records, old timestamps',
    {
      acks: -1,
      timeout: 30_000,
      transactionalId: 't',
      producerId: Long.fromValue('9007199254740993'),
      topicData: [
        {
          topic: 'big',
          partitions: [
            {
              partition: 0,
              messages: [100, 20_000, 300_000].map((n, i) => ({
                key: 'k',
                value: 'x'.repeat(n),
                // 2^31 ms (25 days) apart: a delta that needs a 64-bit varint.
                timestamp: String(T - 2 ** 31 * (3 - i)),
              })),
            },
            { partition: 1, messages: messages(20_000) },
          ],
        },
      ],
    },
  ],
];

describe('CRC-32C', () => {
  it('gives the standard check value and equals kafkajs over any length and start', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    const bytes = randomBytes(4_099);
    for (const [start, end] of [
      [0, 0],
      [0, 1],
      [3, 11],
      [5, 4_099],
      [0, 4_096],
    ] as const) {
      expect(crc32c(bytes, start, end)).toBe(kafkajsCrc32c(bytes.subarray(start, end)));
    }
  });
});

describe('produce request encoding', () => {
  it.each(cases)('writes the bytes kafkajs writes: %s', async (_name, args) => {
    expect((await ourBytes(args)).equals(await kafkajsBytes(args))).toBe(true);
  });

  it('compresses the records with kafkajs codec (GZIP), as kafkajs does', async () => {
    const args: ProduceRequestArgs = {
      acks: -1,
      timeout: 1_000,
      compression: 1,
      topicData: [{ topic: 'z', partitions: [{ partition: 0, messages: messages(200) }] }],
    };
    const ours = await ourBytes(args);
    expect(ours.equals(await kafkajsBytes(args))).toBe(true);
    expect(ours.length).toBeLessThan((await ourBytes({ ...args, compression: 0 })).length);
    const [batch] = await recordSets(ours);
    expect(batch!.records.map((r) => r.value!.toString())).toEqual(
      messages(200).map((m) => m.value),
    );
  });

  it('stamps records without a timestamp with the time of encoding, as kafkajs does', async () => {
    const stamped = messages(4, () => ({ timestamp: String(T + 500) }));
    const bare = stamped.map(({ timestamp: _, ...m }) => m);
    const args = (m: Message[]): ProduceRequestArgs => ({
      acks: -1,
      timeout: 1_000,
      topicData: [{ topic: 'n', partitions: [{ partition: 0, messages: m }] }],
    });
    expect((await ourBytes(args(bare), T + 500)).equals(await kafkajsBytes(args(stamped)))).toBe(
      true,
    );
  });

  it('compares timestamps as numbers and counts unstamped records in the batch times', async () => {
    const args: ProduceRequestArgs = {
      acks: -1,
      timeout: 1_000,
      topicData: [
        {
          topic: 'ts',
          partitions: [
            {
              partition: 0,
              messages: [
                { key: 'a', value: '1', timestamp: '999999999999' },
                { key: 'b', value: '2', timestamp: '1000000000000' },
                { key: 'c', value: '3' },
              ],
            },
          ],
        },
      ],
    };
    const [batch] = await recordSets(await ourBytes(args, T));
    expect([batch!.firstTimestamp, batch!.maxTimestamp]).toEqual(['999999999999', String(T)]);
    expect(batch!.records.map((r) => r.timestamp)).toEqual([
      '999999999999',
      '1000000000000',
      String(T),
    ]);
  });

  it('writes a null header value as null, where kafkajs throws', async () => {
    const args: ProduceRequestArgs = {
      acks: -1,
      timeout: 1_000,
      topicData: [
        {
          topic: 'h',
          partitions: [
            {
              partition: 0,
              messages: [{ key: 'a', value: '1', headers: { gone: undefined, kept: 'x' } }],
            },
          ],
        },
      ],
    };
    await expect(kafkajsBytes(args)).rejects.toThrow(/argument must be of type string/);
    const [batch] = await recordSets(await ourBytes(args, T));
    expect(batch!.records[0]!.headers).toEqual({ gone: null, kept: Buffer.from('x') });
  });

  it('decodes, with kafkajs, to the records it was given', async () => {
    const [, args] = cases[0]!;
    const batches = await recordSets(await ourBytes(args));
    expect(batches.map((b) => [b.inTransaction, b.producerId, b.firstSequence])).toEqual([
      [true, '4711', 120],
      [true, '4711', 0],
      [true, '4711', 0],
    ]);
    const given = args.topicData.flatMap((t) => t.partitions.flatMap((p) => p.messages));
    const decoded = batches.flatMap((b) => b.records);
    expect(decoded.map((r) => [r.key?.toString(), r.value?.toString(), r.timestamp])).toEqual(
      given.map((m) => [m.key, m.value, m.timestamp]),
    );
  });
});
