// Every error flowhook raises on purpose lives here. Each carries a stable `code`
// (FLOWHOOK_ERR_*) for logs, metrics and DLQ records, and a `retriable` flag so that no call
// site has to guess whether trying again can help.

export interface FlowhookErrorOptions {
  cause?: unknown;
  /** Extra structured detail, safe to log (never secrets). */
  details?: Record<string, unknown>;
}

export abstract class FlowhookError extends Error {
  abstract readonly code: string;
  abstract readonly retriable: boolean;
  readonly details: Record<string, unknown>;

  constructor(message: string, options: FlowhookErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, retriable: this.retriable };
  }
}

// ---- configuration ------------------------------------------------------------------------

/** One invalid setting: the name, the value given and what is allowed. */
export interface ConfigProblem {
  name: string;
  value: string | undefined;
  allowed: string;
}

export class ConfigError extends FlowhookError {
  readonly code = 'FLOWHOOK_ERR_CONFIG';
  readonly retriable = false;
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems
          .map((p) => `  - ${p.name}=${JSON.stringify(p.value ?? '')}: expected ${p.allowed}`)
          .join('\n'),
    );
    this.problems = problems;
  }
}

// ---- Kafka and the local broker -----------------------------------------------------------

export class KafkaUnavailableError extends FlowhookError {
  readonly code = 'FLOWHOOK_ERR_KAFKA_UNAVAILABLE';
  readonly retriable = true;
}

export class KafkaPermissionError extends FlowhookError {
  readonly code = 'FLOWHOOK_ERR_KAFKA_PERMISSION';
  readonly retriable = false;
}

export class LocalBrokerError extends FlowhookError {
  readonly code = 'FLOWHOOK_ERR_LOCAL_BROKER';
  readonly retriable = false;
}

/** A message that does not satisfy the schema of the topic it was read from or written to. */
export class TopicSchemaError extends FlowhookError {
  readonly code = 'FLOWHOOK_ERR_TOPIC_SCHEMA';
  readonly retriable = false;
}

// ---- domain errors (templates, flows, events, delivery) are added below -------------------
