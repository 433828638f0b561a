import { parseSince, replayedJob } from '../../../src/cli/dlq';
import { parseDlqEntry, rejectedMessage } from '../../../src/dead-letter/jobs';
import { decodeJob } from '../../../src/delivery/job-schema';
import type { WebhookJob } from '../../../src/documents';

const job: WebhookJob = {
  id: 'job-1',
  flow_id: 'flow-1',
  flow_version: 3,
  action_id: 'a1',
  event_id: 'e1',
  profile_id: 'p1',
  url: 'https://example.com/hook',
  headers: { authorization: 'Bearer {{ secrets.crm }}' },
  body: '{"a":1}',
  attempt: 2,
  not_before: '2025-01-01T00:00:00.000Z',
  history: [{ attempt: 1, at: '2025-01-01T00:00:00.000Z', outcome: 'retrying', duration_ms: 5 }],
};

describe('decodeJob', () => {
  it('accepts a job, unknown members included', () => {
    expect(decodeJob(Buffer.from(JSON.stringify({ ...job, extra: true })))).toMatchObject({
      ok: true,
      job: { id: 'job-1', attempt: 2 },
    });
  });

  it.each([
    [null, 'empty', 'no value'],
    ['', 'empty', 'no value'],
    ['{nope', 'malformed_json', 'not JSON'],
    [JSON.stringify({ ...job, flow_id: undefined }), 'schema_invalid', '$.flow_id: is required'],
    [JSON.stringify({ ...job, attempt: -1 }), 'schema_invalid', '$.attempt: must be >= 0'],
    [
      JSON.stringify({ ...job, headers: { a: 1 } }),
      'schema_invalid',
      '$.headers.a: must be string',
    ],
    [JSON.stringify({ ...job, not_before: 'later' }), 'schema_invalid', '$.not_before'],
    [
      JSON.stringify({ ...job, history: [{ attempt: 1 }] }),
      'schema_invalid',
      '$.history[0].at: is required',
    ],
  ])('refuses %s (%s)', (value, reason, message) => {
    const decoded = decodeJob(value);
    expect(decoded).toMatchObject({ ok: false, reason });
    expect(decoded.ok ? '' : decoded.error).toContain(message);
  });
});

describe('DLQ entries', () => {
  it('keeps the raw value of a rejected message (base64 when it is not UTF-8)', () => {
    const message = rejectedMessage({
      reason: 'invalid_job',
      errorCode: 'FLOWHOOK_ERR_TOPIC_SCHEMA',
      error: 'bad',
      topic: 't',
      partition: 1,
      message: {
        key: Buffer.from('k'),
        value: Buffer.from([0xff, 0xfe]),
        offset: '7',
        timestamp: '0',
        attributes: 0,
        headers: {},
      },
      now: 0,
    });
    const entry = parseDlqEntry(Buffer.from(String(message.value)));
    expect(entry).toEqual({
      kind: 'rejected',
      letter: {
        reason: 'invalid_job',
        error_code: 'FLOWHOOK_ERR_TOPIC_SCHEMA',
        error: 'bad',
        failed_at: '1970-01-01T00:00:00.000Z',
        source: { topic: 't', partition: 1, offset: '7', key: 'k' },
        raw: '//4=',
        raw_encoding: 'base64',
      },
    });
    expect(message.headers).toEqual({ 'flowhook-dlq-reason': 'invalid_job' });
  });

  it('tells dead jobs from anything else', () => {
    const letter = { job, reason: 'client_error', error_code: 'X', failed_at: 'now' };
    expect(parseDlqEntry(Buffer.from(JSON.stringify(letter)))).toEqual({ kind: 'job', letter });
    expect(parseDlqEntry(Buffer.from('garbage'))).toEqual({ kind: 'unreadable', raw: 'garbage' });
    expect(parseDlqEntry(null)).toEqual({ kind: 'unreadable', raw: '' });
  });

  it('replays a job with a fresh budget, its history and id kept', () => {
    const fresh = replayedJob(job);
    expect(fresh).toMatchObject({ id: 'job-1', attempt: 0, history: job.history });
    expect(fresh.not_before).toBeUndefined();
    expect(job.attempt).toBe(2);
  });

  it('reads --since as a time or a duration back from now', () => {
    const now = Date.parse('2025-01-02T00:00:00Z');
    expect(parseSince('2h', now)).toBe(now - 7_200_000);
    expect(parseSince('2025-01-01T00:00:00Z', now)).toBe(Date.parse('2025-01-01T00:00:00Z'));
    expect(() => parseSince('yesterday-ish', now)).toThrow(/--since/);
  });
});
