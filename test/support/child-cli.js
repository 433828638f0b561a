// Runs flowhook's CLI (src/cli.ts) in a child process without a build: TypeScript files are
// transpiled on require (file by file, as ts-jest does), so the child runs the sources under
// test. Used by tests that need a real process to SIGKILL.
// Usage: node test/support/child-cli.js run --roles delivery,delay
const fs = require('node:fs');
const ts = require('typescript');

const compilerOptions = {
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2022,
  esModuleInterop: true,
  resolveJsonModule: true,
  sourceMap: false,
  inlineSourceMap: true,
};

require.extensions['.ts'] = function compile(module, filename) {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions,
  });
  module._compile(outputText, filename);
};

require('../../src/cli.ts')
  .main(process.argv.slice(2))
  .then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`${err && err.stack ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
