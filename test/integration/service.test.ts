import { brokers, testKafka, uniqueName, withAdmin } from '../support/kafka';
import { childEnv, spawnCli, type CliProcess } from '../support/cli';
import { waitFor } from '../support/wait';

// `flowhook run` as a user runs it: a child process, real broker, real HTTP probes.

const running: CliProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});

function run(args: string[], env: NodeJS.ProcessEnv): CliProcess {
  const p = spawnCli(args, childEnv(env));
  running.push(p);
  return p;
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

describe('flowhook run', () => {
  it('creates its topics, serves health and metrics, turns ready, and exits 0 on SIGTERM', async () => {
    const prefix = `${uniqueName('svc')}.`;
    const p = run(['run', '--roles', 'delay'], {
      KAFKA_BROKERS: brokers().join(','),
      FLOWHOOK_TOPIC_PREFIX: prefix,
      FLOWHOOK_HTTP_PORT: '0',
      FLOWHOOK_HTTP_HOST: '127.0.0.1',
      FLOWHOOK_TOPIC_PARTITIONS: '2',
      LOG_LEVEL: 'info',
    });
    const [, metricsUrl] = await p.waitForOutput(/metrics:\s+(http:\S+)/);
    const base = metricsUrl.replace(/\/metrics$/, '');
    expect(p.output()).toContain(`Kafka brokers: ${brokers().join(',')}`);

    expect((await get(`${base}/healthz`)).status).toBe(200);
    await waitFor(async () => (await get(`${base}/readyz`)).status === 200, {
      what: '/readyz 200',
    });
    const metrics = await get(`${base}/metrics`);
    expect(metrics.text).toMatch(/^flowhook_build_info\{version="[^"]+",roles="delay"\} 1$/m);
    expect(metrics.text).toContain('process_resident_memory_bytes');
    expect((await get(`${base}/nope`)).status).toBe(404);

    const kafka = testKafka();
    const topics = await withAdmin(kafka, (a) => a.listTopics());
    for (const t of [
      'flows',
      'jobs',
      'dlq',
      'deliveries',
      'events.dlq',
      'state',
      'retry.1m',
      'delays.1h',
    ]) {
      expect(topics).toContain(prefix + t);
    }
    const configs = await withAdmin(kafka, (a) =>
      a.describeConfigs({
        includeSynonyms: false,
        resources: [
          { type: 2, name: `${prefix}flows`, configNames: ['cleanup.policy'] },
          { type: 2, name: `${prefix}state`, configNames: ['cleanup.policy'] },
          { type: 2, name: `${prefix}jobs`, configNames: ['cleanup.policy'] },
        ],
      }),
    );
    expect(configs.resources.map((r) => r.configEntries[0].configValue)).toEqual([
      'compact',
      'compact',
      'delete',
    ]);

    p.child.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(p.output()).toContain('"msg":"stopped"');
  });

  it('exits at once on a second signal', async () => {
    const p = run(['run', '--roles', 'delay'], {
      KAFKA_BROKERS: brokers().join(','),
      FLOWHOOK_TOPIC_PREFIX: `${uniqueName('svc')}.`,
      FLOWHOOK_HTTP_PORT: '0',
      LOG_LEVEL: 'info',
    });
    await p.waitForOutput(/flowhook started/);
    p.child.kill('SIGTERM');
    await p.waitForOutput(/shutting down/);
    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(130);
  });

  it('stops with one message listing every invalid setting', async () => {
    const p = run(['run'], {
      FLOWHOOK_HTTP_PORT: 'eighty',
      FLOWHOOK_ROLES: 'mailer',
      KAFKA_BROKERS: '127.0.0.1:1',
    });
    expect((await p.exited).code).toBe(1);
    expect(p.output()).toContain('invalid configuration (2 problems)');
    expect(p.output()).toContain('FLOWHOOK_HTTP_PORT="eighty"');
    expect(p.output()).toContain('FLOWHOOK_ROLES="mailer"');
  });

  it('reports an unreachable cluster clearly after its retries', async () => {
    const p = run(['run', '--roles', 'delay'], {
      KAFKA_BROKERS: '127.0.0.1:1',
      KAFKA_CONNECT_RETRIES: '1',
      FLOWHOOK_HTTP_PORT: '0',
    });
    expect((await p.exited).code).toBe(1);
    expect(p.output()).toMatch(
      /cannot reach Kafka at 127\.0\.0\.1:1.*FLOWHOOK_ERR_KAFKA_UNAVAILABLE/s,
    );
  });

  it('starts a local broker when KAFKA_BROKERS is unset, and stops it on exit', async () => {
    const p = run(['run', '--roles', 'delay'], {
      FLOWHOOK_HTTP_PORT: '0',
      FLOWHOOK_NO_CONTAINERS: '1',
    });
    const [, broker] = await p.waitForOutput(
      /Kafka brokers: (127\.0\.0\.1:\d+) \(local broker/,
      120_000,
    );
    const [, pid] = /pid (\d+)/.exec(p.output()) ?? [];
    expect(broker).not.toBe(brokers()[0]);
    const [, metricsUrl] = await p.waitForOutput(/metrics:\s+(http:\S+)/);
    await waitFor(
      async () => (await get(metricsUrl.replace('/metrics', '/readyz'))).status === 200,
      { what: 'ready' },
    );
    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
    expect(() => process.kill(Number(pid), 0)).toThrow();
  });
});
