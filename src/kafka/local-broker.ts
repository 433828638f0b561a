import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Kafka, logLevel } from './kafkajs';
import { LocalBrokerError } from '../errors';

// One launcher for jest's global setup and for `flowhook run` without KAFKA_BROKERS:
//   1. KAFKA_BROKERS set          → that cluster, nothing is started;
//   2. a container runtime answers → @testcontainers/kafka;
//   3. Java and Maven present      → Apache Kafka's jars from Maven Central, KRaft, loopback.

/** Keep in step with kafka/pom.xml. */
export const KAFKA_VERSION = '4.1.1';
/** kafka/ (pom.xml, log4j2.yaml), found from src/ under ts and from dist/src/ once built. */
const KAFKA_DIR = findUp(__dirname, join('kafka', 'pom.xml'));

function findUp(from: string, relative: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, relative))) return dirname(join(dir, relative));
    if (dirname(dir) === dir) return join(from, 'kafka');
  }
}

export interface KafkaCluster {
  kind: 'external' | 'testcontainers' | 'local';
  brokers: string[];
  /** Data directory and log file of a local broker. */
  logFile?: string;
  pid?: number;
  stop(): Promise<void>;
}

export interface StartKafkaOptions {
  env?: NodeJS.ProcessEnv;
  /** Progress lines for a human ("fetching Kafka jars…"). */
  log?: (line: string) => void;
  /** Where jars are cached between runs (default ~/.cache/flowhook or FLOWHOOK_CACHE_DIR). */
  cacheDir?: string;
  heapMb?: number;
  readyTimeoutMs?: number;
  /**
   * Keep the broker's data here (formatted on first use) and listen on these ports, so a
   * stopped or killed broker can be started again on the same data (fault tests). stop() then
   * leaves the directory in place.
   */
  persistent?: { dataDir: string; port: number; controllerPort: number };
}

export async function startKafka(options: StartKafkaOptions = {}): Promise<KafkaCluster> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => undefined);
  const configured = (env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (configured.length > 0) {
    return { kind: 'external', brokers: configured, stop: async () => undefined };
  }
  const container = await tryTestcontainers(env, log);
  if (container) return container;
  return startLocalBroker(options, env, log);
}

// ---- testcontainers -----------------------------------------------------------------------

function containerRuntimeLikely(env: NodeJS.ProcessEnv): boolean {
  return (
    Boolean(env.DOCKER_HOST) ||
    existsSync('/var/run/docker.sock') ||
    existsSync(join(homedir(), '.testcontainers.properties')) ||
    existsSync(join(homedir(), '.docker', 'run', 'docker.sock'))
  );
}

interface KafkaContainerModule {
  KafkaContainer: new (image: string) => {
    withKraft(): { start(): Promise<StartedContainer> };
  };
}
interface StartedContainer {
  getHost(): string;
  getMappedPort(port: number): number;
  stop(): Promise<unknown>;
}

async function tryTestcontainers(
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<KafkaCluster | undefined> {
  if (env.FLOWHOOK_NO_CONTAINERS === '1' || !containerRuntimeLikely(env)) return undefined;
  let mod: KafkaContainerModule;
  try {
    // A devDependency: absent in the production image, where KAFKA_BROKERS is always set.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional, loaded on demand
    mod = require('@testcontainers/kafka') as KafkaContainerModule;
  } catch {
    return undefined;
  }
  try {
    const image = env.FLOWHOOK_KAFKA_IMAGE ?? 'confluentinc/cp-kafka:7.9.1';
    log(`starting Kafka in a container (${image})…`);
    const started = await new mod.KafkaContainer(image).withKraft().start();
    const brokers = [`${started.getHost()}:${started.getMappedPort(9093)}`];
    return { kind: 'testcontainers', brokers, stop: async () => void (await started.stop()) };
  } catch (err) {
    log(`container runtime did not start Kafka (${(err as Error).message}); using local jars`);
    return undefined;
  }
}

// ---- local broker from Maven Central ------------------------------------------------------

function commandWorks(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.status === 0;
}

function cacheRoot(options: StartKafkaOptions, env: NodeJS.ProcessEnv): string {
  return options.cacheDir ?? env.FLOWHOOK_CACHE_DIR ?? join(homedir(), '.cache', 'flowhook');
}

/** Copies Kafka's runtime jars into the cache once; later runs reuse them. */
export function ensureKafkaJars(
  options: StartKafkaOptions = {},
  env = process.env,
  log = (_: string) => undefined as void,
): string {
  const libs = join(cacheRoot(options, env), `kafka-${KAFKA_VERSION}`, 'libs');
  const marker = join(libs, '.complete');
  if (existsSync(marker)) return libs;
  if (!commandWorks('mvn', ['-v'])) {
    throw new LocalBrokerError(
      'No Kafka cluster is configured (KAFKA_BROKERS), no container runtime answers, and Maven is ' +
        'not installed to fetch Apache Kafka. Install a JDK 17+ and Maven ' +
        '(Debian: apt-get install -y openjdk-17-jre-headless maven), start Docker, or set KAFKA_BROKERS.',
    );
  }
  log(`fetching Apache Kafka ${KAFKA_VERSION} jars with Maven into ${libs}…`);
  mkdirSync(libs, { recursive: true });
  const r = spawnSync(
    'mvn',
    [
      '-q',
      '-B',
      '-f',
      join(KAFKA_DIR, 'pom.xml'),
      'dependency:copy-dependencies',
      `-DoutputDirectory=${libs}`,
      '-DincludeScope=runtime',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) {
    throw new LocalBrokerError(
      `Maven could not fetch Apache Kafka ${KAFKA_VERSION}: ${(r.stdout + r.stderr).slice(-2000)}`,
    );
  }
  writeFileSync(marker, new Date().toISOString());
  return libs;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/**
 * A Kafka cluster id: 16 random bytes, base64url without padding, never starting with '-'
 * (kafka-storage's argument parser would read that as an option; Kafka's own Uuid avoids it too).
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

async function startLocalBroker(
  options: StartKafkaOptions,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<KafkaCluster> {
  if (!commandWorks('java', ['-version'])) {
    throw new LocalBrokerError(
      'No Kafka cluster is configured (KAFKA_BROKERS) and no container runtime answers, and Java ' +
        'is not installed to run a local broker. Install a JDK 17+ and Maven ' +
        '(Debian: apt-get install -y openjdk-17-jre-headless maven), or set KAFKA_BROKERS.',
    );
  }
  const libs = ensureKafkaJars(options, env, log);
  const persistent = options.persistent;
  const [port, controllerPort] = persistent
    ? [persistent.port, persistent.controllerPort]
    : [await freePort(), await freePort()];
  const dataDir = persistent?.dataDir ?? mkdtempSync(join(tmpdir(), 'flowhook-kafka-'));
  mkdirSync(dataDir, { recursive: true });
  const props = join(dataDir, 'server.properties');
  const formatted = existsSync(join(dataDir, 'logs', 'meta.properties'));
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      `log.dirs=${join(dataDir, 'logs')}`,
      'num.partitions=1',
      'default.replication.factor=1',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=4',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'transaction.state.log.num.partitions=4',
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=false',
      // Small segments and a short dirty ratio so compaction is observable in tests.
      'log.cleaner.backoff.ms=1000',
      '',
    ].join('\n'),
  );
  const classpath = `${libs}/*`;
  if (!formatted) {
    const format = spawnSync(
      'java',
      ['-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', newClusterId(), '-c', props],
      { encoding: 'utf8' },
    );
    if (format.status !== 0) {
      throw new LocalBrokerError(
        `formatting KRaft storage failed: ${format.stdout}${format.stderr}`,
      );
    }
  }

  const logFile = join(dataDir, 'kafka.log');
  const out = openSync(logFile, 'a');
  const heap = options.heapMb ?? 512;
  const child: ChildProcess = spawn(
    'java',
    [
      `-Xmx${heap}m`,
      `-Xms${Math.min(heap, 256)}m`,
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${join(KAFKA_DIR, 'log4j2.yaml')}`,
      '-cp',
      classpath,
      'kafka.Kafka',
      props,
    ],
    { stdio: ['ignore', out, out], detached: true },
  );
  closeSync(out);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new LocalBrokerError('could not start java');
  writeFileSync(join(dataDir, 'kafka.pid'), String(pid));

  const reaper = startReaper(process.pid, pid, persistent ? '' : dataDir);

  let exited = false;
  child.once('exit', () => (exited = true));
  const brokers = [`127.0.0.1:${port}`];
  const stop = async (): Promise<void> => {
    stopReaper(reaper);
    await stopPid(pid);
    if (!persistent) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForAdmin(brokers, options.readyTimeoutMs ?? 90_000, () => exited);
  } catch (err) {
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-3000) : '';
    stopReaper(reaper);
    await stopPid(pid);
    throw new LocalBrokerError(
      `local Kafka broker did not become ready: ${(err as Error).message}\n${tail}`,
    );
  }
  log(`local Kafka ${KAFKA_VERSION} broker ready at ${brokers[0]} (pid ${pid}, data ${dataDir})`);
  return { kind: 'local', brokers, logFile, pid, stop };
}

async function waitForAdmin(
  brokers: string[],
  timeoutMs: number,
  hasExited: () => boolean,
): Promise<void> {
  const kafka = new Kafka({
    brokers,
    clientId: 'flowhook-launcher',
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1000,
  });
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (hasExited()) throw new Error('the broker process exited');
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length > 0 && cluster.controller !== null) return;
    } catch (err) {
      lastError = err;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no answer from the admin client within ${timeoutMs} ms (${String(lastError)})`);
}

/** Whether a process with this pid exists (a zombie counts until it is reaped). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// A reaper outlives its owner: a detached shell that polls the owner's pid every second and,
// once the owner is gone, stops the process it guards (SIGTERM, SIGKILL after 15 s) and removes
// its directory. A graceful stop ends the reaper first; a SIGKILLed `flowhook run` or test run
// no longer leaves its broker running.
const REAPER_SCRIPT = [
  'while kill -0 "$1" 2>/dev/null; do sleep 1; done',
  'kill -TERM "$2" 2>/dev/null',
  'i=0; while kill -0 "$2" 2>/dev/null && [ "$i" -lt 15 ]; do sleep 1; i=$((i+1)); done',
  'kill -KILL "$2" 2>/dev/null',
  '[ -n "$3" ] && rm -rf "$3"',
  'exit 0',
].join('\n');

/**
 * Guards `pid` (and `dir`, removed with it) against `ownerPid` dying without stopping it.
 * Returns the reaper's pid, for stopReaper; undefined where there is no POSIX shell (Windows).
 */
export function startReaper(ownerPid: number, pid: number, dir = ''): number | undefined {
  if (process.platform === 'win32') return undefined;
  const reaper = spawn(
    'sh',
    ['-c', REAPER_SCRIPT, 'flowhook-reaper', String(ownerPid), String(pid), dir],
    { stdio: 'ignore', detached: true },
  );
  reaper.on('error', () => undefined); // no sh: nothing guards the process, as before
  reaper.unref();
  return reaper.pid;
}

/** Ends a reaper (its owner is stopping the guarded process itself). */
export function stopReaper(reaperPid: number | undefined): void {
  if (reaperPid === undefined) return;
  try {
    process.kill(reaperPid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** SIGTERM (Kafka shuts down cleanly), then SIGKILL if it is still there after 15 s. */
export async function stopPid(pid: number, graceMs = 15_000): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
