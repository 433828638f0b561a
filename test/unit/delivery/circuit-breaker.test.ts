import { CircuitBreaker } from '../../../src/delivery/circuit-breaker';

const HOST = 'hooks.example.com';
const OTHER = 'crm.example.com';

function tripped(): CircuitBreaker {
  const b = new CircuitBreaker({
    failureThreshold: 3,
    cooldownMs: 1000,
    maxCooldownMs: 4000,
    probeTimeoutMs: 500,
  });
  b.recordFailure(HOST, 0);
  b.recordFailure(HOST, 0);
  b.recordFailure(HOST, 100);
  return b;
}

describe('CircuitBreaker', () => {
  test('defaults: 5 failures, 30 s cool-down doubling up to 10 min', () => {
    const b = new CircuitBreaker();
    expect([b.failureThreshold, b.cooldownMs, b.maxCooldownMs, b.probeTimeoutMs]).toEqual([
      5, 30_000, 600_000, 60_000,
    ]);
    for (let i = 0; i < 4; i += 1) b.recordFailure(HOST, 0);
    expect(b.state(HOST, 0)).toBe('closed');
    b.recordFailure(HOST, 0);
    expect(b.canAttempt(HOST, 29_999)).toEqual({ allowed: false, state: 'open', untilMs: 30_000 });
  });

  test('stays closed below the threshold; a success resets the count', () => {
    const b = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000 });
    b.recordFailure(HOST, 0);
    b.recordFailure(HOST, 0);
    expect(b.canAttempt(HOST, 0)).toEqual({ allowed: true, probe: false });
    b.recordSuccess(HOST);
    b.recordFailure(HOST, 0);
    b.recordFailure(HOST, 0);
    expect(b.state(HOST, 0)).toBe('closed');
    expect(b.openHosts(0)).toEqual([]);
  });

  test('opens after N consecutive failures, for the cool-down, for that host only', () => {
    const b = tripped();
    expect(b.state(HOST, 100)).toBe('open');
    expect(b.canAttempt(HOST, 1099)).toEqual({ allowed: false, state: 'open', untilMs: 1100 });
    expect(b.canAttempt(OTHER, 500)).toEqual({ allowed: true, probe: false });
    expect(b.openHosts(500)).toEqual([
      { host: HOST, state: 'open', untilMs: 1100, consecutiveFailures: 3, trips: 1 },
    ]);
  });

  test('half-open lets exactly one probe through; peek does not claim it', () => {
    const b = tripped();
    expect(b.state(HOST, 1100)).toBe('half_open');
    expect(b.peek(HOST, 1100)).toEqual({ allowed: true, probe: true });
    expect(b.canAttempt(HOST, 1100)).toEqual({ allowed: true, probe: true });
    expect(b.canAttempt(HOST, 1200)).toEqual({ allowed: false, state: 'half_open', untilMs: 1600 });
    expect(b.peek(HOST, 1200).allowed).toBe(false);
  });

  test('a successful probe closes the circuit', () => {
    const b = tripped();
    b.canAttempt(HOST, 1100);
    b.recordSuccess(HOST);
    expect(b.state(HOST, 1100)).toBe('closed');
    expect(b.canAttempt(HOST, 1100)).toEqual({ allowed: true, probe: false });
    expect(b.openHosts(1100)).toEqual([]);
  });

  test('a failed probe re-opens with a doubled cool-down, capped', () => {
    const b = tripped();
    b.canAttempt(HOST, 1100);
    b.recordFailure(HOST, 1150);
    expect(b.canAttempt(HOST, 3149)).toEqual({ allowed: false, state: 'open', untilMs: 3150 });
    b.canAttempt(HOST, 3150);
    b.recordFailure(HOST, 3150);
    expect(b.canAttempt(HOST, 3150)).toMatchObject({ untilMs: 7150 }); // 4000 (cap)
    b.canAttempt(HOST, 7150);
    b.recordFailure(HOST, 7150);
    expect(b.canAttempt(HOST, 7150)).toMatchObject({ untilMs: 11150 }); // still 4000
    expect(b.openHosts(7150)[0]).toMatchObject({ trips: 4, consecutiveFailures: 6 });
  });

  test('a probe that never reports is replaced after the probe timeout', () => {
    const b = tripped();
    expect(b.canAttempt(HOST, 1100).allowed).toBe(true);
    expect(b.canAttempt(HOST, 1599).allowed).toBe(false);
    expect(b.openHosts(1599)).toEqual([
      expect.objectContaining({ state: 'half_open', untilMs: 1600 }),
    ]);
    expect(b.canAttempt(HOST, 1600)).toEqual({ allowed: true, probe: true });
  });

  test('recordNeutral gives the probe back without changing the state', () => {
    const b = tripped();
    b.canAttempt(HOST, 1100);
    b.recordNeutral(HOST);
    expect(b.state(HOST, 1100)).toBe('half_open');
    expect(b.canAttempt(HOST, 1101)).toEqual({ allowed: true, probe: true });
  });

  test('failures reported while already open do not extend the cool-down', () => {
    const b = tripped();
    b.recordFailure(HOST, 600);
    expect(b.canAttempt(HOST, 1100)).toEqual({ allowed: true, probe: true });
  });
});
