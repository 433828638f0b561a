// Which Kafka client errors a restart cannot fix: those are reported (/healthz), the rest are
// retried by the roles themselves.

/** Errors a restart cannot fix: the process reports them instead of retrying forever. */
export function isFatalKafkaError(err: unknown): boolean {
  for (let e = err as { type?: string; cause?: unknown; name?: string } | undefined; e;) {
    if (/AUTHORIZATION_FAILED|SASL_AUTHENTICATION_FAILED|ILLEGAL_SASL_STATE/.test(e.type ?? ''))
      return true;
    if (e.name === 'KafkaJSSASLAuthenticationError') return true;
    e = e.cause as typeof e;
  }
  return false;
}
