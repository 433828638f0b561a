import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from 'kafkajs';
import { Kafka, logLevel } from '../src/kafka/kafkajs';
import { startKafka } from '../src/kafka/local-broker';
import {
  counter,
  createBenchTopics,
  MemoryPeaks,
  mib,
  oneWebhookFlow,
  startBenchTrigger,
  until,
  writeBenchResult,
} from './support';
import { FlowhookService } from '../src/service/service';

// npm run bench:birthdays — BENCH_BIRTHDAYS profiles (default 1,000,000), each with a birthday
// (spread evenly over the days of the year), and one annual birthday flow, through the trigger
// role on the local broker (3 partitions):
//   1. load: one profile update per profile; each schedules the profile's birthday timer (a row
//      in the task's timer store on disk). Updates/s, and the JS heap after a GC once the load is
//      done (timers must not live in the heap).
//   2. a day: the flow's trigger time is BENCH_FIRE_DELAY seconds (default 240) after the start,
//      in UTC, so today's birthdays (1/365 of the profiles) all come due at that moment — the
//      worst case of a day: its whole load at once, not spread by time zone. Measured from the
//      due moment to the last entry (and job) of the day, and the day's peak heap and RSS.

const PROFILES = Number(process.env.BENCH_BIRTHDAYS ?? 1_000_000);
const FIRE_DELAY_S = Number(process.env.BENCH_FIRE_DELAY ?? 240);
const PARTITIONS = 3;
const DAY = 86_400_000;

function birthdayFlow(triggerTime: string): Record<string, unknown> {
  return oneWebhookFlow(
    'birthday',
    {
      type: 'date',
      date_field_type: 'profile-property',
      date_profile_property: 'birthday',
      timedelta_unit_before_date: 'days',
      timedelta_value_before_date: 0,
      recurrence_frequency: 'annually',
      timezone: 'UTC',
      trigger_time: triggerTime,
    },
    {
      url: 'https://loyalty.example.com/points',
      body: '{"customer": "{{ email }}", "points": 500}',
    },
  );
}

/** Profile k's birthday: day k mod 365 of a non-leap year (1990). */
function birthdayOf(k: number): string {
  return new Date(Date.UTC(1990, 0, 1) + (k % 365) * DAY).toISOString().slice(0, 10);
}

function duMb(path: string): number {
  try {
    return Math.round(
      Number(execFileSync('du', ['-sk', path], { encoding: 'utf8' }).split('\t')[0]) / 1024,
    );
  } catch {
    return -1;
  }
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  const fireAt = new Date(Math.ceil((startedAt + FIRE_DELAY_S * 1000) / 1000) * 1000);
  const today = fireAt.toISOString().slice(5, 10);
  const triggerTime = fireAt.toISOString().slice(11, 19);
  let expected = 0;
  for (let k = 0; k < PROFILES; k++) if (birthdayOf(k).slice(5) === today) expected += 1;

  const cluster = await startKafka({ log: (l) => console.error(l) });
  const kafka = new Kafka({
    brokers: cluster.brokers,
    logLevel: logLevel.NOTHING,
    clientId: 'bench',
  });
  const prefix = `bench-${randomUUID().slice(0, 8)}.`;
  const stateDir = join(tmpdir(), `flowhook-bench-birthdays-${randomUUID().slice(0, 8)}`);
  let service: FlowhookService | undefined;
  try {
    await createBenchTopics(kafka, prefix, ['events', 'profiles'], PARTITIONS);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: `${prefix}flows`,
      messages: [{ key: 'birthday', value: JSON.stringify(birthdayFlow(triggerTime)) }],
    });
    const started = await startBenchTrigger({
      brokers: cluster.brokers,
      prefix,
      partitions: PARTITIONS,
      instanceId: 'bench-birthdays',
      stateDir,
    });
    service = started.service;
    const { metrics } = started;
    await until(() => service?.isReady() ?? false, 5);
    const memory = new MemoryPeaks().start();

    // Produced while the trigger consumes them: the load rate is the trigger's.
    const loadStart = Date.now();
    const time = new Date(loadStart).toISOString();
    for (let i = 0; i < PROFILES; i += 2000) {
      const batch: Message[] = [];
      for (let k = i; k < Math.min(PROFILES, i + 2000); k++) {
        const id = `member-${k}`;
        batch.push({
          key: id,
          value: JSON.stringify({
            time,
            profile: { id, email: `${id}@example.com`, properties: { birthday: birthdayOf(k) } },
          }),
        });
      }
      await producer.send({ topic: `${prefix}profiles`, messages: batch, acks: -1 });
    }
    await producer.disconnect();
    await until(async () => (await counter(metrics.profileUpdates)) >= PROFILES, 100);
    const loadSeconds = (Date.now() - loadStart) / 1000;
    const load = memory.stop();
    if (Date.now() > fireAt.getTime() - 2000)
      throw new Error(
        `the load took ${loadSeconds} s: raise BENCH_FIRE_DELAY above ${FIRE_DELAY_S}`,
      );
    global.gc?.();
    const heapAfterLoadMb = mib(process.memoryUsage().heapUsed);
    const stateMb = duMb(stateDir);

    memory.start();
    await until(async () => (await counter(metrics.jobsEmitted)) >= expected, 20);
    const lastJobMs = Date.now() - fireAt.getTime();
    const day = memory.stop();
    const entries = await counter(metrics.flowEntries);

    const result = {
      date: new Date().toISOString(),
      node: process.version,
      partitions: PARTITIONS,
      profiles: PROFILES,
      loadSeconds,
      updatesPerSecond: PROFILES / loadSeconds,
      loadPeakHeapMb: load.peakHeapMb,
      loadPeakRssMb: load.peakRssMb,
      heapAfterLoadMb,
      stateDirMb: stateMb,
      dayEntries: expected,
      entries,
      lastEntrySecondsAfterDue: lastJobMs / 1000,
      dayEntriesPerSecond: expected / Math.max(0.001, lastJobMs / 1000),
      dayPeakHeapMb: day.peakHeapMb,
      dayPeakRssMb: day.peakRssMb,
    };
    console.log(
      `${PROFILES} birthdays: load ${Math.round(result.updatesPerSecond)} updates/s (${loadSeconds.toFixed(1)} s), ` +
        `heap after load ${heapAfterLoadMb} MiB (peak ${load.peakHeapMb}), RSS peak ${load.peakRssMb} MiB, state on disk ${stateMb} MiB; ` +
        `a day's ${expected} birthdays due at once: last job ${result.lastEntrySecondsAfterDue.toFixed(2)} s after due ` +
        `(${Math.round(result.dayEntriesPerSecond)}/s), peak heap ${result.dayPeakHeapMb} MiB, peak RSS ${result.dayPeakRssMb} MiB`,
    );
    writeBenchResult('birthdays.json', result);
  } finally {
    await service?.stop();
    await cluster.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
