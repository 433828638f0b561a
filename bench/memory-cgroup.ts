import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// A memory-limited cgroup for one benchmark child: what a Kubernetes memory limit does to a
// container. The kernel charges the child's anonymous memory and the page cache it uses (LMDB's
// file pages) to the group, reclaims clean file pages at the limit and OOM-kills the child only
// when what it holds itself does not fit. Node reads the limit at start and sizes its heap to
// it, as it does in a container. Needs a writable memory controller (root, cgroup v1 or v2).

export interface MemoryCgroupUsage {
  /** Peak charge of the group: anonymous memory and page cache (LMDB's file pages). */
  peakMb: number;
  oomKills: number;
}

export interface MemoryCgroup {
  limitMb: number;
  /** argv for spawn: a shell that joins the group, then execs `command args…`. */
  wrap(command: string, args: string[]): [string, string[]];
  usage(): MemoryCgroupUsage;
  remove(): void;
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

function stat(file: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [key, value] = line.split(' ');
    if (key && value) values.set(key, Number(value));
  }
  return values;
}

/** A fresh group limited to `limitMb`; undefined where this process may not create one. */
export function createMemoryCgroup(name: string, limitMb: number): MemoryCgroup | undefined {
  const v1 = '/sys/fs/cgroup/memory';
  const v2 = '/sys/fs/cgroup';
  const isV2 = existsSync(join(v2, 'cgroup.controllers'));
  const root = isV2 ? v2 : v1;
  const dir = join(root, name);
  try {
    if (isV2 && !readFileSync(join(v2, 'cgroup.subtree_control'), 'utf8').includes('memory'))
      return undefined;
    mkdirSync(dir);
    const limit = String(limitMb * 2 ** 20);
    writeFileSync(join(dir, isV2 ? 'memory.max' : 'memory.limit_in_bytes'), limit);
    if (isV2) writeFileSync(join(dir, 'memory.swap.max'), '0');
  } catch {
    return undefined;
  }
  return {
    limitMb,
    wrap: (command, args) => [
      '/bin/sh',
      ['-c', `echo $$ > ${join(dir, 'cgroup.procs')} && exec "$0" "$@"`, command, ...args],
    ],
    usage: () => {
      const peak = join(dir, isV2 ? 'memory.peak' : 'memory.max_usage_in_bytes');
      const events = stat(join(dir, isV2 ? 'memory.events' : 'memory.oom_control'));
      return {
        peakMb: existsSync(peak) ? mb(Number(readFileSync(peak, 'utf8'))) : NaN,
        oomKills: events.get('oom_kill') ?? 0,
      };
    },
    remove: () => {
      try {
        rmdirSync(dir);
      } catch {
        // still has a process (a crashed child's broker): left for the operator
      }
    },
  };
}
