import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { DeliveryRecord } from '../../src/documents';
import { makeJob, produceJobs, readJson, testSettings } from '../support/flowhook-harness';
import { testKafka, uniqueName } from '../support/kafka';
import { startReceiver, type Receiver } from '../support/receiver';
import { waitFor } from '../support/wait';

// `flowhook run --roles delivery,delay` as a real process, SIGKILLed in the middle of its
// deliveries and started again: every job is delivered at least once, none is missing.

const CLI = path.join(__dirname, '..', 'support', 'child-cli.js');

interface Child {
  process: ChildProcess;
  stderr: string[];
  exited: Promise<number | null>;
}

function startChild(env: Record<string, string>): Child {
  const child = spawn(process.execPath, [CLI, 'run', '--roles', 'delivery,delay'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { process: child, stderr, exited };
}

const children: Child[] = [];
let receiver: Receiver | undefined;
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.process.exitCode === null && c.process.signalCode === null) {
      c.process.kill('SIGKILL');
      await c.exited;
    }
  }
  await receiver?.close();
});

it('SIGKILL of the worker mid-delivery: after a restart every job is delivered, none missing', async () => {
  const N = 200;
  receiver = await startReceiver([{ status: 200, delayMs: 150 }]);
  const prefix = `${uniqueName('crash')}.`;
  const env = {
    ...testSettings(prefix, {
      FLOWHOOK_INSTANCE_ID: uniqueName('worker'),
      FLOWHOOK_RETRY_SCHEDULE: Array(10).fill('300ms').join(','),
      // The killed member holds its partitions until its session expires.
      KAFKA_SESSION_TIMEOUT: '8s',
      LOG_LEVEL: 'warn',
    }),
  };
  const first = startChild(env);
  children.push(first);
  await waitFor(() => first.stderr.join('').includes('running roles'), {
    what: `the first worker to start (stderr: ${first.stderr.join('')})`,
    timeoutMs: 60_000,
  });

  const kafka = testKafka();
  const jobs = Array.from({ length: N }, (_, i) =>
    makeJob(receiver!.url(), { profile_id: `p${i}` }),
  );
  await produceJobs(kafka, `${prefix}jobs`, jobs);

  await receiver.waitForRequests(40, { timeoutMs: 60_000 });
  first.process.kill('SIGKILL');
  expect(await first.exited).toBeNull();
  const beforeRestart = new Set(receiver.requests.map((r) => r.headers['webhook-id']));
  expect(beforeRestart.size).toBeLessThan(N);

  const second = startChild(env);
  children.push(second);
  // The killed member's session (8 s) must expire before the group hands its partitions over.
  const wanted = new Set(jobs.map((j) => j.id));
  await waitFor(
    () => {
      const seen = new Set(receiver!.requests.map((r) => r.headers['webhook-id']));
      return [...wanted].every((id) => seen.has(id));
    },
    { what: 'every job received at least once', timeoutMs: 100_000, intervalMs: 200 },
  );
  const delivered = await readJson<DeliveryRecord>(
    kafka,
    `${prefix}deliveries`,
    (all) =>
      new Set(all.filter((r) => r.value.outcome === 'delivered').map((r) => r.value.job_id)).size >=
      N,
    60_000,
  );
  const deliveredIds = new Set(
    delivered.filter((r) => r.value.outcome === 'delivered').map((r) => r.value.job_id),
  );
  expect([...wanted].filter((id) => !deliveredIds.has(id))).toEqual([]);
  // At-least-once: requests cut off by the kill may be repeated, never lost.
  expect(receiver.requests.length).toBeGreaterThanOrEqual(N);

  second.process.kill('SIGTERM');
  expect(await second.exited).toBe(0);
}, 180_000);
