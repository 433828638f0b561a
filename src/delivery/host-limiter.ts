// Per-host concurrency limit. Each host has its own slots and its own FIFO queue of waiters,
// so a slow or failing host only ever holds up its own deliveries, never another host's.

export type Release = () => void;

export interface HostLimiterOptions {
  /** Concurrent requests per host. Default 8. */
  maxPerHost?: number;
}

interface Waiter {
  resolve: (release: Release) => void;
  reject: (error: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

interface HostSlots {
  active: number;
  queue: Waiter[];
}

export class HostLimiter {
  readonly maxPerHost: number;
  private readonly hosts = new Map<string, HostSlots>();

  constructor(options: HostLimiterOptions = {}) {
    this.maxPerHost = options.maxPerHost ?? 8;
    if (!Number.isInteger(this.maxPerHost) || this.maxPerHost < 1) {
      throw new RangeError('maxPerHost must be a positive integer');
    }
  }

  private slots(host: string): HostSlots {
    let s = this.hosts.get(host);
    if (!s) {
      s = { active: 0, queue: [] };
      this.hosts.set(host, s);
    }
    return s;
  }

  private releaser(host: string): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const s = this.hosts.get(host);
      if (!s) return;
      const next = s.queue.shift();
      if (next) {
        if (next.signal && next.onAbort) next.signal.removeEventListener('abort', next.onAbort);
        next.resolve(this.releaser(host)); // the slot passes straight to the next waiter
        return;
      }
      s.active -= 1;
      if (s.active === 0) this.hosts.delete(host);
    };
  }

  /** Takes a slot now if one is free. */
  tryAcquire(host: string): Release | undefined {
    const s = this.slots(host);
    if (s.active < this.maxPerHost) {
      s.active += 1;
      return this.releaser(host);
    }
    return undefined;
  }

  /** Waits for a slot (FIFO per host). The returned function releases it (idempotent). */
  acquire(host: string, signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const now = this.tryAcquire(host);
    if (now) return Promise.resolve(now);
    const s = this.slots(host);
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = s.queue.indexOf(waiter);
          if (i >= 0) s.queue.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      s.queue.push(waiter);
    });
  }

  /**
   * Like `acquire`, but given up with `cancel(reason)` rather than an AbortSignal (no
   * AbortController and listener per waiter: this is on the delivery hot path). `cancel`
   * removes a waiter still queued and rejects `promise` with `reason`; once the slot has been
   * handed over it does nothing (the caller then releases it itself).
   */
  wait(host: string): { promise: Promise<Release>; cancel(reason: unknown): void } {
    const now = this.tryAcquire(host);
    if (now) return { promise: Promise.resolve(now), cancel: () => undefined };
    const s = this.slots(host);
    let waiter: Waiter | undefined;
    const promise = new Promise<Release>((resolve, reject) => {
      waiter = { resolve, reject };
      s.queue.push(waiter);
    });
    const cancel = (reason: unknown): void => {
      const i = waiter === undefined ? -1 : s.queue.indexOf(waiter);
      if (i < 0) return;
      s.queue.splice(i, 1);
      (waiter as Waiter).reject(reason);
    };
    return { promise, cancel };
  }

  /** Runs `fn` holding a slot for `host`. */
  async run<T>(host: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(host, signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** In-flight requests for a host. */
  active(host: string): number {
    return this.hosts.get(host)?.active ?? 0;
  }

  /** Callers waiting for a slot on a host. */
  waiting(host: string): number {
    return this.hosts.get(host)?.queue.length ?? 0;
  }
}
