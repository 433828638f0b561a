import type { Consumer, ConsumerRunConfig } from 'kafkajs';

/**
 * A consumer's run(), remembered for its stop. kafkajs 2.2.4's run() joins the group before it
 * marks its runner running; a stop() or disconnect() in between returns at once (Runner.stop
 * sees running === false) and drops the runner, which then starts fetching on a consumer its
 * owner has stopped — for good, as later stops no longer reach it (jest saw it fetch after a
 * test file ended). Owners start the run here and await `joined()` before they stop the
 * consumer.
 */
export class ConsumerRun {
  private pending: Promise<unknown> = Promise.resolve();

  run(consumer: Consumer, config: ConsumerRunConfig): Promise<void> {
    const run = consumer.run(config);
    this.pending = run.catch(() => undefined);
    return run;
  }

  /** Settles once the last run() has joined its group (or failed to). */
  joined(): Promise<unknown> {
    return this.pending;
  }
}
