import type { ActivityRecord, ReviewItem } from '../../src/activity/types';
import { ActivityQueryError } from '../../src/errors';
import { BACKENDS, openTestStore, type TestStore } from '../support/activity-stores';

// The activity store's contract, on each backend (SQLite file, real PostgreSQL): idempotent
// writes, filters, newest-first keyset pagination, retention deletes, the review queue.

const T0 = Date.parse('2026-11-30T10:00:00.000Z');

function record(i: number, over: Partial<ActivityRecord> = {}): ActivityRecord {
  return {
    id: `r-${String(i).padStart(5, '0')}`,
    // Ten records share each millisecond: pagination must break ties by id.
    time: new Date(T0 + Math.floor(i / 10)).toISOString(),
    status: 'attempted',
    flow_id: i % 2 === 0 ? 'flow-even' : 'flow-odd',
    action_id: `hook-${i % 3}`,
    profile_id: `profile-${i % 5}`,
    job_id: `job-${i}`,
    attempt: 1,
    http_status: 200,
    duration_ms: 12,
    ...over,
  };
}

describe.each(BACKENDS)('activity store on %s', (backend) => {
  let t: TestStore;
  beforeEach(async () => {
    t = await openTestStore(backend);
  });
  afterEach(async () => {
    await t.drop();
  });

  it('stores a record once however often it is written, and reads it back whole', async () => {
    const r = record(1, {
      status: 'scheduled_retry',
      email: 'a@example.com',
      event_id: 'evt-1',
      flow_version: 3,
      error: 'HTTP 503',
      response_excerpt: 'busy',
      reason: 'why',
      due_at: '2026-11-30T10:05:00.000Z',
      actor: 'ops@example.com',
    });
    expect(await t.store.write({ records: [r, r], review: [] })).toBe(1);
    expect(await t.store.write({ records: [r], review: [] })).toBe(0);
    expect(await t.store.count()).toBe(1);
    expect((await t.store.list({})).items).toEqual([r]);
  });

  it('pages newest first with an opaque cursor, ties broken by id, no record twice', async () => {
    const records = Array.from({ length: 250 }, (_, i) => record(i));
    // More than one SQLite write chunk: every record counted once.
    expect(await t.store.write({ records, review: [] })).toBe(250);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await t.store.list({
        flow_id: 'flow-even',
        limit: 40,
        ...(cursor && { cursor }),
      });
      seen.push(...page.items.map((r) => r.id));
      cursor = page.next_cursor ?? undefined;
      pages += 1;
    } while (cursor !== undefined);
    const expected = records
      .filter((r) => r.flow_id === 'flow-even')
      .map((r) => r.id)
      .reverse();
    expect(seen).toEqual(expected);
    expect(pages).toBe(Math.ceil(125 / 40));
  });

  it('filters by flow, action, profile (id or email), status, job and time', async () => {
    await t.store.write({
      records: [
        ...Array.from({ length: 30 }, (_, i) => record(i)),
        record(100, {
          profile_id: 'email:sam@example.com',
          email: 'Sam@example.com',
          status: 'delivered',
        }),
      ],
      review: [],
    });
    const ids = async (f: Parameters<typeof t.store.list>[0]) =>
      (await t.store.list(f)).items.map((r) => r.id);
    expect(await ids({ flow_id: 'flow-odd', action_id: 'hook-0' })).toEqual([
      'r-00027',
      'r-00021',
      'r-00015',
      'r-00009',
      'r-00003',
    ]);
    expect(await ids({ profile: 'profile-4', flow_id: 'flow-even' })).toEqual([
      'r-00024',
      'r-00014',
      'r-00004',
    ]);
    expect(await ids({ profile: 'sam@example.com' })).toEqual(['r-00100']);
    expect(await ids({ profile: 'Sam@example.com' })).toEqual(['r-00100']);
    expect(await ids({ status: 'delivered' })).toEqual(['r-00100']);
    expect(await ids({ job_id: 'job-7' })).toEqual(['r-00007']);
    expect(
      await ids({
        since: new Date(T0 + 1).toISOString(),
        until: new Date(T0 + 1).toISOString(),
        flow_id: 'flow-odd',
      }),
    ).toEqual(['r-00019', 'r-00017', 'r-00015', 'r-00013', 'r-00011']);
  });

  it('refuses a bad cursor, time, status or limit with a clear error', async () => {
    await expect(t.store.list({ cursor: 'not-a-cursor' })).rejects.toThrow(ActivityQueryError);
    await expect(t.store.list({ since: 'yesterday' })).rejects.toThrow(
      /since must be an ISO-8601 time/,
    );
    await expect(t.store.list({ status: 'bogus' as never })).rejects.toThrow(
      /status must be one of/,
    );
    await expect(t.store.list({ limit: 5000 })).rejects.toThrow(/limit must be/);
  });

  it('retention deletes only records older than the cut-off, in chunks', async () => {
    await t.store.write({ records: Array.from({ length: 50 }, (_, i) => record(i)), review: [] });
    // Records 0-29 are in the first three milliseconds.
    const cutoff = new Date(T0 + 3);
    expect(await t.store.prune(cutoff, 20)).toBe(20);
    expect(await t.store.prune(cutoff, 20)).toBe(10);
    expect(await t.store.prune(cutoff, 20)).toBe(0);
    const left = (await t.store.list({ limit: 1000 })).items;
    expect(left).toHaveLength(20);
    expect(left.every((r) => Date.parse(r.time) >= cutoff.getTime())).toBe(true);
  });

  it('keeps held webhooks until decided, newest first, paged', async () => {
    const item = (i: number): ReviewItem => ({
      id: `msg_${i}`,
      flow_id: i < 3 ? 'manual-flow' : 'other',
      action_id: 'hook',
      profile_id: `p-${i}`,
      event_id: `e-${i}`,
      held_at: new Date(T0 + i * 1000).toISOString(),
      job: { id: `msg_${i}`, headers: { Authorization: 'Bearer {{ secrets.TOKEN }}' } },
    });
    await t.store.write({
      records: [],
      review: [0, 1, 2, 3].map((i) => ({ kind: 'held' as const, item: item(i) })),
    });
    await t.store.write({ records: [], review: [{ kind: 'decided', id: 'msg_1' }] });
    const first = await t.store.review({ flow_id: 'manual-flow', limit: 1 });
    expect(first.items).toEqual([item(2)]);
    const second = await t.store.review({
      flow_id: 'manual-flow',
      limit: 1,
      cursor: first.next_cursor ?? '',
    });
    expect(second.items.map((i) => i.id)).toEqual(['msg_0']);
    expect(second.next_cursor).toBeNull();
    expect(await t.store.reviewItem('msg_3')).toEqual(item(3));
    expect(await t.store.reviewItem('msg_1')).toBeUndefined();
  });

  it('keeps its store id across reopening (the ingest group derives from it)', async () => {
    expect(t.store.storeId).toMatch(/^[0-9a-f-]{36}$/);
    const again = await t.reopen();
    try {
      expect(again.storeId).toBe(t.store.storeId);
    } finally {
      await again.close();
    }
  });
});
