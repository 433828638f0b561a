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

/**
 * `flowhook events send FILE… [--topic T]`: publishes events keyed by profile (the recommended
 * key: per-person order and co-partitioning with flowhook.state). Each event is decoded first,
 * so a malformed one is refused here with the same message the trigger would give.
 */
const send: Command = async (argv, io) => {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { topic: { type: 'string' } },
  });
  if (positionals.length === 0) throw new UsageError('events send FILE… [--topic TOPIC]');
  const { kafka, config } = cliKafka();
  const topic =
    values.topic ?? (Array.isArray(config.eventTopics) ? config.eventTopics[0] : undefined);
  if (!topic)
    throw new UsageError('events send FILE… --topic TOPIC (FLOWHOOK_EVENT_TOPICS is a regex)');
  const messages: Message[] = [];
  let bad = 0;
  for (const file of positionals) {
    readEventFile(file).forEach((value, i) => {
      try {
        const { event } = decodeEventValue(value);
        messages.push({ key: profileKey(event.profile), value: JSON.stringify(value) });
      } catch (err) {
        bad += 1;
        io.err(`${file}[${i}]: ${(err as Error).message}`);
      }
    });
  }
  if (bad > 0) {
    io.err(`nothing sent: ${bad} invalid event(s)`);
    return 1;
  }
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
  io.out(`sent ${messages.length} event(s) to ${topic}`);
  return 0;
};

export const eventsCommand: Command = async (argv, io) => {
  const [sub, ...rest] = argv;
  if (sub === 'dlq') return eventsDlqCommand(rest, io);
  if (sub !== 'send') throw new UsageError('events send FILE… | events dlq list|replay');
  return send(rest, io);
};
