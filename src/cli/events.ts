import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Message } from 'kafkajs';
import { decodeEventValue } from '../events/decode';
import { profileKey } from '../profile-key';
import { eventsDlqCommand } from './events-dlq';
import { UsageError } from './flows';
import { cliKafka, type Command } from './io';

/** An event FILE: one JSON value, a JSON array of events, or JSON lines. */
export function readEventFile(path: string): unknown[] {
  const text = readFileSync(path, 'utf8').trim();
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    return text
      .split(/\r?\n/)
      .filter((line) => line.trim() !== '')
      .map((line, i) => {
        try {
          return JSON.parse(line) as unknown;
        } catch (err) {
          throw new Error(`${path}:${i + 1}: not JSON: ${(err as Error).message}`);
        }
      });
  }
}

/** What `publishFiles` publishes: where by default, and each value's key (throws if invalid). */
export interface PublishSpec {
  what: string;
  usage: string;
  defaultTopic(config: ReturnType<typeof cliKafka>['config']): string | undefined;
  key(value: unknown): string | null;
}

/**
 * Publishes the values of FILE… (`--topic T` or the spec's default), keyed by profile key (the
 * contract of the trigger: per-person order and co-partitioning with its stores). Each value is
 * decoded first, so a malformed one is refused here with the message the trigger would give,
 * and then nothing is sent.
 */
export async function publishFiles(
  argv: string[],
  io: Parameters<Command>[1],
  spec: PublishSpec,
): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { topic: { type: 'string' } },
  });
  if (positionals.length === 0) throw new UsageError(`${spec.usage} FILE… [--topic TOPIC]`);
  const { kafka, config } = cliKafka();
  const topic = values.topic ?? spec.defaultTopic(config);
  if (!topic) throw new UsageError(`${spec.usage} FILE… --topic TOPIC`);
  const messages: Message[] = [];
  let bad = 0;
  for (const file of positionals) {
    readEventFile(file).forEach((value, i) => {
      try {
        messages.push({ key: spec.key(value), value: JSON.stringify(value) });
      } catch (err) {
        bad += 1;
        io.err(`${file}[${i}]: ${(err as Error).message}`);
      }
    });
  }
  if (bad > 0) {
    io.err(`nothing sent: ${bad} invalid ${spec.what}(s)`);
    return 1;
  }
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
  io.out(`sent ${messages.length} ${spec.what}(s) to ${topic}`);
  return 0;
}

/** `flowhook events send FILE… [--topic T]` (default: the first of FLOWHOOK_EVENT_TOPICS). */
const send: Command = (argv, io) =>
  publishFiles(argv, io, {
    what: 'event',
    usage: 'events send',
    defaultTopic: (config) =>
      Array.isArray(config.eventTopics) ? config.eventTopics[0] : undefined,
    key: (value) => profileKey(decodeEventValue(value).event.profile),
  });

export const eventsCommand: Command = async (argv, io) => {
  const [sub, ...rest] = argv;
  if (sub === 'dlq') return eventsDlqCommand(rest, io);
  if (sub !== 'send') throw new UsageError('events send FILE… | events dlq list|replay');
  return send(rest, io);
};
