// Classifies one delivery attempt.
//
//   2xx                          → delivered
//   408, 425, 429, every 5xx     → retry. All 5xx retry, 501 and 505 included: a 501 is most
//                                  often a proxy or route that is being fixed, retries are
//                                  bounded by the schedule, and Svix/Hook0 retry them too.
//   410                          → failed, reason `gone` (counted apart: the receiver says the
//                                  endpoint is retired)
//   other 4xx, 3xx (redirects are not followed), 1xx and other statuses below 200
//                                → failed
//   statuses ≥ 600               → retry (a misbehaving server, treated like 5xx)
//   timeouts, connection/DNS/TLS errors and any other transport error → retry
//   destination refused, unknown secret, body too large, invalid signing secret, and requests
//   Node refuses to build (bad header characters, bad URL) → failed at once, with that reason.

export type AttemptOutcome = 'delivered' | 'retry' | 'failed';
export type StatusClass = '2xx' | '3xx' | '4xx' | '5xx' | 'error';

export interface Classification {
  outcome: AttemptOutcome;
  /** Short, low-cardinality reason, e.g. `ok`, `server_error`, `timeout`, `gone`. */
  reason: string;
  statusClass: StatusClass;
}

export interface AttemptFacts {
  statusCode?: number;
  error?: { code: string; message?: string };
}

const PERMANENT_ERRORS: Record<string, string> = {
  FLOWHOOK_ERR_DESTINATION_REFUSED: 'destination_refused',
  FLOWHOOK_ERR_SECRET_NOT_FOUND: 'secret_not_found',
  FLOWHOOK_ERR_BODY_TOO_LARGE: 'body_too_large',
  FLOWHOOK_ERR_SIGNING_SECRET: 'signing_secret_invalid',
  ERR_INVALID_CHAR: 'invalid_request',
  ERR_INVALID_HTTP_TOKEN: 'invalid_request',
  ERR_HTTP_INVALID_HEADER_VALUE: 'invalid_request',
  ERR_INVALID_URL: 'invalid_request',
  ERR_UNESCAPED_CHARACTERS: 'invalid_request',
  ERR_INVALID_PROTOCOL: 'invalid_request',
};

const TRANSIENT_ERRORS: Record<string, string> = {
  ETIMEDOUT: 'timeout',
  ESOCKETTIMEDOUT: 'timeout',
  ECONNABORTED: 'timeout',
  ECONNREFUSED: 'connection_refused',
  ECONNRESET: 'connection_reset',
  EPIPE: 'connection_reset',
  ERR_STREAM_PREMATURE_CLOSE: 'connection_reset',
  HPE_INVALID_CONSTANT: 'protocol_error',
  EPROTO: 'tls_error',
  EAI_AGAIN: 'dns_error',
  ENOTFOUND: 'dns_error',
  EAI_FAIL: 'dns_error',
  ENODATA: 'dns_error',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  ENETDOWN: 'unreachable',
  EADDRNOTAVAIL: 'unreachable',
  FLOWHOOK_ERR_SENDER_THREAD: 'sender_thread_lost',
};

function errorReason(code: string): Classification {
  const permanent = PERMANENT_ERRORS[code];
  if (permanent) return { outcome: 'failed', reason: permanent, statusClass: 'error' };
  const transient = TRANSIENT_ERRORS[code];
  if (transient) return { outcome: 'retry', reason: transient, statusClass: 'error' };
  if (/CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
    return { outcome: 'retry', reason: 'tls_error', statusClass: 'error' };
  }
  if (code.startsWith('HPE_')) {
    return { outcome: 'retry', reason: 'protocol_error', statusClass: 'error' };
  }
  return { outcome: 'retry', reason: 'network_error', statusClass: 'error' };
}

function statusClassOf(status: number): StatusClass {
  if (status >= 200 && status < 300) return '2xx';
  if (status >= 300 && status < 400) return '3xx';
  if (status >= 400 && status < 500) return '4xx';
  if (status >= 500) return '5xx';
  return 'error';
}

export function classifyStatus(status: number): Classification {
  const statusClass = statusClassOf(status);
  if (status >= 200 && status < 300) return { outcome: 'delivered', reason: 'ok', statusClass };
  if (status === 408) return { outcome: 'retry', reason: 'request_timeout', statusClass };
  if (status === 425) return { outcome: 'retry', reason: 'too_early', statusClass };
  if (status === 429) return { outcome: 'retry', reason: 'throttled', statusClass };
  if (status === 410) return { outcome: 'failed', reason: 'gone', statusClass };
  if (status >= 500 && status < 600)
    return { outcome: 'retry', reason: 'server_error', statusClass };
  if (status >= 600) return { outcome: 'retry', reason: 'unexpected_status', statusClass };
  if (status >= 400) return { outcome: 'failed', reason: 'client_error', statusClass };
  if (status >= 300) return { outcome: 'failed', reason: 'redirect', statusClass };
  return { outcome: 'failed', reason: 'unexpected_status', statusClass };
}

/**
 * A received status decides, even if the body then failed to arrive; without a status the
 * error code decides.
 */
export function classifyAttempt(facts: AttemptFacts): Classification {
  if (facts.statusCode !== undefined) return classifyStatus(facts.statusCode);
  if (facts.error) return errorReason(facts.error.code);
  return { outcome: 'retry', reason: 'network_error', statusClass: 'error' };
}
