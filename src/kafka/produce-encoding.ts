import type { IHeaders, Message } from 'kafkajs';
import { crc32c } from './crc32c';
import { kafkajsFile } from './kafkajs-file';

// kafkajs 2.2.4 builds a produce request in layers: every record gets its own zero-filled
// 512-byte Encoder, every varint an array and a Buffer, every varlong a chain of BigInt Longs,
// and each layer copies the one below it (records → batch body → batch → record set →
// partition → topic → request) before a CRC-32C that reads one byte per step. A trigger task
// sends ~900 KiB requests of thousands of records, and that encoding was a quarter of its CPU
// in bench:trigger's profile. This writes the same bytes (the body of Produce v3, which v4–v7
// reuse) into one buffer sized beforehand. Where kafkajs is not consistent, it follows the
// protocol: batch timestamps are compared as numbers (kafkajs sorts them as strings), a
// record without a timestamp counts in the batch's first/max timestamps (kafkajs leaves it
// out), and a null header value is written as null (kafkajs throws).

type Int64 = bigint | number | string | { value: bigint };

export interface ProducePartitionData {
  partition: number;
  firstSequence?: number;
  messages: Message[];
}

export interface ProduceTopicData {
  topic: string;
  partitions: ProducePartitionData[];
}

/** What kafkajs passes to its Produce v3 request. */
export interface ProduceRequestArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: Int64;
  producerEpoch?: number;
  compression?: number;
  topicData: ProduceTopicData[];
}

/** The part of kafkajs's Encoder that kafkajs reads from a request's encode(). */
interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
}

/** kafkajs's compression codec: compresses the concatenated records. */
interface Codec {
  compress(encoder: KafkajsEncoder): Promise<Buffer>;
}

const PRODUCE_API_KEY = 0;
const COMPRESSION_NONE = 0;
const COMPRESSION_CODEC_MASK = 0x07;
const TRANSACTIONAL_ATTRIBUTE = 0x10;
const MAGIC = 2;
/** attributes … record count: the fixed part of a batch body, which the CRC covers. */
const BATCH_BODY_HEADER = 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;
/** firstOffset, batch length, partition leader epoch, magic, CRC. */
const BATCH_HEADER = 8 + 4 + 4 + 1 + 4;

type Bytes = Buffer | string | null | undefined;

function byteLength(value: Bytes): number {
  if (value == null) return -1;
  return Buffer.isBuffer(value) ? value.length : Buffer.byteLength(String(value), 'utf8');
}

function zigZag32(value: number): number {
  return ((value << 1) ^ (value >> 31)) >>> 0;
}

function sizeOfUnsignedVarInt(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

function sizeOfVarInt(value: number): number {
  return sizeOfUnsignedVarInt(zigZag32(value));
}

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const UINT64 = (1n << 64n) - 1n;

function zigZag64(value: number): bigint {
  const v = BigInt(value);
  return ((v << 1n) ^ (v >> 63n)) & UINT64;
}

function sizeOfVarLong(value: number): number {
  if (value >= INT32_MIN && value <= INT32_MAX) return sizeOfVarInt(value);
  let z = zigZag64(value);
  let size = 1;
  while (z >= 0x80n) {
    z >>= 7n;
    size += 1;
  }
  return size;
}

function sizeOfVarIntBytes(length: number): number {
  return length < 0 ? 1 : sizeOfVarInt(length) + length;
}

function toBigInt(value: Int64): bigint {
  return typeof value === 'object' ? value.value : BigInt(value);
}

function headerList(headers: IHeaders | undefined): [string, Bytes][] {
  const list: [string, Bytes][] = [];
  if (!headers) return list;
  for (const key of Object.keys(headers)) {
    const value = headers[key];
    if (Array.isArray(value)) for (const v of value) list.push([key, v]);
    else list.push([key, value]);
  }
  return list;
}

/** A buffer and a write position: the few writes a record batch needs. */
class Writer {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  int8(value: number): void {
    this.buf[this.offset] = value;
    this.offset += 1;
  }

  int16(value: number): void {
    this.buf.writeInt16BE(value, this.offset);
    this.offset += 2;
  }

  int32(value: number): void {
    this.buf.writeInt32BE(value, this.offset);
    this.offset += 4;
  }

  uint32(value: number): void {
    this.buf.writeUInt32BE(value, this.offset);
    this.offset += 4;
  }

  int64(value: bigint): void {
    this.buf.writeBigInt64BE(value, this.offset);
    this.offset += 8;
  }

  unsignedVarInt(value: number): void {
    let v = value;
    while (v >= 0x80) {
      this.buf[this.offset++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.offset++] = v;
  }

  varInt(value: number): void {
    this.unsignedVarInt(zigZag32(value));
  }

  varLong(value: number): void {
    if (value >= INT32_MIN && value <= INT32_MAX) return this.varInt(value);
    let z = zigZag64(value);
    while (z >= 0x80n) {
      this.buf[this.offset++] = Number(z & 0x7fn) | 0x80;
      z >>= 7n;
    }
    this.buf[this.offset++] = Number(z);
  }

  /** Bytes of a known length (-1: null), after their length as a varint. */
  varIntBytes(value: Bytes, length: number): void {
    this.varInt(length);
    if (length < 0) return;
    if (Buffer.isBuffer(value)) value.copy(this.buf, this.offset);
    else this.buf.write(String(value), this.offset, length, 'utf8');
    this.offset += length;
  }

  /** A nullable string after its length as an int16. */
  string(value: string | null | undefined): void {
    if (value == null) return this.int16(-1);
    const length = Buffer.byteLength(value, 'utf8');
    this.int16(length);
    this.buf.write(value, this.offset, length, 'utf8');
    this.offset += length;
  }

  bytes(value: Buffer): void {
    value.copy(this.buf, this.offset);
    this.offset += value.length;
  }
}

/** One partition's record batch: its records measured, then written where the request wants. */
class RecordBatchPlan {
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
  private readonly deltas: number[] = [];
  private readonly keyLengths: number[] = [];
  private readonly valueLengths: number[] = [];
  private readonly bodySizes: number[] = [];
  private readonly headers: [string, Bytes][][] = [];
  /** The records as written (uncompressed), their total size. */
  readonly recordsSize: number;
  /** Set for a compressed batch: what goes after the record count instead of the records. */
  compressed: Buffer | undefined;

  constructor(
    readonly data: ProducePartitionData,
    now: number,
  ) {
    const { messages } = data;
    let first = Infinity;
    let max = -Infinity;
    const stamps = messages.map((m) => (m.timestamp == null ? now : Number(m.timestamp)));
    for (const stamp of stamps) {
      if (stamp < first) first = stamp;
      if (stamp > max) max = stamp;
    }
    if (messages.length === 0) first = max = now;
    this.firstTimestamp = first;
    this.maxTimestamp = max;
    let total = 0;
    for (let i = 0; i < messages.length; i += 1) {
      const message = messages[i]!;
      const delta = stamps[i]! - first;
      const keyLength = byteLength(message.key);
      const valueLength = byteLength(message.value);
      const headers = headerList(message.headers);
      let headersSize = sizeOfVarInt(headers.length);
      for (const [key, value] of headers) {
        headersSize += sizeOfVarIntBytes(Buffer.byteLength(key, 'utf8'));
        headersSize += sizeOfVarIntBytes(byteLength(value));
      }
      const bodySize =
        1 +
        sizeOfVarLong(delta) +
        sizeOfVarInt(i) +
        sizeOfVarIntBytes(keyLength) +
        sizeOfVarIntBytes(valueLength) +
        headersSize;
      this.deltas.push(delta);
      this.keyLengths.push(keyLength);
      this.valueLengths.push(valueLength);
      this.bodySizes.push(bodySize);
      this.headers.push(headers);
      total += sizeOfVarInt(bodySize) + bodySize;
    }
    this.recordsSize = total;
  }

  /** Size of the batch body: the fixed header, then the records (or their compressed bytes). */
  get bodySize(): number {
    return BATCH_BODY_HEADER + (this.compressed ? this.compressed.length : this.recordsSize);
  }

  writeRecords(out: Writer): void {
    const messages = this.data.messages;
    for (let i = 0; i < messages.length; i += 1) {
      const message = messages[i]!;
      out.varInt(this.bodySizes[i]!);
      out.int8(0); // record attributes: none are defined
      out.varLong(this.deltas[i]!);
      out.varInt(i);
      out.varIntBytes(message.key, this.keyLengths[i]!);
      out.varIntBytes(message.value, this.valueLengths[i]!);
      const headers = this.headers[i]!;
      out.varInt(headers.length);
      for (const [key, value] of headers) {
        out.varIntBytes(key, Buffer.byteLength(key, 'utf8'));
        out.varIntBytes(value, byteLength(value));
      }
    }
  }

  /** The record set: firstOffset, length, leader epoch, magic, CRC and the CRC'd body. */
  write(out: Writer, args: ProduceRequestArgs): void {
    const compression = args.compression ?? COMPRESSION_NONE;
    out.int64(0n); // first offset: the broker assigns offsets
    out.int32(4 + 1 + 4 + this.bodySize);
    out.int32(0); // partition leader epoch
    out.int8(MAGIC);
    const crcAt = out.offset;
    out.offset += 4;
    const bodyAt = out.offset;
    out.int16(
      (compression & COMPRESSION_CODEC_MASK) | (args.transactionalId ? TRANSACTIONAL_ATTRIBUTE : 0),
    );
    out.int32(this.data.messages.length - 1);
    out.int64(BigInt(this.firstTimestamp));
    out.int64(BigInt(this.maxTimestamp));
    out.int64(toBigInt(args.producerId ?? -1));
    out.int16(args.producerEpoch ?? 0);
    out.int32(this.data.firstSequence ?? 0);
    out.int32(this.data.messages.length);
    if (this.compressed) out.bytes(this.compressed);
    else this.writeRecords(out);
    out.buf.writeUInt32BE(crc32c(out.buf, bodyAt, out.offset), crcAt);
  }
}

/** Wraps bytes as a kafkajs Encoder, which is what kafkajs expects from encode(). */
type EncoderFactory = (bytes: Buffer) => KafkajsEncoder;

/**
 * The body of a Produce v3 request (transactional id … topic data), as kafkajs's encoder
 * writes it. `codec` compresses the records when `args.compression` asks for it.
 */
export async function encodeProduceRequest(
  args: ProduceRequestArgs,
  now = Date.now(),
  codec?: (compression: number) => Codec | null,
  wrap: EncoderFactory = (buf) => ({ buf, offset: buf.length }),
): Promise<Buffer> {
  const compression = args.compression ?? COMPRESSION_NONE;
  const plans = args.topicData.map((t) => t.partitions.map((p) => new RecordBatchPlan(p, now)));
  if (compression !== COMPRESSION_NONE) {
    const found = codec?.(compression);
    if (!found) throw new Error(`no codec for compression type ${compression}`);
    for (const plan of plans.flat()) {
      const records = new Writer(Buffer.allocUnsafe(plan.recordsSize));
      plan.writeRecords(records);
      plan.compressed = await found.compress(wrap(records.buf));
    }
  }
  const transactionalIdSize =
    args.transactionalId == null ? 0 : Buffer.byteLength(args.transactionalId, 'utf8');
  let size = 2 + transactionalIdSize + 2 + 4 + 4;
  args.topicData.forEach((topic, t) => {
    size += 2 + Buffer.byteLength(topic.topic, 'utf8') + 4;
    for (const plan of plans[t]!) size += 4 + 4 + BATCH_HEADER + plan.bodySize;
  });
  const out = new Writer(Buffer.allocUnsafe(size));
  out.string(args.transactionalId);
  out.int16(args.acks);
  out.int32(args.timeout);
  out.int32(args.topicData.length);
  args.topicData.forEach((topic, t) => {
    out.string(topic.topic);
    out.int32(topic.partitions.length);
    for (const plan of plans[t]!) {
      out.int32(plan.data.partition);
      out.int32(BATCH_HEADER + plan.bodySize);
      plan.write(out, args);
    }
  });
  if (out.offset !== size) throw new Error(`produce request: wrote ${out.offset} of ${size} bytes`);
  return out.buf;
}

/** A file of kafkajs's protocol sources, which this module plugs into. */
function protocolFile(...path: string[]): string {
  return kafkajsFile('protocol', ...path);
}

/** Where kafkajs keeps the Produce v3 request module this replaces. */
export function kafkajsProduceV3Path(): string {
  return protocolFile('requests', 'produce', 'v3', 'request.js');
}

/** kafkajs's Produce v3 request factory, with this module's encoding. */
export function produceRequestV3(args: ProduceRequestArgs) {
  /* eslint-disable @typescript-eslint/no-require-imports -- kafkajs's untyped internals */
  const Encoder = require(protocolFile('encoder.js')) as new (size?: number) => KafkajsEncoder;
  const { lookupCodec } = require(protocolFile('message', 'compression', 'index.js')) as {
    lookupCodec: (type: number) => Codec | null;
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
  const wrap: EncoderFactory = (buf) => {
    const encoder = new Encoder(1);
    encoder.buf = buf;
    encoder.offset = buf.length;
    return encoder;
  };
  return {
    apiKey: PRODUCE_API_KEY,
    apiVersion: 3,
    apiName: 'Produce',
    expectResponse: () => args.acks !== 0,
    encode: async () => wrap(await encodeProduceRequest(args, Date.now(), lookupCodec, wrap)),
  };
}
