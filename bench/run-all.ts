import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// `npm run bench`: every benchmark in turn, each in a fresh process so none warms another's JIT
// or heap. Each prints its numbers and writes them to bench/results/<name>.json.
const BENCHES: [name: string, script: string, ...args: string[]][] = [
  ['templates', 'templates'],
  ['trigger', 'trigger'],
  ['profiles', 'trigger', '--profiles'],
  ['price-drop', 'price-drop'],
  ['birthdays', 'birthdays'],
  ['delivery', 'delivery'],
  ['e2e', 'e2e'],
  ['activity', 'activity'],
];

let failed = 0;
for (const [name, script, ...args] of BENCHES) {
  console.log(`\n=== bench:${name} ===`);
  const r = spawnSync(process.execPath, ['--expose-gc', join(__dirname, `${script}.js`), ...args], {
    stdio: 'inherit',
  });
  if (r.status !== 0) failed += 1;
}
process.exit(failed === 0 ? 0 : 1);
