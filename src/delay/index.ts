// The delay mechanism (issue 5): tier topics, the producer-side helper and the delay role.
// Webhook retries and circuit waits use `topics.retry`; flow time delays use `topics.delays`.

export * from './message';
export * from './role';
