// Pure logic of the trigger role: entry decisions, per-profile state, the walk of a flow.
export * from './entry';
export * from './walk';
export { computeDelay, zonedTimeToUtc, isValidTimeZone, type DelayComputation } from './delay';
