// Decoding and validation of the jobs the delivery role reads (schemas/job.schema.json).

import Ajv2020, { type ErrorObject } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import jobSchema from '../../schemas/job.schema.json';
import type { WebhookJob } from '../documents';

const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true });
addFormats(ajv);
const validate = ajv.compile<WebhookJob>(jobSchema);

export type DecodedJob =
  | { ok: true; job: WebhookJob }
  | { ok: false; reason: 'empty' | 'malformed_json' | 'schema_invalid'; error: string };

function describeErrors(errors: ErrorObject[] | null | undefined): string {
  const lines = (errors ?? []).slice(0, 5).map((e) => {
    const path = `$${e.instancePath.replace(/\/([^/]+)/g, (_, p: string) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))}`;
    if (e.keyword === 'required') {
      const missing = (e.params as { missingProperty?: string }).missingProperty ?? '?';
      return `${path}.${missing}: is required`;
    }
    return `${path}: ${e.message ?? 'is invalid'}`;
  });
  return lines.join('; ') || 'does not match the job schema';
}

/** A job value from Kafka, validated; never throws. */
export function decodeJob(value: Buffer | string | null): DecodedJob {
  if (value === null || value.length === 0) {
    return { ok: false, reason: 'empty', error: 'the message has no value' };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: 'malformed_json', error: `not JSON: ${(err as Error).message}` };
  }
  if (!validate(parsed)) {
    return { ok: false, reason: 'schema_invalid', error: describeErrors(validate.errors) };
  }
  return { ok: true, job: parsed };
}
