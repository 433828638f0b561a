import {
  activityFromMessage,
  fromDelivery,
  RESPONSE_EXCERPT_CHARS,
} from '../../../src/activity/records';
import type { DeliveryRecord } from '../../../src/documents';

const buf = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const job = {
  id: 'msg_1',
  flow_id: 'f',
  flow_version: 2,
  action_id: 'a',
  event_id: 'e',
  profile_id: 'p',
  url: 'https://x.example.com',
  headers: {},
  body: '{}',
  attempt: 0,
};
const delivery = (over: Partial<DeliveryRecord>): DeliveryRecord => ({
  job_id: 'msg_1',
  flow_id: 'f',
  action_id: 'a',
  profile_id: 'p',
  event_id: 'e',
  attempt: 1,
  duration_ms: 12,
  outcome: 'delivered',
  time: '2024-05-01T13:00:00.000Z',
  ...over,
});

describe('activity records from the topics flowhook writes', () => {
  it('a new job is an entered webhook action; a retried one tells nothing', () => {
    const [entered] =
      activityFromMessage('jobs', buf(job), String(Date.parse('2024-05-01T12:00:00Z'))) ?? [];
    expect(entered).toMatchObject({
      status: 'entered',
      job_id: 'msg_1',
      action_id: 'a',
      time: '2024-05-01T12:00:00.000Z',
    });
    expect(activityFromMessage('jobs', buf({ ...job, attempt: 1 }), '0')).toEqual([]);
  });

  it('an attempt and its outcome, the retry with its next attempt time, in lifecycle order', () => {
    const records = fromDelivery(
      delivery({
        outcome: 'retrying',
        status_code: 503,
        response_body: 'x'.repeat(2000),
        next_attempt_at: '2024-05-01T13:00:10.000Z',
      }),
    );
    expect(records.map((r) => r.status)).toEqual(['attempted', 'scheduled_retry']);
    expect(records[0]).toMatchObject({
      http_status: 503,
      duration_ms: 12,
      attempt: 1,
      profile_id: 'p',
    });
    expect(records[0]?.response_excerpt).toHaveLength(RESPONSE_EXCERPT_CHARS + 1);
    expect(records[1]?.due_at).toBe('2024-05-01T13:00:10.000Z');
    expect(records[0]!.id < records[1]!.id).toBe(true);
    expect(
      fromDelivery(delivery({ outcome: 'failed', error: 'boom' })).map((r) => [r.status, r.error]),
    ).toEqual([
      ['attempted', 'boom'],
      ['failed', 'boom'],
    ]);
  });

  it('a dead letter is dead_lettered with its reason; a rejected message is nothing', () => {
    const letter = {
      job: { ...job, attempt: 5, last_error: 'HTTP 500' },
      reason: 'retries_exhausted',
      error_code: 'X',
      failed_at: '2024-05-01T14:00:00.000Z',
    };
    expect(activityFromMessage('dlq', buf(letter), '0')).toEqual([
      expect.objectContaining({
        status: 'dead_lettered',
        reason: 'retries_exhausted',
        attempt: 5,
        error: 'HTTP 500',
      }),
    ]);
    expect(activityFromMessage('dlq', buf({ reason: 'schema_invalid', source: {} }), '0')).toEqual(
      [],
    );
  });

  it('unreadable values are undefined, never thrown', () => {
    expect(activityFromMessage('deliveries', Buffer.from('{nope'), '0')).toBeUndefined();
    expect(
      activityFromMessage(
        'activity',
        buf({ id: 'x', flow_id: 'f', status: 'bogus', time: 'now' }),
        '0',
      ),
    ).toBeUndefined();
    expect(activityFromMessage('jobs', buf([1]), '0')).toBeUndefined();
  });
});
