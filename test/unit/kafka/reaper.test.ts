import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { alive } from '../../../src/kafka/local-broker';
import { waitFor } from '../../support/wait';

// The reaper guards a local broker against its owner being SIGKILLed. Here the owner is a real
// node process (running the built launcher module: npm test builds first), the guarded process
// a `sleep`, and the owner is SIGKILLed for real.

const LAUNCHER = resolve(__dirname, '../../../dist/src/kafka/local-broker.js');

const OWNER = `
const { spawn } = require('node:child_process');
const { startReaper, stopReaper } = require(process.argv[1]);
const guarded = spawn('sleep', ['300'], { stdio: 'ignore', detached: true });
guarded.unref();
const reaper = startReaper(process.pid, guarded.pid, process.argv[2]);
if (process.argv[3] === 'stop-reaper') stopReaper(reaper);
process.stdout.write(JSON.stringify({ guarded: guarded.pid, reaper }) + '\\n');
setInterval(() => undefined, 1000);
`;

const started: { owner: ChildProcess; guarded?: number }[] = [];
afterEach(() => {
  for (const { owner, guarded } of started.splice(0)) {
    owner.kill('SIGKILL');
    if (guarded !== undefined && alive(guarded)) process.kill(guarded, 'SIGKILL');
  }
});

async function startOwner(
  dir: string,
  mode = '',
): Promise<{ owner: ChildProcess; guarded: number; reaper: number }> {
  const owner = spawn(process.execPath, ['-e', OWNER, LAUNCHER, dir, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const entry: { owner: ChildProcess; guarded?: number } = { owner };
  started.push(entry);
  const line = await new Promise<string>((res, rej) => {
    owner.stdout?.once('data', (chunk: Buffer) => res(chunk.toString()));
    owner.once('exit', (code) => rej(new Error(`owner exited with ${code}`)));
  });
  const { guarded, reaper } = JSON.parse(line) as { guarded: number; reaper: number };
  entry.guarded = guarded;
  return { owner, guarded, reaper };
}

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'flowhook-reaper-'));
  writeFileSync(join(dir, 'kafka.pid'), 'x');
  return dir;
}

describe('local broker reaper', () => {
  test('stops the guarded process and removes its directory when the owner is SIGKILLed', async () => {
    const dir = dataDir();
    const { owner, guarded } = await startOwner(dir);
    expect(alive(guarded)).toBe(true);
    owner.kill('SIGKILL');
    await waitFor(() => !alive(guarded) && !existsSync(dir), {
      timeoutMs: 20_000,
      what: 'the reaper to stop the guarded process and remove its directory',
    });
  });

  test('a stopped reaper is gone, so the death of the owner leaves the process alone', async () => {
    const dir = dataDir();
    const { owner, guarded, reaper } = await startOwner(dir, 'stop-reaper');
    await waitFor(() => !alive(reaper), { what: 'the stopped reaper to exit' });
    const ownerGone = new Promise((res) => owner.once('exit', res));
    owner.kill('SIGKILL');
    await ownerGone;
    expect(alive(guarded)).toBe(true);
    expect(existsSync(dir)).toBe(true);
  });
});
