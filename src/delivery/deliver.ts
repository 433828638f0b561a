// One delivery attempt for one job, without Kafka: the consumer loop calls `deliverAttempt`
// and acts on the decision:
//   delivered → produce `record` to flowhook.deliveries; commit.
//   retry     → produce `job` (attempt+1, not_before set) to flowhook.retry.<tier> and
//               `record` to flowhook.deliveries; commit.
//   dead      → produce `deadLetter` to flowhook.dlq and `record` to flowhook.deliveries.
//   wait      → no attempt was made (circuit open, or not_before still ahead): produce `job`
//               (attempt unchanged, not_before = untilMs) to flowhook.retry.<tier>. Nothing
//               is failed or dropped, and no record is written.
// Pre-flight failures (body too large, unknown secret, a secret sent to a host it does not
// allow, bad signing secret, refused URL)
// count as an attempt and go to the DLQ with their reason.

import type { AttemptSummary, DeadLetter, DeliveryRecord, WebhookJob } from '../documents';
import {
  DeliveryRejectedError,
  DestinationRefusedError,
  FlowhookError,
  RetriesExhaustedError,
  SigningSecretError,
} from '../errors';
import { isReservedHeader } from '../webhook-headers';
import { BoundedCache } from './bounded-cache';
import type { CircuitBreaker } from './circuit-breaker';
import type { HostLimiter } from './host-limiter';
import {
  type AttemptResult,
  checkBodySize,
  DEFAULT_MAX_BODY_BYTES,
  type Sender,
  stripReservedHeaders,
} from './http-sender';
import { type Classification, classifyAttempt } from './outcome';
import { RETRY_TIERS, type RetrySchedule, type RetryTier, tierFor } from './retry-schedule';
import type { SecretStore } from './secrets';
import { parseSigningSecrets, signPayload } from './signing';

export interface DeliveryDeps {
  sender: Sender;
  secrets: SecretStore;
  /** Global secrets (FLOWHOOK_SIGNING_SECRET, parsed with parseSigningSecrets); may be empty. */
  signingSecrets: readonly string[];
  schedule: RetrySchedule;
  breaker: CircuitBreaker;
  /** Per-host slots (a HostLimiter; only `acquire` is used). */
  limiter: Pick<HostLimiter, 'acquire'>;
  /** ms since the epoch. Default Date.now. */
  clock?: () => number;
  /** Jitter source. Default Math.random. */
  random?: () => number;
  maxBodyBytes?: number;
  /** Per-attempt timeout; default the sender's. */
  timeoutMs?: number;
  tiers?: readonly RetryTier[];
}

export type DeliveryDecision =
  | { kind: 'delivered' }
  | { kind: 'retry'; delayMs: number; tier: string; notBefore: string }
  | { kind: 'dead'; reason: string; code: string; deadLetter: DeadLetter }
  | { kind: 'wait'; untilMs: number; tier: string; cause: 'circuit_open' | 'not_before' };

export interface AttemptReport {
  decision: DeliveryDecision;
  /** The job to forward (retry/wait/dead); for an attempt: attempt+1, history, last_error. */
  job: WebhookJob;
  /** For flowhook.deliveries; absent for `wait`. */
  record?: DeliveryRecord;
  result?: AttemptResult;
  classification?: Classification;
  /** Header names whose values came from secrets (redact them when logging). */
  secretHeaderNames: string[];
}

/** Signature and transport headers a job may not supply itself. */
export interface PreparedRequest {
  url: string;
  /** Job headers, secrets resolved, reserved and signature headers removed. */
  headers: Record<string, string>;
  body: string;
  secretHeaderNames: string[];
  /** Secrets to sign with (per-action if the job names one, else the global ones). */
  signingSecrets: string[];
}

/**
 * Everything that can fail permanently before a request: body size, secrets, signing
 * secrets. Throws the FlowhookError (non-retriable). Also usable by `flows test-send`.
 */
export async function prepareRequest(
  job: WebhookJob,
  deps: Pick<DeliveryDeps, 'secrets' | 'signingSecrets' | 'maxBodyBytes'>,
): Promise<PreparedRequest> {
  checkBodySize(job.body, deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  // Validation refuses these; jobs written before a rule existed still must not set them.
  const own = stripReservedHeaders(job.headers ?? {}, isReservedHeader);
  await deps.secrets.checkHosts(own, job.url);
  const { headers, secretHeaderNames } = await deps.secrets.resolveHeaders(own);
  let signingSecrets = [...deps.signingSecrets];
  if (job.signing_secret_ref !== undefined && job.signing_secret_ref !== '') {
    const value = await deps.secrets.get(job.signing_secret_ref);
    try {
      signingSecrets = parseSigningSecrets(value);
    } catch (error: unknown) {
      throw new SigningSecretError(
        `signing secret ${job.signing_secret_ref} is malformed: expected whsec_ followed by base64`,
        { cause: error },
      );
    }
    if (signingSecrets.length === 0) {
      throw new SigningSecretError(`signing secret ${job.signing_secret_ref} is empty`);
    }
  }
  return { url: job.url, headers, body: job.body, secretHeaderNames, signingSecrets };
}

/** Adds webhook-id / webhook-timestamp and, when there are secrets, webhook-signature. */
export function signedHeaders(
  prepared: PreparedRequest,
  id: string,
  nowMs: number,
): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  const headers = { ...prepared.headers };
  if (prepared.signingSecrets.length === 0) {
    headers['webhook-id'] = id;
    headers['webhook-timestamp'] = String(timestamp);
    return headers;
  }
  const secrets = prepared.signingSecrets;
  return Object.assign(headers, signPayload({ id, timestamp, body: prepared.body, secrets }));
}

/** Hosts (host[:port]) of recently seen URLs: every job of a flow goes to the same few. */
const urlHosts = new BoundedCache<string, string>(10_000);

/** The URL's host[:port] (the key of per-host limits and circuits); throws for a bad URL. */
function destinationHost(url: string): string {
  return urlHosts.get(url, (text) => {
    try {
      return new URL(text).host;
    } catch {
      throw new DestinationRefusedError('destination URL is not a valid absolute URL');
    }
  });
}

// Records carry three or four timestamps per attempt; most fall in the same second, so the
// `YYYY-MM-DDTHH:MM:SS.` part is reused and only the milliseconds are formatted. Same output
// as `new Date(ms).toISOString()` (which is used for anything unusual).
let isoSecond = NaN;
let isoPrefix = '';
const iso = (ms: number): string => {
  if (Number.isInteger(ms)) {
    const second = Math.floor(ms / 1000);
    const millis = ms - second * 1000;
    if (second !== isoSecond) {
      const full = new Date(ms).toISOString();
      if (full.length !== 24) return full; // extended years: not cached
      isoSecond = second;
      isoPrefix = full.slice(0, 20);
      return full;
    }
    return `${isoPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
  }
  return new Date(ms).toISOString();
};

function describe(result: AttemptResult): string {
  if (result.statusCode !== undefined) {
    return result.error
      ? `HTTP ${result.statusCode}, then ${result.error.code}: ${result.error.message}`
      : `HTTP ${result.statusCode}`;
  }
  return result.error ? `${result.error.code}: ${result.error.message}` : 'no response';
}

export async function deliverAttempt(job: WebhookJob, deps: DeliveryDeps): Promise<AttemptReport> {
  const clock = deps.clock ?? Date.now;
  const tiers = deps.tiers ?? RETRY_TIERS;
  const now = clock();

  const wait = (
    untilMs: number,
    cause: 'circuit_open' | 'not_before',
    secretHeaderNames: string[] = [],
  ): AttemptReport => ({
    decision: { kind: 'wait', untilMs, tier: tierFor(untilMs - now, tiers), cause },
    job: { ...job, not_before: iso(untilMs) },
    secretHeaderNames,
  });

  // Never early, whatever the consumer does.
  const notBefore = job.not_before === undefined ? NaN : Date.parse(job.not_before);
  if (notBefore > now) return wait(notBefore, 'not_before');

  let host = '';
  let prepared: PreparedRequest | undefined;
  let result: AttemptResult | undefined;
  try {
    host = destinationHost(job.url);
    prepared = await prepareRequest(job, deps);
  } catch (error: unknown) {
    if (!(error instanceof FlowhookError) || error.retriable) throw error;
    result = {
      error: { code: error.code, message: error.message },
      durationMs: 0,
      responseBody: '',
      responseTruncated: false,
    };
  }
  const secretHeaderNames = prepared?.secretHeaderNames ?? [];
  let attemptedAt = now;

  if (prepared) {
    // Do not even queue for a slot while the host's circuit is open.
    const peek = deps.breaker.peek(host, now);
    if (!peek.allowed) return wait(peek.untilMs, 'circuit_open', secretHeaderNames);
    const release = await deps.limiter.acquire(host);
    try {
      attemptedAt = clock();
      const check = deps.breaker.canAttempt(host, attemptedAt);
      if (!check.allowed) return wait(check.untilMs, 'circuit_open', secretHeaderNames);
      // Signed now (after any queueing) so the timestamp is the time of sending.
      result = await deps.sender.send({
        url: prepared.url,
        headers: signedHeaders(prepared, job.id, attemptedAt),
        body: prepared.body,
        timeoutMs: deps.timeoutMs,
      });
    } finally {
      release();
    }
  }
  const attempt = result as AttemptResult;
  const classification = classifyAttempt(attempt);
  const finishedAt = clock();
  if (prepared) {
    if (classification.outcome === 'retry') deps.breaker.recordFailure(host, finishedAt);
    else if (attempt.statusCode !== undefined) deps.breaker.recordSuccess(host);
    else deps.breaker.recordNeutral(host);
  }

  const attemptNumber = job.attempt + 1;
  let outcome: DeliveryRecord['outcome'] = 'failed';
  let retry: { delayMs: number; notBefore: string } | undefined;
  let dead: { reason: string; code: string } | undefined;
  if (classification.outcome === 'delivered') {
    outcome = 'delivered';
  } else if (classification.outcome === 'retry') {
    const next = deps.schedule.nextDelay(attemptNumber, {
      random: deps.random,
      retryAfter: attempt.retryAfter,
      now: finishedAt,
    });
    if (next) {
      outcome = 'retrying';
      retry = { delayMs: next.delayMs, notBefore: iso(finishedAt + next.delayMs) };
    } else {
      dead = { reason: 'retries_exhausted', code: RetriesExhaustedError.code };
    }
  } else {
    const code =
      attempt.statusCode !== undefined
        ? DeliveryRejectedError.code
        : (attempt.error?.code ?? 'ERR_UNKNOWN');
    dead = { reason: classification.reason, code };
  }

  const lastError = outcome === 'delivered' ? undefined : describe(attempt);
  const summary: AttemptSummary = {
    attempt: attemptNumber,
    at: iso(attemptedAt),
    outcome,
    duration_ms: attempt.durationMs,
  };
  if (attempt.statusCode !== undefined) summary.status_code = attempt.statusCode;
  if (lastError !== undefined) summary.error = lastError;

  const updated: WebhookJob = {
    ...job,
    attempt: attemptNumber,
    first_attempt_at: job.first_attempt_at ?? iso(attemptedAt),
    history: [...(job.history ?? []), summary],
  };
  if (lastError !== undefined) updated.last_error = lastError;
  if (retry) updated.not_before = retry.notBefore;
  else delete updated.not_before;

  const record: DeliveryRecord = {
    job_id: job.id,
    flow_id: job.flow_id,
    action_id: job.action_id,
    profile_id: job.profile_id,
    event_id: job.event_id,
    attempt: attemptNumber,
    duration_ms: attempt.durationMs,
    outcome,
    time: iso(finishedAt),
  };
  if (attempt.statusCode !== undefined) record.status_code = attempt.statusCode;
  if (attempt.error && attempt.statusCode === undefined) {
    record.error_class = attempt.error.code;
    record.error = attempt.error.message;
  }
  if (attempt.responseBody !== '') record.response_body = attempt.responseBody;
  if (retry) record.next_attempt_at = retry.notBefore;

  let decision: DeliveryDecision;
  if (dead) {
    const deadLetter: DeadLetter = {
      job: updated,
      reason: dead.reason,
      error_code: dead.code,
      failed_at: iso(finishedAt),
    };
    decision = { kind: 'dead', reason: dead.reason, code: dead.code, deadLetter };
  } else if (retry) {
    decision = { kind: 'retry', ...retry, tier: tierFor(retry.delayMs, tiers) };
  } else {
    decision = { kind: 'delivered' };
  }
  return { decision, job: updated, record, result: attempt, classification, secretHeaderNames };
}
