// kafkajs requires each protocol request's encoder lazily, on its first use. A kafkajs client
// that is still finishing a heartbeat or a fetch while jest tears a test file down would then
// load a module after teardown, which jest reports by failing the whole run (exit code 1) with
// every test green. Loading them up front keeps those late calls on cached modules; the roles'
// own stop() paths are what must (and do, see src/kafka) end their clients.
const { readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(require.resolve('kafkajs'), '..', 'src', 'protocol', 'requests');
for (const request of readdirSync(root)) {
  const dir = join(root, request);
  if (!statSync(dir).isDirectory()) continue;
  for (const version of readdirSync(dir)) {
    for (const file of ['request.js', 'response.js']) {
      try {
        require(join(dir, version, file));
      } catch {
        // not a version folder
      }
    }
  }
}
