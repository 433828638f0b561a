import { Outbox } from '../../../src/kafka/batch-consumer';

describe('Outbox', () => {
  it('splits into produce requests under the byte limit, keeping every message once and in order', () => {
    const outbox = new Outbox();
    for (let i = 0; i < 50; i++) outbox.send('jobs', { key: `k${i}`, value: 'x'.repeat(1000) });
    outbox.send('state', { key: 's', value: 'y' });
    const requests = [...outbox.requests(10_000)];
    expect(requests.length).toBeGreaterThan(4);
    for (const r of requests) {
      const bytes = r.flatMap((t) => t.messages).reduce((n, m) => n + String(m.value).length, 0);
      expect(bytes).toBeLessThanOrEqual(10_000);
    }
    const jobs = requests.flatMap((r) =>
      r.filter((t) => t.topic === 'jobs').flatMap((t) => t.messages),
    );
    expect(jobs.map((m) => m.key)).toEqual(Array.from({ length: 50 }, (_, i) => `k${i}`));
    expect(requests.flatMap((r) => r.filter((t) => t.topic === 'state'))).toHaveLength(1);
    expect(outbox.size).toBe(51);
  });

  it('sends a message larger than the limit alone, and nothing for an empty outbox', () => {
    const outbox = new Outbox();
    outbox.send('jobs', { value: 'a' });
    outbox.send('jobs', { value: 'b'.repeat(5000) });
    expect([...outbox.requests(1000)].map((r) => r[0].messages.length)).toEqual([1, 1]);
    expect([...new Outbox().requests()]).toEqual([]);
  });
});
