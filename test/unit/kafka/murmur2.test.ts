import { randomBytes } from 'node:crypto';
import { kafkajsMurmur2Path, murmur2 } from '../../../src/kafka/murmur2';

// jest loads kafkajs's own module from its file (jest keeps its own module registry).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const kafkajsMurmur2 = require(kafkajsMurmur2Path()) as typeof murmur2;

describe('murmur2', () => {
  it("gives the Java client's values (Kafka's UtilsTest)", () => {
    const java: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of java) expect([key, murmur2(key)]).toEqual([key, hash]);
  });

  it('equals kafkajs for text, non-ASCII text and bytes of every length up to 40', () => {
    const keys: (string | Buffer)[] = ['', 'profile-1', 'ünïcode ✓ 😀', 'Ω'.repeat(7)];
    for (let n = 0; n <= 40; n += 1) {
      keys.push(randomBytes(n), randomBytes(n).toString('base64').slice(0, n));
    }
    for (const key of keys) expect([key, murmur2(key)]).toEqual([key, kafkajsMurmur2(key)]);
  });
});
