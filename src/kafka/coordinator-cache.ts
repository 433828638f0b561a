import { createRequire } from 'node:module';

// kafkajs asks the cluster for the group or transaction coordinator (a FindCoordinator round
// trip) before every transactional request: AddPartitionsToTxn, AddOffsetsToTxn,
// TxnOffsetCommit and EndTxn each look it up again. A task commit made five or six of these
// lookups, as many round trips as the commit's own requests. The Java client keeps the
// coordinator until a request says it moved; here a lookup is kept for COORDINATOR_CACHE_MS.
// That is shorter than the retries of every flowhook client (the task producers retry for
// about 1.3 s): a request to a coordinator that moved fails with NOT_COORDINATOR, is retried,
// and a retry after the entry expired asks the cluster again. kafkajs 2.2.4 is its last release;
// the wrapped method is checked when this is installed and a kafkajs without it is left as is.

/** How long a coordinator lookup is reused, per client and group or transactional id. */
export const COORDINATOR_CACHE_MS = 1000;

interface CoordinatorQuery {
  groupId: string;
  coordinatorType?: number;
}

interface ClusterPrototype {
  findGroupCoordinatorMetadata(this: object, query: CoordinatorQuery): Promise<unknown>;
}

let installed = false;

/** Installs the cache into kafkajs's Cluster (once per process); false if kafkajs changed. */
export function installCoordinatorCache(clock: () => number = Date.now): boolean {
  if (installed) return true;
  const load = createRequire(require.resolve('kafkajs'));
  const Cluster = load('./src/cluster/index.js') as { prototype: Partial<ClusterPrototype> };
  const lookup = Cluster.prototype.findGroupCoordinatorMetadata;
  if (typeof lookup !== 'function') return false;
  const cache = new WeakMap<object, Map<string, { at: number; found: Promise<unknown> }>>();
  Cluster.prototype.findGroupCoordinatorMetadata = function (
    this: object,
    query: CoordinatorQuery,
  ): Promise<unknown> {
    const entries = cache.get(this) ?? new Map<string, { at: number; found: Promise<unknown> }>();
    cache.set(this, entries);
    const key = `${query.coordinatorType ?? 0}:${query.groupId}`;
    const hit = entries.get(key);
    if (hit && clock() - hit.at < COORDINATOR_CACHE_MS) return hit.found;
    const found = lookup.call(this, query);
    entries.set(key, { at: clock(), found });
    // A failed lookup is not kept: the next call asks again.
    found.catch(() => {
      if (entries.get(key)?.found === found) entries.delete(key);
    });
    return found;
  };
  installed = true;
  return true;
}
