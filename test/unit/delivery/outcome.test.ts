import { classifyAttempt, classifyStatus } from '../../../src/delivery/outcome';

describe('classifyStatus', () => {
  test.each([
    [200, 'delivered', 'ok', '2xx'],
    [201, 'delivered', 'ok', '2xx'],
    [204, 'delivered', 'ok', '2xx'],
    [299, 'delivered', 'ok', '2xx'],
    [301, 'failed', 'redirect', '3xx'],
    [302, 'failed', 'redirect', '3xx'],
    [304, 'failed', 'redirect', '3xx'],
    [307, 'failed', 'redirect', '3xx'],
    [308, 'failed', 'redirect', '3xx'],
    [400, 'failed', 'client_error', '4xx'],
    [401, 'failed', 'client_error', '4xx'],
    [403, 'failed', 'client_error', '4xx'],
    [404, 'failed', 'client_error', '4xx'],
    [405, 'failed', 'client_error', '4xx'],
    [408, 'retry', 'request_timeout', '4xx'],
    [409, 'failed', 'client_error', '4xx'],
    [410, 'failed', 'gone', '4xx'],
    [413, 'failed', 'client_error', '4xx'],
    [422, 'failed', 'client_error', '4xx'],
    [425, 'retry', 'too_early', '4xx'],
    [429, 'retry', 'throttled', '4xx'],
    [451, 'failed', 'client_error', '4xx'],
    [500, 'retry', 'server_error', '5xx'],
    [501, 'retry', 'server_error', '5xx'],
    [502, 'retry', 'server_error', '5xx'],
    [503, 'retry', 'server_error', '5xx'],
    [504, 'retry', 'server_error', '5xx'],
    [505, 'retry', 'server_error', '5xx'],
    [599, 'retry', 'server_error', '5xx'],
    [600, 'retry', 'unexpected_status', '5xx'],
    [100, 'failed', 'unexpected_status', 'error'],
  ])('%i → %s (%s, %s)', (status, outcome, reason, statusClass) => {
    expect(classifyStatus(status)).toEqual({ outcome, reason, statusClass });
  });
});

describe('classifyAttempt with a transport error', () => {
  test.each([
    ['ETIMEDOUT', 'retry', 'timeout'],
    ['ESOCKETTIMEDOUT', 'retry', 'timeout'],
    ['ECONNREFUSED', 'retry', 'connection_refused'],
    ['ECONNRESET', 'retry', 'connection_reset'],
    ['EPIPE', 'retry', 'connection_reset'],
    ['EAI_AGAIN', 'retry', 'dns_error'],
    ['ENOTFOUND', 'retry', 'dns_error'],
    ['EHOSTUNREACH', 'retry', 'unreachable'],
    ['ENETUNREACH', 'retry', 'unreachable'],
    ['CERT_HAS_EXPIRED', 'retry', 'tls_error'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'retry', 'tls_error'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'retry', 'tls_error'],
    ['EPROTO', 'retry', 'tls_error'],
    ['HPE_INVALID_HEADER_TOKEN', 'retry', 'protocol_error'],
    ['ERR_GOT_REQUEST_ERROR', 'retry', 'network_error'],
    ['SOMETHING_NEW', 'retry', 'network_error'],
    ['FLOWHOOK_ERR_DESTINATION_REFUSED', 'failed', 'destination_refused'],
    ['FLOWHOOK_ERR_SECRET_NOT_FOUND', 'failed', 'secret_not_found'],
    ['FLOWHOOK_ERR_BODY_TOO_LARGE', 'failed', 'body_too_large'],
    ['FLOWHOOK_ERR_SIGNING_SECRET', 'failed', 'signing_secret_invalid'],
    ['ERR_INVALID_CHAR', 'failed', 'invalid_request'],
    ['ERR_INVALID_URL', 'failed', 'invalid_request'],
  ])('%s → %s (%s)', (code, outcome, reason) => {
    expect(classifyAttempt({ error: { code, message: 'x' } })).toEqual({
      outcome,
      reason,
      statusClass: 'error',
    });
  });

  test('a received status wins over an error that came after it', () => {
    expect(classifyAttempt({ statusCode: 200, error: { code: 'ETIMEDOUT' } }).outcome).toBe(
      'delivered',
    );
    expect(classifyAttempt({ statusCode: 400, error: { code: 'ECONNRESET' } }).outcome).toBe(
      'failed',
    );
  });

  test('neither status nor error is treated as a network error', () => {
    expect(classifyAttempt({})).toEqual({
      outcome: 'retry',
      reason: 'network_error',
      statusClass: 'error',
    });
  });
});
