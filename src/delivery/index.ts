// The delivery role's building blocks (issue 5). The Kafka consumer loop lives elsewhere and
// calls deliverAttempt() for each job it takes from flowhook.jobs or a retry tier.

export * from './address-guard';
export * from './circuit-breaker';
export * from './deliver';
export * from './host-limiter';
export * from './http-sender';
export * from './outcome';
export * from './retry-schedule';
export * from './secrets';
export * from './sender-pool';
export * from './signing';
