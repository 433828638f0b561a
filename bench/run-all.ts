import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// `npm run bench`: every benchmark in turn, each in a fresh process so none warms another's JIT
// or heap. Each prints its numbers and writes them to bench/results/<name>.json.
const BENCHES = ['templates', 'trigger', 'delivery', 'e2e', 'activity'];

let failed = 0;
for (const name of BENCHES) {
  console.log(`\n=== bench:${name} ===`);
  const r = spawnSync(process.execPath, ['--expose-gc', join(__dirname, `${name}.js`)], {
    stdio: 'inherit',
  });
  if (r.status !== 0) failed += 1;
}
process.exit(failed === 0 ? 0 : 1);
