import type { Consumer } from 'kafkajs';
import { ConsumerRun } from '../../../src/kafka/consumer-run';

/** A consumer whose run() joins when the test says so. */
function joiningConsumer() {
  let join: (err?: Error) => void = () => undefined;
  const consumer = {
    run: () =>
      new Promise<void>((resolve, reject) => (join = (err) => (err ? reject(err) : resolve()))),
  } as unknown as Consumer;
  return { consumer, join: (err?: Error) => join(err) };
}

describe('ConsumerRun', () => {
  it('joined() settles only once the run has joined', async () => {
    const { consumer, join } = joiningConsumer();
    const runs = new ConsumerRun();
    const run = runs.run(consumer, {});
    let joined = false;
    const waiting = runs.joined().then(() => (joined = true));
    await Promise.resolve();
    expect(joined).toBe(false);
    join();
    await run;
    await waiting;
    expect(joined).toBe(true);
  });

  it('joined() settles, without throwing, when the run failed; and at once with no run', async () => {
    const { consumer, join } = joiningConsumer();
    const runs = new ConsumerRun();
    await expect(runs.joined()).resolves.toBeUndefined();
    const run = runs.run(consumer, {});
    join(new Error('coordinator not available'));
    await expect(run).rejects.toThrow('coordinator not available');
    await expect(runs.joined()).resolves.toBeUndefined();
  });
});
