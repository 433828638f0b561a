// Every error flowhook raises on purpose lives here. Each carries a stable `code`
// (FLOWHOOK_ERR_*) for logs, metrics and DLQ records, and a `retriable` flag so that no call
// site has to guess whether trying again can help.

export interface FlowhookErrorOptions {
  cause?: unknown;
  /** Extra structured detail, safe to log (never secrets). */
  details?: Record<string, unknown>;
}

export abstract class FlowhookError extends Error {
  /** Each class also has it as a static `code`, readable without constructing an error. */
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
  static readonly code = 'FLOWHOOK_ERR_CONFIG';
  readonly code = ConfigError.code;
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
  static readonly code = 'FLOWHOOK_ERR_KAFKA_UNAVAILABLE';
  readonly code = KafkaUnavailableError.code;
  readonly retriable = true;
}

export class KafkaPermissionError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_KAFKA_PERMISSION';
  readonly code = KafkaPermissionError.code;
  readonly retriable = false;
}

export class LocalBrokerError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_LOCAL_BROKER';
  readonly code = LocalBrokerError.code;
  readonly retriable = false;
}

/** A message that does not satisfy the schema of the topic it was read from or written to. */
export class TopicSchemaError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_TOPIC_SCHEMA';
  readonly code = TopicSchemaError.code;
  readonly retriable = false;
}

// ---- domain errors (templates, flows, events, delivery) are added below -------------------

// delivery (src/delivery)

/** The destination URL or an address it resolves to is not allowed (SSRF guard, scheme). */
export class DestinationRefusedError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_DESTINATION_REFUSED';
  readonly code = DestinationRefusedError.code;
  readonly retriable = false;
}

/** A `{{ secrets.NAME }}` reference names no secret file or variable (message names it). */
export class SecretNotFoundError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_SECRET_NOT_FOUND';
  readonly code = SecretNotFoundError.code;
  readonly retriable = false;
}

/** A rendered webhook body larger than the delivery limit; nothing is sent. */
export class BodyTooLargeError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_BODY_TOO_LARGE';
  readonly code = BodyTooLargeError.code;
  readonly retriable = false;
}

/** A signing secret that is not `whsec_` + base64 of a non-empty key. */
export class SigningSecretError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_SIGNING_SECRET';
  readonly code = SigningSecretError.code;
  readonly retriable = false;
}

/** The receiver answered with a status that is never retried (3xx, 4xx other than 408/425/429). */
export class DeliveryRejectedError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_DELIVERY_REJECTED';
  readonly code = DeliveryRejectedError.code;
  readonly retriable = false;
}

/**
 * A sender thread stopped (crashed or was terminated) with requests in hand: whether they
 * reached the receiver is unknown, so they are retried (same webhook-id).
 */
export class SenderThreadError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_SENDER_THREAD';
  readonly code = SenderThreadError.code;
  readonly retriable = true;
}

/** Every attempt of the retry schedule failed. */
export class RetriesExhaustedError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_RETRIES_EXHAUSTED';
  readonly code = RetriesExhaustedError.code;
  readonly retriable = false;
}

// flows and events (src/flows, src/events)

/** One problem in a flow document, with the JSON path it concerns. */
export interface FlowProblem {
  /** e.g. `$.definition.actions[2].data.message.url` */
  path: string;
  message: string;
}

/** A flow document that fails its schema or semantic rules; `problems` says where and why. */
export class FlowValidationError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_FLOW_INVALID';
  readonly code = FlowValidationError.code;
  readonly retriable = false;
  readonly problems: FlowProblem[];
  constructor(problems: FlowProblem[], options: FlowhookErrorOptions = {}) {
    super(
      `invalid flow (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n'),
      options,
    );
    this.problems = problems;
  }
}

/** Why an event record could not be decoded; the DLQ reason on flowhook.events.dlq. */
export type EventDecodeReason =
  | 'empty'
  | 'too_large'
  | 'malformed_json'
  | 'unknown_format'
  | 'schema_invalid'
  | 'registry_not_configured'
  | 'registry_unavailable'
  | 'registry_decode_failed';

/**
 * An event record that cannot become a canonical event. Only `registry_unavailable` is
 * retriable (the Schema Registry could not be reached); every other reason is permanent.
 */
export class EventDecodeError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_EVENT_DECODE';
  readonly code = EventDecodeError.code;
  readonly retriable: boolean;
  readonly reason: EventDecodeReason;
  /** JSON path of the offending value, when there is one (e.g. `$.profile.email`). */
  readonly path: string | undefined;
  constructor(
    reason: EventDecodeReason,
    message: string,
    options: FlowhookErrorOptions & { path?: string } = {},
  ) {
    super(message, options);
    this.reason = reason;
    this.retriable = reason === 'registry_unavailable';
    this.path = options.path;
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      reason: this.reason,
      ...(this.path === undefined ? {} : { path: this.path }),
    };
  }
}

// ---- templates (src/template) ---------------------------------------------------------------

/** One reason a template is refused; the same shape as `TemplateProblem` in src/template. */
export interface TemplateProblemInfo {
  message: string;
  line?: number;
  column?: number;
  name?: string;
}

function formatTemplateProblem(p: TemplateProblemInfo): string {
  return p.line === undefined ? p.message : `line ${p.line}, column ${p.column ?? 1}: ${p.message}`;
}

/** A template that cannot be compiled (unsupported or malformed); `problems` says where. */
export class TemplateSyntaxError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_TEMPLATE_SYNTAX';
  readonly code = TemplateSyntaxError.code;
  readonly retriable = false;
  readonly problems: TemplateProblemInfo[];
  /** Position of the first problem. */
  readonly line: number | undefined;
  readonly column: number | undefined;
  constructor(problems: TemplateProblemInfo[], options: FlowhookErrorOptions = {}) {
    const first = problems[0];
    super(
      problems.length === 1 && first !== undefined
        ? `invalid template: ${formatTemplateProblem(first)}`
        : `invalid template (${problems.length} problems):\n` +
            problems.map((p) => `  - ${formatTemplateProblem(p)}`).join('\n'),
      { ...options, details: { ...options.details, problems } },
    );
    this.problems = problems;
    this.line = first?.line;
    this.column = first?.column;
  }
}

/**
 * A render whose result cannot be used: a body that is not JSON, a header with a line break,
 * a value that cannot stand outside a JSON string... Nothing is sent. `where` tells whether
 * line/column point into the template or into the rendered output.
 */
export class TemplateRenderError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_TEMPLATE_RENDER';
  readonly code = TemplateRenderError.code;
  readonly retriable = false;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly where: 'template' | 'output' | undefined;
  constructor(
    message: string,
    options: FlowhookErrorOptions & {
      line?: number;
      column?: number;
      where?: 'template' | 'output';
    } = {},
  ) {
    super(message, {
      ...options,
      details: {
        ...options.details,
        line: options.line,
        column: options.column,
        where: options.where,
      },
    });
    this.line = options.line;
    this.column = options.column;
    this.where = options.where;
  }
}

/**
 * A render stopped by one of its limits (time, output size, loop iterations). Only the time
 * limit is retriable: it is wall-clock time, which a busy machine or a GC pause can use up.
 */
export class TemplateLimitError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_TEMPLATE_LIMIT';
  readonly code = TemplateLimitError.code;
  readonly retriable: boolean;
  /** Which limit: `timeoutMs`, `maxOutputBytes` or `maxLoopIterations`. */
  readonly limit: string;
  constructor(limit: string, message: string, options: FlowhookErrorOptions = {}) {
    super(message, { ...options, details: { ...options.details, limit } });
    this.limit = limit;
    this.retriable = limit === 'timeoutMs';
  }
}

// activity log and review queue (src/activity, src/review)

/** An activity or review query the store cannot answer as asked (bad cursor, date, status, limit). */
export class ActivityQueryError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_ACTIVITY_QUERY';
  readonly code = ActivityQueryError.code;
  readonly retriable = false;
}

/** The activity store's database could not be reached or refused a statement. */
export class ActivityStoreError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_ACTIVITY_STORE';
  readonly code = ActivityStoreError.code;
  readonly retriable = true;
}

/** No held webhook with this id (never held, or already released or discarded). */
export class ReviewItemNotFoundError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_REVIEW_NOT_FOUND';
  readonly code = ReviewItemNotFoundError.code;
  readonly retriable = false;
}

// ---- control plane (src/admin, src/app) ------------------------------------------------------

/** No credentials, or a token that fails verification (signature, issuer, audience, time). */
export class AuthenticationError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_UNAUTHENTICATED';
  readonly code = AuthenticationError.code;
  readonly retriable = false;
}

/** The signed-in role may not do this. */
export class ForbiddenError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_FORBIDDEN';
  readonly code = ForbiddenError.code;
  readonly retriable = false;
}

/** Adding or changing a webhook needs MFA evidence (amr / acr) in the token. */
export class MfaRequiredError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_MFA_REQUIRED';
  readonly code = MfaRequiredError.code;
  readonly retriable = false;
}

/** A write based on a version of the flow that is no longer the current one. */
export class VersionConflictError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_VERSION_CONFLICT';
  readonly code = VersionConflictError.code;
  readonly retriable = false;
}

export class NotFoundError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_NOT_FOUND';
  readonly code = NotFoundError.code;
  readonly retriable = false;
}

/** A request the API cannot read (malformed JSON, missing field, bad parameter). */
export class BadRequestError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_BAD_REQUEST';
  readonly code = BadRequestError.code;
  readonly retriable = false;
}

/** A feature whose backing service this process was not given (e.g. the activity store). */
export class NotConfiguredError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_NOT_CONFIGURED';
  readonly code = NotConfiguredError.code;
  readonly retriable = true;
}

/** A flow with a webhook that is unsigned or whose signature does not verify (signing on). */
export class FlowSignatureError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_FLOW_SIGNATURE';
  readonly code = FlowSignatureError.code;
  readonly retriable = false;
}

/** A secret referenced by a webhook whose host is not among the secret's allowed hosts. */
export class SecretHostRefusedError extends FlowhookError {
  static readonly code = 'FLOWHOOK_ERR_SECRET_HOST';
  readonly code = SecretHostRefusedError.code;
  readonly retriable = false;
}
