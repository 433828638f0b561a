import { kafkajsFile } from './kafkajs-file';

// Kafka's default partitioner hashes a record's key with murmur2 (the Java client's
// Utils.murmur2), so that every client puts a key on the same partition. kafkajs 2.2.4 computes
// it with its BigInt-backed Long, allocating a few objects per step: 5 % of the trigger's CPU in
// bench:trigger's profile, which keys every job and activity record by profile. Only the low 32
// bits of those 64-bit products ever reach the result, so 32-bit multiplication (Math.imul)
// gives the same hash. src/kafka/kafkajs.ts puts this in kafkajs's place.

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** The bytes of a key as kafkajs takes them: a Buffer as is, anything else as UTF-8 text. */
function keyBytes(key: unknown): Uint8Array {
  if (Buffer.isBuffer(key)) return key;
  const text = String(key);
  // Most keys are ASCII ids: their bytes are their char codes, with no Buffer to allocate.
  for (let i = 0; i < text.length; i += 1) {
    if (text.charCodeAt(i) > 0x7f) return Buffer.from(text, 'utf8');
  }
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i += 1) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** murmur2 of a record key, as a signed 32-bit number (Kafka's Utils.murmur2). */
export function murmur2(key: unknown): number {
  const data = keyBytes(key);
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= data[whole + 2]! << 16;
    if (tail >= 2) h ^= data[whole + 1]! << 8;
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Where kafkajs keeps the murmur2 of its default partitioner, which this replaces. */
export function kafkajsMurmur2Path(): string {
  return kafkajsFile('producer', 'partitioners', 'default', 'murmur2.js');
}
