import type { DeadLetter, DeliveryRecord, WebhookJob } from '../../src/documents';
import { dlqCommand, dlqList, dlqReplay } from '../../src/cli/dlq';
import type { RejectedMessage } from '../../src/dead-letter/jobs';
import { verifySignature } from '../../src/delivery/signing';
import {
  makeJob,
  produce,
  produceJobs,
  readJson,
  SIGNING_SECRET,
  startFlowhook,
  type Harness,
} from '../support/flowhook-harness';
import { freePort, startReceiver, type Receiver } from '../support/receiver';
import { waitFor } from '../support/wait';

// The delivery and delay roles in-process against the real broker and real HTTP receivers on
// loopback (allow-listed for these tests). Retries are 200 ms apart, so every retry also goes
// through a retry tier and the delay role.

const open: { stop?: () => Promise<void>; close?: () => Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await (o.stop ?? o.close)?.call(o);
});

async function flowhook(settings: Record<string, string> = {}): Promise<Harness> {
  const h = await startFlowhook({ name: 'dlv', settings });
  open.push(h);
  return h;
}

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  open.push(r);
  return r;
}

function records(h: Harness, until: (r: DeliveryRecord[]) => boolean, timeoutMs = 30_000) {
  return readJson<DeliveryRecord>(
    h.kafka,
    h.topics.deliveries,
    (all) => until(all.map((r) => r.value)),
    timeoutMs,
  ).then((all) => all.map((r) => r.value));
}

function dlq<T = DeadLetter>(h: Harness, n: number, timeoutMs = 30_000) {
  return readJson<T>(h.kafka, h.topics.dlq, (all) => all.length >= n, timeoutMs);
}

describe('delivery role', () => {
  // Requests go out from a sender thread by default; 0 threads sends from the main thread.
  it.each(['1', '0'])(
    'delivers a job: signed POST, record on flowhook.deliveries (FLOWHOOK_DELIVERY_THREADS=%s)',
    async (threads) => {
      const r = await receiver([{ status: 204 }]);
      const h = await flowhook({ FLOWHOOK_DELIVERY_THREADS: threads });
      const job = makeJob(r.url('/orders'));
      await produceJobs(h.kafka, h.topics.jobs, [job]);

      const [request] = await r.waitForRequests(1);
      expect(request.method).toBe('POST');
      expect(request.path).toBe('/orders');
      expect(request.body).toBe(job.body);
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['x-test']).toBe('yes');
      expect(request.headers['webhook-id']).toBe(job.id);
      expect(
        verifySignature({
          headers: request.headers,
          body: request.body,
          secrets: [SIGNING_SECRET],
        }),
      ).toEqual({ ok: true });

      const [record] = await records(h, (all) => all.length >= 1);
      expect(record).toMatchObject({
        job_id: job.id,
        flow_id: 'flow-1',
        attempt: 1,
        outcome: 'delivered',
        status_code: 204,
      });
      await expect(h.metrics.webhookDelivered.get()).resolves.toMatchObject({
        values: [{ labels: { flow_id: 'flow-1' }, value: 1 }],
      });
    },
  );

  it('retries 500, 500, 500 and delivers on the 4th attempt with one webhook-id', async () => {
    const r = await receiver([{ status: 500 }, { status: 500 }, { status: 503 }, { status: 200 }]);
    const h = await flowhook();
    const job = makeJob(r.url());
    await produceJobs(h.kafka, h.topics.jobs, [job]);

    const requests = await r.waitForRequests(4);
    expect(new Set(requests.map((q) => q.headers['webhook-id']))).toEqual(new Set([job.id]));
    for (const q of requests) {
      expect(
        verifySignature({ headers: q.headers, body: q.body, secrets: [SIGNING_SECRET] }),
      ).toEqual({ ok: true });
    }
    // Never early: each retry waits at least the (jittered) 200 ms schedule.
    for (let i = 1; i < requests.length; i++) {
      expect(requests[i]!.at - requests[i - 1]!.at).toBeGreaterThanOrEqual(150);
    }
    const all = await records(h, (rs) => rs.some((x) => x.outcome === 'delivered'));
    expect(all.map((x) => [x.attempt, x.outcome, x.status_code])).toEqual([
      [1, 'retrying', 500],
      [2, 'retrying', 500],
      [3, 'retrying', 503],
      [4, 'delivered', 200],
    ]);
    expect(r.requests).toHaveLength(4);
  });

  it('honours Retry-After on a 429 (clamped to twice the scheduled delay)', async () => {
    const r = await receiver([{ status: 429, headers: { 'retry-after': '1' } }, { status: 200 }]);
    const h = await flowhook({ FLOWHOOK_RETRY_SCHEDULE: '500ms,500ms' });
    const job = makeJob(r.url());
    await produceJobs(h.kafka, h.topics.jobs, [job]);

    const [first, second] = await r.waitForRequests(2);
    // Scheduled 400–600 ms; Retry-After 1 s is honoured within [scheduled, 2 × scheduled].
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(750);
    const parked = await readJson<WebhookJob>(
      h.kafka,
      h.topics.retry('1s'),
      (all) => all.length >= 1,
    );
    const retry = parked[0]!.value;
    expect(retry.attempt).toBe(1);
    const waited = Date.parse(retry.not_before!) - Date.parse(retry.history![0]!.at);
    expect(waited).toBeGreaterThanOrEqual(750);
    expect(waited).toBeLessThanOrEqual(1300);
    expect(parked[0]!.headers['flowhook-target']).toBe(h.topics.jobs);
    const all = await records(h, (rs) => rs.some((x) => x.outcome === 'delivered'));
    expect(all.map((x) => [x.outcome, x.status_code])).toEqual([
      ['retrying', 429],
      ['delivered', 200],
    ]);
  });

  it('sends a 400 to the DLQ after one attempt, with its history', async () => {
    const r = await receiver([{ status: 400, body: '{"error":"bad field"}' }]);
    const h = await flowhook();
    const job = makeJob(r.url());
    await produceJobs(h.kafka, h.topics.jobs, [job]);

    const [entry] = await dlq(h, 1);
    expect(entry!.key).toBe(job.id);
    expect(entry!.headers['flowhook-dlq-reason']).toBe('client_error');
    const letter = entry!.value;
    expect(letter.reason).toBe('client_error');
    expect(letter.error_code).toBe('FLOWHOOK_ERR_DELIVERY_REJECTED');
    expect(letter.job.id).toBe(job.id);
    expect(letter.job.attempt).toBe(1);
    expect(letter.job.history).toEqual([
      expect.objectContaining({ attempt: 1, outcome: 'failed', status_code: 400 }),
    ]);
    const [record] = await records(h, (rs) => rs.length >= 1);
    expect(record).toMatchObject({ outcome: 'failed', status_code: 400 });
    expect(record!.response_body).toBe('{"error":"bad field"}');
    expect(r.requests).toHaveLength(1);
    await expect(h.metrics.webhookDlq.get()).resolves.toMatchObject({
      values: [{ labels: { reason: 'client_error' }, value: 1 }],
    });
  });

  it('retries while the receiver is down and delivers once it is up', async () => {
    const port = await freePort();
    const h = await flowhook({ FLOWHOOK_RETRY_SCHEDULE: Array(20).fill('300ms').join(',') });
    const job = makeJob(`http://127.0.0.1:${port}/hook`);
    await produceJobs(h.kafka, h.topics.jobs, [job]);

    const failures = await records(h, (rs) => rs.length >= 2);
    expect(failures.slice(0, 2).map((x) => [x.outcome, x.error_class])).toEqual([
      ['retrying', 'ECONNREFUSED'],
      ['retrying', 'ECONNREFUSED'],
    ]);
    const r = await receiver([{ status: 200 }], { port });
    const [request] = await r.waitForRequests(1);
    expect(request!.headers['webhook-id']).toBe(job.id);
    const all = await records(h, (rs) => rs.some((x) => x.outcome === 'delivered'));
    expect(all.at(-1)).toMatchObject({ outcome: 'delivered', attempt: all.length });
  });

  it('treats a slow receiver as a timeout and retries', async () => {
    const r = await receiver([{ status: 200, delayMs: 3000 }, { status: 200 }]);
    const h = await flowhook({ FLOWHOOK_HTTP_TIMEOUT: '700ms' });
    const job = makeJob(r.url());
    await produceJobs(h.kafka, h.topics.jobs, [job]);

    const all = await records(h, (rs) => rs.some((x) => x.outcome === 'delivered'));
    expect(all.map((x) => [x.attempt, x.outcome])).toEqual([
      [1, 'retrying'],
      [2, 'delivered'],
    ]);
    expect(all[0]!.error_class).toBe('ETIMEDOUT');
    expect(all[0]!.duration_ms).toBeGreaterThanOrEqual(650);
    expect(all[0]!.duration_ms).toBeLessThan(2000);
    expect(r.requests.map((q) => q.headers['webhook-id'])).toEqual([job.id, job.id]);
  });

  it('does not follow a redirect: 3xx is a failure', async () => {
    const target = await receiver([{ status: 200 }]);
    const r = await receiver([{ status: 302, headers: { location: target.url('/elsewhere') } }]);
    const h = await flowhook();
    await produceJobs(h.kafka, h.topics.jobs, [makeJob(r.url())]);

    const [entry] = await dlq(h, 1);
    expect(entry!.value.reason).toBe('redirect');
    expect(r.requests).toHaveLength(1);
    expect(target.requests).toHaveLength(0);
    expect(target.connections).toBe(0);
  });

  it('a hanging host does not delay another host, even behind it in the same partition', async () => {
    const hanging = await receiver([{ hang: true }], { host: '127.0.0.1' });
    const healthy = await receiver([{ status: 200 }], { host: '127.0.0.2' });
    const h = await flowhook({ FLOWHOOK_HTTP_TIMEOUT: '8s' });
    // Same key (profile) = same partition: the healthy host's jobs sit behind the hanging ones.
    const slow = Array.from({ length: 4 }, () => makeJob(hanging.url()));
    await produceJobs(h.kafka, h.topics.jobs, slow);
    await hanging.waitForRequests(4);

    const fast = Array.from({ length: 4 }, () => makeJob(healthy.url()));
    const producedAt = Date.now();
    await produceJobs(h.kafka, h.topics.jobs, fast);
    const got = await healthy.waitForRequests(4, { timeoutMs: 6000 });
    expect(new Set(got.map((q) => q.headers['webhook-id']))).toEqual(
      new Set(fast.map((j) => j.id)),
    );
    // Well before the hanging requests time out (8 s): the batch behind them is fetched while
    // they hang.
    expect(Math.max(...got.map((q) => q.at)) - producedAt).toBeLessThan(3000);
    expect(hanging.requests).toHaveLength(4);
    const delivered = await records(
      h,
      (rs) => rs.filter((x) => x.outcome === 'delivered').length >= 4,
    );
    expect(
      delivered
        .filter((x) => x.outcome === 'delivered')
        .map((x) => x.job_id)
        .sort(),
    ).toEqual(fast.map((j) => j.id).sort());
    // The hanging attempts are detached (lease copies parked on a retry tier) after the detach
    // bound, so the partition's offsets move past them too.
    await waitFor(
      async () => ((await h.metrics.webhookDetached.get()).values[0]?.value ?? 0) >= 4,
      { what: 'the four hanging attempts detached' },
    );
    // Ends the hanging attempts now rather than at their timeout (stop() waits for them).
    await hanging.close();
  });

  it("keeps a person's webhooks to one host in order across batches; others do not wait", async () => {
    // The first request is answered after 1.5 s (past the 1 s detach bound, within the HTTP
    // timeout); every other one at once.
    const r = await receiver((q) => (q.n === 1 ? { status: 200, delayMs: 1500 } : { status: 200 }));
    const h = await flowhook();
    const first = makeJob(r.url('/contacts'), { profile_id: 'profile-p' });
    await produceJobs(h.kafka, h.topics.jobs, [first]);
    const [a] = await r.waitForRequests(1);
    // Produced while the first is in flight: a later batch.
    const sameProfile = makeJob(r.url('/tags'), { profile_id: 'profile-p' });
    const otherProfile = makeJob(r.url('/tags'), { profile_id: 'profile-q' });
    await produceJobs(h.kafka, h.topics.jobs, [sameProfile, otherProfile]);
    const got = await r.waitForRequests(3, { timeoutMs: 20_000 });
    const at = (job: WebhookJob) =>
      (got.find((q) => q.headers['webhook-id'] === job.id) as { at: number }).at;
    // The same person's next webhook waits for the first one's answer; another person's does not.
    expect(at(sameProfile) - (a as { at: number }).at).toBeGreaterThanOrEqual(1500);
    expect(at(otherProfile)).toBeLessThan(at(sameProfile));
  });

  it('parks the jobs of a host whose circuit is open: neither failed nor dropped', async () => {
    let answered = 0;
    const r = await receiver(() => (++answered <= 3 ? { status: 500 } : { status: 200 }));
    const h = await flowhook({
      FLOWHOOK_CIRCUIT_FAILURES: '2',
      FLOWHOOK_CIRCUIT_COOLDOWN: '1s',
      FLOWHOOK_HOST_CONCURRENCY: '1',
      FLOWHOOK_RETRY_SCHEDULE: Array(10).fill('200ms').join(','),
    });
    const jobs = Array.from({ length: 4 }, () => makeJob(r.url()));
    await produceJobs(h.kafka, h.topics.jobs, jobs);

    const all = await records(
      h,
      (rs) => new Set(rs.filter((x) => x.outcome === 'delivered').map((x) => x.job_id)).size === 4,
      40_000,
    );
    expect(all.filter((x) => x.outcome === 'failed')).toEqual([]);
    const deferred = await h.metrics.webhookDeferred.get();
    expect(
      deferred.values.find((v) => v.labels.cause === 'circuit_open')?.value,
    ).toBeGreaterThanOrEqual(1);
    // The circuit opened after two failures: fewer attempts than without it.
    expect(r.requests.length).toBeLessThanOrEqual(3 + 4);
  });

  it('refuses private destinations end to end: DLQ, no connection made', async () => {
    const r = await receiver([{ status: 200 }], { host: '127.0.0.1' });
    // No allowlist here: loopback is refused like any other private address.
    const h = await flowhook({ FLOWHOOK_DESTINATION_ALLOWLIST: '' });
    const urls = [
      'http://169.254.169.254/latest/meta-data/',
      `http://10.0.0.1:${r.port}/hook`,
      `http://[::1]:${r.port}/hook`,
      `http://0x7f.1:${r.port}/hook`,
      `http://2130706433:${r.port}/hook`,
      `http://localhost:${r.port}/hook`,
      `http://[::ffff:127.0.0.1]:${r.port}/hook`,
    ];
    const jobs = urls.map((url) => makeJob(url));
    await produceJobs(h.kafka, h.topics.jobs, jobs);

    const entries = await dlq(h, urls.length);
    expect(entries.map((e) => e.value.reason)).toEqual(urls.map(() => 'destination_refused'));
    expect(entries.map((e) => e.value.error_code)).toEqual(
      urls.map(() => 'FLOWHOOK_ERR_DESTINATION_REFUSED'),
    );
    expect(entries.map((e) => e.value.job.id).sort()).toEqual(jobs.map((j) => j.id).sort());
    expect(r.connections).toBe(0);
    const all = await records(h, (rs) => rs.length >= urls.length);
    expect(new Set(all.map((x) => x.error_class))).toEqual(
      new Set(['FLOWHOOK_ERR_DESTINATION_REFUSED']),
    );
  });

  it('sends undecodable and schema-invalid jobs to the DLQ with the raw value, and goes on', async () => {
    const r = await receiver([{ status: 200 }]);
    const h = await flowhook();
    const good = makeJob(r.url());
    await produce(h.kafka, h.topics.jobs, [
      { key: 'k1', value: 'this is not json' },
      { key: 'k1', value: JSON.stringify({ id: 'half-a-job', url: r.url() }) },
      { key: 'k1', value: JSON.stringify(good) },
    ]);

    await r.waitForRequests(1);
    const entries = await dlq<RejectedMessage>(h, 2);
    expect(entries.map((e) => e.value.reason)).toEqual(['invalid_job', 'invalid_job']);
    expect(entries[0]!.value.raw).toBe('this is not json');
    expect(entries[0]!.value.error).toMatch(/^malformed_json/);
    expect(entries[1]!.value.raw).toContain('half-a-job');
    expect(entries[1]!.value.error).toContain('$.flow_id: is required');
    expect(entries[1]!.value.source).toMatchObject({ topic: h.topics.jobs, key: 'k1' });
    expect(entries.map((e) => e.key)).toEqual(['k1', 'k1']);
  });

  it('does not attempt a job before its not_before', async () => {
    const r = await receiver([{ status: 200 }]);
    const h = await flowhook();
    const due = Date.now() + 2500;
    const job = makeJob(r.url(), { not_before: new Date(due).toISOString() });
    await produceJobs(h.kafka, h.topics.jobs, [job]);

    const [request] = await r.waitForRequests(1);
    expect(request!.at).toBeGreaterThanOrEqual(due);
    const [record] = await records(h, (rs) => rs.length >= 1);
    expect(record).toMatchObject({ attempt: 1, outcome: 'delivered' });
  });

  it('replays DLQ entries with a fresh attempt budget and the same webhook-id', async () => {
    const r = await receiver([{ status: 500 }]);
    const h = await flowhook({ FLOWHOOK_RETRY_SCHEDULE: '100ms' });
    const other = makeJob(r.url(), { flow_id: 'flow-2' });
    const job = makeJob(r.url());
    await produceJobs(h.kafka, h.topics.jobs, [job, other]);
    await dlq(h, 2);

    const ctx = { kafka: h.kafka, topics: h.topics };
    const listed = await dlqList(ctx, { flow: 'flow-1' });
    expect(listed).toEqual([
      expect.objectContaining({
        job_id: job.id,
        flow_id: 'flow-1',
        reason: 'retries_exhausted',
        attempts: 2,
      }),
    ]);

    r.setScript([{ status: 200 }]);
    const result = await dlqReplay(ctx, { flow: 'flow-1', sinceMs: Date.now() - 60_000 });
    expect(result).toMatchObject({ replayed: 1, jobIds: [job.id] });
    const replayed = await r.waitForRequests(1, {
      filter: (q) => q.headers['webhook-id'] === job.id && q.n > 4,
    });
    expect(replayed).toHaveLength(1);
    const all = await records(h, (rs) => rs.some((x) => x.outcome === 'delivered'));
    expect(all.filter((x) => x.job_id === job.id).map((x) => [x.attempt, x.outcome])).toEqual([
      [1, 'retrying'],
      [2, 'failed'],
      [1, 'delivered'],
    ]);
    expect(r.requests.filter((q) => q.headers['webhook-id'] === other.id)).toHaveLength(2);

    // The command itself, reading the same DLQ through cliKafka().
    const out: string[] = [];
    const saved = { ...process.env };
    Object.assign(process.env, { FLOWHOOK_TOPIC_PREFIX: h.prefix, LOG_LEVEL: 'silent' });
    try {
      const io = { out: (l: string) => out.push(l), err: () => undefined };
      expect(await dlqCommand(['list', '--json', '--flow', 'flow-2'], io)).toBe(0);
      expect(JSON.parse(out.join('\n'))).toEqual([
        expect.objectContaining({ job_id: other.id, reason: 'retries_exhausted' }),
      ]);
      out.length = 0;
      expect(await dlqCommand(['list'], io)).toBe(0);
      expect(out[0]).toMatch(/^JOB ID\s+FLOW\s+REASON\s+ATTEMPTS\s+FAILED AT$/);
      expect(out).toHaveLength(3);
    } finally {
      process.env = saved;
    }
  });
});
