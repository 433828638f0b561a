// What the trigger does with a record it derived from an event that is too large for its topic
// (src/kafka/record-limits.ts): the record is not produced (it would fail every transaction of
// the task and stall the partition); the event goes to the events DLQ with reason
// record_too_large, naming the topic and the sizes, itself cut to fit that topic.

import type { Kafka, Message } from 'kafkajs';
import {
  boundedContext,
  COPY_HEADROOM_BYTES,
  readRecordLimits,
  RecordLimits,
} from '../kafka/record-limits';
import type { ProcessorContext } from '../kafka/processor';
import type { TopicNames } from '../kafka/topics';
import type { Logger } from '../observability/logger';
import type { FlowhookMetrics } from '../observability/metrics';
import { fitEventDeadLetter, recordTooLargeDeadLetter, type EventDeadLetterInput } from './events';

export interface OversizedRecordDeps {
  kafka: Kafka;
  topics: TopicNames;
  metrics: Pick<FlowhookMetrics, 'recordsTooLarge' | 'eventsInvalid'>;
  logger: Logger;
}

export class OversizedRecords {
  private limits = new RecordLimits();
  private readonly fit: ReadonlyMap<string, (message: Message, limit: number) => Message>;

  constructor(private readonly deps: OversizedRecordDeps) {
    this.fit = new Map([[deps.topics.eventsDlq, fitEventDeadLetter]]);
  }

  /**
   * Reads what the topics the trigger writes take now. Jobs and held jobs keep room for what
   * delivery adds to their copies (COPY_HEADROOM_BYTES).
   */
  async load(): Promise<void> {
    const { jobs, review, activity, eventsDlq, timers, state } = this.deps.topics;
    const limits = await readRecordLimits(
      this.deps.kafka,
      [jobs, review, activity, eventsDlq, timers, state],
      this.deps.logger,
    );
    this.limits = limits.reserving([jobs, review], COPY_HEADROOM_BYTES);
  }

  /**
   * The context with every emit and timer bounded by its topic: events-DLQ copies are cut to
   * fit, and whatever else does not fit dead-letters `source()` instead of being produced.
   */
  bound(context: ProcessorContext, source: () => EventDeadLetterInput['source']): ProcessorContext {
    const { topics, metrics, logger } = this.deps;
    return boundedContext(context, {
      limits: this.limits,
      timersChangelogTopic: topics.timers,
      fit: this.fit,
      onTooLarge: (tooLarge, message) => {
        const from = source();
        metrics.recordsTooLarge.inc({ topic: tooLarge.topic });
        metrics.eventsInvalid.inc({ reason: 'record_too_large' });
        logger.warn(
          {
            ...tooLarge,
            source_topic: from.topic,
            partition: from.partition,
            offset: from.message.offset,
          },
          'a record derived from an event is too large for its topic: not produced; the event is dead-lettered',
        );
        const letter = recordTooLargeDeadLetter({ source: from, tooLarge, message });
        context.emit(
          topics.eventsDlq,
          fitEventDeadLetter(letter, this.limits.limit(topics.eventsDlq)),
        );
      },
    });
  }
}
