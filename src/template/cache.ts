// Compile once per (flow id, flow version, template key); the hot path only looks up.
import { compileTemplate } from './engine';
import type { CompiledTemplate, TemplateKind, TemplateLimits } from './types';

export interface TemplateCacheOptions {
  /** Limits given to every template compiled by this cache. */
  limits?: Partial<TemplateLimits>;
  /** Least recently used entries beyond this number are dropped (default 10000). */
  maxEntries?: number;
}

export interface TemplateCacheStats {
  entries: number;
  hits: number;
  misses: number;
  compiles: number;
  /** Compilations that failed (their error is cached and rethrown too). */
  failures: number;
}

interface Entry {
  source: string;
  kind: TemplateKind;
  template: CompiledTemplate | undefined;
  error: unknown;
  /** Logical time of the last use, for least-recently-used eviction. */
  used: number;
}

type VersionMap = Map<string, Map<string, Entry>>;

export class TemplateCache {
  /** flow id → version → key → entry */
  private readonly flows = new Map<string, VersionMap>();
  private readonly limits: Partial<TemplateLimits> | undefined;
  private readonly maxEntries: number;
  private count = 0;
  private clock = 0;
  private hits = 0;
  private misses = 0;
  private compiles = 0;
  private failures = 0;

  constructor(options: TemplateCacheOptions = {}) {
    this.limits = options.limits;
    this.maxEntries = Math.max(1, options.maxEntries ?? 10_000);
  }

  /**
   * The compiled template for (flowId, version, key), compiling `source` the first time. If the
   * same key comes back with another source or kind, it is recompiled. A template that does
   * not compile throws its TemplateSyntaxError, every time, without being compiled again.
   */
  get(
    flowId: string,
    version: number | string,
    key: string,
    source: string,
    kind: TemplateKind,
  ): CompiledTemplate {
    const v = String(version);
    let versions = this.flows.get(flowId);
    let keys = versions?.get(v);
    let entry = keys?.get(key);
    if (entry !== undefined && entry.source === source && entry.kind === kind) {
      this.hits++;
    } else {
      this.misses++;
      if (versions === undefined) this.flows.set(flowId, (versions = new Map()));
      if (keys === undefined) versions.set(v, (keys = new Map()));
      if (entry === undefined) this.count++;
      entry = this.compile(source, kind);
      keys.set(key, entry);
      if (this.count > this.maxEntries) this.evict(entry);
    }
    entry.used = ++this.clock;
    if (entry.template === undefined) throw entry.error;
    return entry.template;
  }

  /** Forgets a flow's templates (all versions, or all but `keepVersion`). */
  drop(flowId: string, keepVersion?: number | string): void {
    const versions = this.flows.get(flowId);
    if (versions === undefined) return;
    const keep = keepVersion === undefined ? undefined : String(keepVersion);
    for (const [v, keys] of versions) {
      if (v === keep) continue;
      this.count -= keys.size;
      versions.delete(v);
    }
    if (versions.size === 0) this.flows.delete(flowId);
  }

  /** Forgets everything. */
  clear(): void {
    this.flows.clear();
    this.count = 0;
  }

  get size(): number {
    return this.count;
  }

  stats(): TemplateCacheStats {
    return {
      entries: this.count,
      hits: this.hits,
      misses: this.misses,
      compiles: this.compiles,
      failures: this.failures,
    };
  }

  private compile(source: string, kind: TemplateKind): Entry {
    this.compiles++;
    try {
      const template = compileTemplate(source, kind, this.limits);
      return { source, kind, template, error: undefined, used: 0 };
    } catch (error) {
      this.failures++;
      return { source, kind, template: undefined, error, used: 0 };
    }
  }

  /** Drops least recently used entries (never `keep`) until the cache fits. Runs on compiles only. */
  private evict(keep: Entry): void {
    while (this.count > this.maxEntries) {
      let oldest: { flowId: string; v: string; key: string; used: number } | undefined;
      for (const [flowId, versions] of this.flows) {
        for (const [v, keys] of versions) {
          for (const [key, e] of keys) {
            if (e !== keep && (oldest === undefined || e.used < oldest.used)) {
              oldest = { flowId, v, key, used: e.used };
            }
          }
        }
      }
      if (oldest === undefined) return;
      const versions = this.flows.get(oldest.flowId);
      const keys = versions?.get(oldest.v);
      keys?.delete(oldest.key);
      this.count--;
      if (keys !== undefined && keys.size === 0) versions?.delete(oldest.v);
      if (versions !== undefined && versions.size === 0) this.flows.delete(oldest.flowId);
    }
  }
}
