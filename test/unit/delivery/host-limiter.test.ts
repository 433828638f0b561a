import { HostLimiter } from '../../../src/delivery/host-limiter';

describe('HostLimiter', () => {
  test('defaults to 8 per host and rejects nonsense limits', () => {
    expect(new HostLimiter().maxPerHost).toBe(8);
    expect(() => new HostLimiter({ maxPerHost: 0 })).toThrow(RangeError);
  });

  test('grants up to the limit at once, then queues FIFO per host', async () => {
    const limiter = new HostLimiter({ maxPerHost: 2 });
    const r1 = await limiter.acquire('a');
    const r2 = await limiter.acquire('a');
    const order: number[] = [];
    const p3 = limiter.acquire('a').then((r) => (order.push(3), r));
    const p4 = limiter.acquire('a').then((r) => (order.push(4), r));
    expect(limiter.active('a')).toBe(2);
    expect(limiter.waiting('a')).toBe(2);
    r1();
    const r3 = await p3;
    expect(order).toEqual([3]);
    expect(limiter.waiting('a')).toBe(1);
    r2();
    const r4 = await p4;
    expect(order).toEqual([3, 4]);
    r3();
    r4();
    expect(limiter.active('a')).toBe(0);
  });

  test('a saturated host does not hold up another host', async () => {
    const limiter = new HostLimiter({ maxPerHost: 1 });
    const slowA = await limiter.acquire('slow.example');
    const queuedA = limiter.acquire('slow.example');
    const b = await limiter.acquire('fast.example');
    expect(limiter.active('fast.example')).toBe(1);
    expect(limiter.waiting('slow.example')).toBe(1);
    b();
    slowA();
    (await queuedA)();
    expect(limiter.active('slow.example')).toBe(0);
  });

  test('release is idempotent', async () => {
    const limiter = new HostLimiter({ maxPerHost: 1 });
    const r = await limiter.acquire('a');
    r();
    r();
    expect(limiter.active('a')).toBe(0);
    expect(limiter.tryAcquire('a')).toBeDefined();
    expect(limiter.tryAcquire('a')).toBeUndefined();
  });

  test('an aborted waiter leaves the queue and the slot goes to the next', async () => {
    const limiter = new HostLimiter({ maxPerHost: 1 });
    const r1 = await limiter.acquire('a');
    const controller = new AbortController();
    const aborted = limiter.acquire('a', controller.signal);
    const next = limiter.acquire('a');
    controller.abort(new Error('shutting down'));
    await expect(aborted).rejects.toThrow('shutting down');
    expect(limiter.waiting('a')).toBe(1);
    r1();
    (await next)();
    expect(limiter.active('a')).toBe(0);
  });

  test('run() releases the slot when the task throws', async () => {
    const limiter = new HostLimiter({ maxPerHost: 1 });
    await expect(limiter.run('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limiter.run('a', () => Promise.resolve(42))).resolves.toBe(42);
    expect(limiter.active('a')).toBe(0);
  });
});

describe('HostLimiter.wait', () => {
  it('hands a free slot at once and queues the rest in order', async () => {
    const limiter = new HostLimiter({ maxPerHost: 1 });
    const first = limiter.wait('a.example');
    const release = await first.promise;
    const second = limiter.wait('a.example');
    let handed = false;
    void second.promise.then(() => (handed = true));
    await Promise.resolve();
    expect(handed).toBe(false);
    release();
    (await second.promise)();
    expect(handed).toBe(true);
  });

  it('cancel rejects a queued waiter and frees its place; after hand-over it does nothing', async () => {
    const limiter = new HostLimiter({ maxPerHost: 1 });
    const release = await limiter.wait('a.example').promise;
    const queued = limiter.wait('a.example');
    const next = limiter.wait('a.example');
    queued.cancel(new Error('deadline'));
    await expect(queued.promise).rejects.toThrow('deadline');
    release();
    const got = await next.promise;
    next.cancel(new Error('too late'));
    got();
    expect(await limiter.wait('a.example').promise).toBeInstanceOf(Function);
  });
});
