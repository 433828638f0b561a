import pino, { type Logger } from 'pino';

export type { Logger };

// Fields that may carry credentials anywhere flowhook logs an object. Header values are
// redacted wholesale for the names that conventionally carry credentials; resolved secrets
// never reach a log call in the first place (the delivery worker logs templates, not values).
const REDACT_PATHS = [
  'password',
  'secret',
  'secrets',
  'signingSecrets',
  'sasl.password',
  '*.password',
  '*.secret',
  '*.secrets',
  '*.signingSecrets',
  '*.sasl.password',
  '*.*.sasl.password',
  'headers.authorization',
  'headers.Authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  '*.headers.authorization',
  '*.headers.Authorization',
  '*.headers.cookie',
  '*.headers["x-api-key"]',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'flowhook' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
