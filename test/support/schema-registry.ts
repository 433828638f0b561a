import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { startReaper, stopPid, stopReaper } from '../../src/kafka/local-broker';
import { waitFor } from './wait';

// A real Confluent-API schema registry for the tests: Apicurio Registry's runnable archive
// from Maven Central (in-memory storage), its Confluent API under /apis/ccompat/v7.

export const APICURIO_VERSION = '3.0.9';

export interface SchemaRegistryServer {
  url: string;
  stop(): Promise<void>;
}

function cacheDir(): string {
  return join(
    process.env.FLOWHOOK_CACHE_DIR ?? join(homedir(), '.cache', 'flowhook'),
    `apicurio-${APICURIO_VERSION}`,
  );
}

/** Fetches and unpacks the archive once; later runs reuse it. */
export function ensureApicurio(): string {
  const dir = cacheDir();
  const jar = join(dir, `apicurio-registry-app-${APICURIO_VERSION}-runner.jar`);
  if (existsSync(join(dir, '.complete'))) return jar;
  mkdirSync(dir, { recursive: true });
  const artifact = `io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:zip:all`;
  const fetch = spawnSync(
    'mvn',
    ['-q', '-B', 'dependency:copy', `-Dartifact=${artifact}`, `-DoutputDirectory=${dir}`],
    {
      encoding: 'utf8',
    },
  );
  if (fetch.status !== 0)
    throw new Error(`Maven could not fetch ${artifact}: ${fetch.stdout}${fetch.stderr}`);
  const zip = join(dir, `apicurio-registry-app-${APICURIO_VERSION}-all.zip`);
  // Whichever unpacker the machine has: the JDK's jar, unzip, or Python's zipfile module.
  const unpackers: [string, string[]][] = [
    ['jar', ['xf', zip]],
    ['unzip', ['-q', '-o', zip]],
    ['python3', ['-m', 'zipfile', '-e', zip, '.']],
  ];
  const unpacked = unpackers.some(([cmd, args]) => spawnSync(cmd, args, { cwd: dir }).status === 0);
  if (!unpacked) throw new Error(`could not unpack ${zip}: install a JDK (jar), unzip or python3`);
  writeFileSync(join(dir, '.complete'), new Date().toISOString());
  return jar;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export async function startSchemaRegistry(): Promise<SchemaRegistryServer> {
  const jar = ensureApicurio();
  const port = await freePort();
  const child = spawn(
    'java',
    [
      '-Xmx384m',
      '-XX:+UseSerialGC',
      `-Dquarkus.http.port=${port}`,
      '-Dquarkus.http.host=127.0.0.1',
      '-jar',
      jar,
    ],
    { stdio: 'ignore', detached: true },
  );
  child.unref();
  const pid = child.pid!;
  const reaper = startReaper(process.pid, pid);
  const stop = async (): Promise<void> => {
    stopReaper(reaper);
    await stopPid(pid);
  };
  const url = `http://127.0.0.1:${port}/apis/ccompat/v7`;
  try {
    await waitFor(
      async () => {
        const res = await fetch(`${url}/subjects`).catch(() => undefined);
        return res?.status === 200;
      },
      { timeoutMs: 120_000, intervalMs: 250, what: 'Apicurio Registry to answer' },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, stop };
}
