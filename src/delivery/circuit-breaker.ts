// Per-host circuit breaker. After `failureThreshold` consecutive retriable failures (5xx, 429,
// timeouts, connection errors) a host is *open* for a cool-down; jobs for it are neither
// attempted nor failed but parked until the cool-down ends (the `wait` decision). After the
// cool-down the host is *half-open*: exactly one probe attempt is let through; success closes
// the circuit, failure re-opens it with a cool-down twice as long (up to `maxCooldownMs`).
// A probe that never reports (worker crash, lost promise) is forgotten after `probeTimeoutMs`.
// Time is always passed in, so the state machine is deterministic.

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 5. */
  failureThreshold?: number;
  /** First cool-down. Default 30 s. */
  cooldownMs?: number;
  /** Cool-downs double on each failed probe up to this. Default 10 min. */
  maxCooldownMs?: number;
  /** How long a half-open probe may stay unanswered before another is allowed. Default 60 s. */
  probeTimeoutMs?: number;
}

export type CircuitCheck =
  | { allowed: true; probe: boolean }
  | { allowed: false; state: 'open' | 'half_open'; untilMs: number };

export interface OpenHost {
  host: string;
  state: 'open' | 'half_open';
  /** When the current cool-down ends (or the in-flight probe times out). */
  untilMs: number;
  consecutiveFailures: number;
  /** Times the circuit opened since it was last closed. */
  trips: number;
}

interface HostState {
  failures: number;
  trips: number;
  openUntil?: number;
  probeStartedAt?: number;
}

export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly cooldownMs: number;
  readonly maxCooldownMs: number;
  readonly probeTimeoutMs: number;
  private readonly hosts = new Map<string, HostState>();

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.maxCooldownMs = Math.max(options.maxCooldownMs ?? 600_000, this.cooldownMs);
    this.probeTimeoutMs = options.probeTimeoutMs ?? 60_000;
    if (this.failureThreshold < 1) throw new RangeError('failureThreshold must be at least 1');
  }

  private cooldownFor(trips: number): number {
    return Math.min(this.cooldownMs * 2 ** Math.max(0, trips - 1), this.maxCooldownMs);
  }

  /** The state without side effects. */
  state(host: string, now: number): CircuitState {
    const s = this.hosts.get(host);
    if (!s || s.openUntil === undefined) return 'closed';
    return now < s.openUntil ? 'open' : 'half_open';
  }

  /** Whether an attempt may go out now, without claiming the half-open probe. */
  peek(host: string, now: number): CircuitCheck {
    return this.check(host, now, false);
  }

  /**
   * Whether an attempt may go out now. In the half-open state the first caller gets the probe
   * (`probe: true`) and later callers are told to wait until it reports or times out. Every
   * allowed attempt must be followed by recordSuccess, recordFailure or recordNeutral.
   */
  canAttempt(host: string, now: number): CircuitCheck {
    return this.check(host, now, true);
  }

  private check(host: string, now: number, claim: boolean): CircuitCheck {
    const s = this.hosts.get(host);
    if (!s || s.openUntil === undefined) return { allowed: true, probe: false };
    if (now < s.openUntil) return { allowed: false, state: 'open', untilMs: s.openUntil };
    if (s.probeStartedAt !== undefined && now < s.probeStartedAt + this.probeTimeoutMs) {
      return {
        allowed: false,
        state: 'half_open',
        untilMs: s.probeStartedAt + this.probeTimeoutMs,
      };
    }
    if (claim) s.probeStartedAt = now;
    return { allowed: true, probe: true };
  }

  /** The host answered in a way that shows it is up (2xx, or a permanent 4xx). */
  recordSuccess(host: string): void {
    this.hosts.delete(host);
  }

  /** A retriable failure (5xx, 429, 408, timeout, connection error). */
  recordFailure(host: string, now: number): void {
    const s = this.hosts.get(host) ?? { failures: 0, trips: 0 };
    s.failures += 1;
    const halfOpen = s.openUntil !== undefined && now >= s.openUntil;
    if (halfOpen || (s.openUntil === undefined && s.failures >= this.failureThreshold)) {
      s.trips += 1;
      s.openUntil = now + this.cooldownFor(s.trips);
      s.probeStartedAt = undefined;
    }
    this.hosts.set(host, s);
  }

  /** An allowed attempt that said nothing about the host (e.g. refused before connecting). */
  recordNeutral(host: string): void {
    const s = this.hosts.get(host);
    if (s) s.probeStartedAt = undefined;
  }

  /** Hosts whose circuit is not closed, for metrics and logs. */
  openHosts(now: number): OpenHost[] {
    const out: OpenHost[] = [];
    for (const [host, s] of this.hosts) {
      if (s.openUntil === undefined) continue;
      const open = now < s.openUntil;
      out.push({
        host,
        state: open ? 'open' : 'half_open',
        untilMs:
          open || s.probeStartedAt === undefined
            ? s.openUntil
            : s.probeStartedAt + this.probeTimeoutMs,
        consecutiveFailures: s.failures,
        trips: s.trips,
      });
    }
    return out;
  }
}
