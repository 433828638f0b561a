// CRC-32C (Castagnoli), the checksum of a Kafka record batch. Node has no native CRC-32C, and
// kafkajs's goes one byte per table lookup; this one reads 8 bytes per step from 8 tables
// ("slicing-by-8"), which in V8 is several times faster on batches of ~1 MiB.

const POLYNOMIAL = 0x82f63b78; // 0x1EDC6F41, bit-reversed

/** 8 tables of 256: table k gives the CRC of a byte followed by k zero bytes. */
const TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let bit = 0; bit < 8; bit += 1) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n += 1) {
    for (let k = 1; k < 8; k += 1) {
      const previous = t[(k - 1) * 256 + n]!;
      t[k * 256 + n] = (previous >>> 8) ^ t[previous & 0xff]!;
    }
  }
  return t;
})();

/** CRC-32C of bytes[start, end), as an unsigned 32-bit number. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const t = TABLES;
  let crc = -1;
  let i = start;
  for (const last = end - 8; i <= last; i += 8) {
    crc ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    crc =
      t[1792 + (crc & 0xff)]! ^
      t[1536 + ((crc >>> 8) & 0xff)]! ^
      t[1280 + ((crc >>> 16) & 0xff)]! ^
      t[1024 + (crc >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < end; i += 1) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}
