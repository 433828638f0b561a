// The metric catalog from a topic: flowhook.metrics (compacted, key = Klaviyo metric id, value =
// `{ "name": "Placed Order", … }` or Klaviyo's metric resource `{ "id", "attributes": { "name" } }`,
// null = delete). The trigger applies flows only once it has read it to its end, so a flow naming its
// metric by id matches events by name from the first event on, and keeps following it: a flow
// whose trigger names an id that changes is validated again with the new name.
//
// FLOWHOOK_METRIC_CATALOG (src/config/metric-catalog.ts) gives the entries the topic starts
// from; an id on both takes the topic's name, and a tombstone falls back to the configured one.

import type { Kafka } from 'kafkajs';
import type { MetricCatalog } from '../config/metric-catalog';
import { CompactedTopicReader } from '../kafka/compacted-reader';
import type { Logger } from '../observability/logger';
import type { CompiledFlow } from './types';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The metric name a record of the topic gives, null for a tombstone, or why it gives none. */
export function parseMetricRecord(value: Buffer | null): string | null | { problem: string } {
  if (value === null || value.length === 0) return null;
  let doc: unknown;
  try {
    doc = JSON.parse(value.toString('utf8')) as unknown;
  } catch (e) {
    return { problem: `not valid JSON: ${(e as Error).message}` };
  }
  const name = isObject(doc)
    ? (doc.name ?? (isObject(doc.attributes) ? doc.attributes.name : undefined))
    : undefined;
  if (typeof name !== 'string' || name === '')
    return { problem: 'needs a non-empty "name" (or "attributes.name")' };
  return name;
}

/**
 * id → name, the configured entries overridden by the topic's. `catalog` is one live object,
 * kept up to date in place: hand it to the flow table as ValidateOptions.metricCatalog.
 */
export class MetricCatalogTable {
  readonly catalog: Record<string, string> = Object.create(null) as Record<string, string>;
  private readonly configured: MetricCatalog;

  constructor(configured: MetricCatalog = {}) {
    this.configured = configured;
    Object.assign(this.catalog, configured);
  }

  /** Applies one record (key = metric id); true when the id's name changed. */
  apply(id: string, name: string | null): boolean {
    const before = this.catalog[id];
    const after = name ?? this.configured[id];
    if (after === undefined) delete this.catalog[id];
    else this.catalog[id] = after;
    return before !== after;
  }
}

/** The flows whose metric trigger names `id` in their document (as written, before resolving). */
export function flowsNamingMetric(flows: Iterable<CompiledFlow>, id: string): CompiledFlow[] {
  const out: CompiledFlow[] = [];
  for (const flow of flows) {
    const triggers = (flow.document as { definition?: { triggers?: unknown } }).definition
      ?.triggers;
    if (
      Array.isArray(triggers) &&
      triggers.some((t) => isObject(t) && t.type === 'metric' && t.id === id)
    )
      out.push(flow);
  }
  return out;
}

export interface MetricCatalogTopicOptions {
  topic: string;
  groupPrefix: string;
  configured?: MetricCatalog;
}

/** Follows the catalog topic into a MetricCatalogTable. */
export class MetricCatalogTopic {
  private readonly table: MetricCatalogTable;
  private readonly reader: CompactedTopicReader;
  private loaded = false;
  private readonly deferred: (() => void)[] = [];

  constructor(
    private readonly kafka: Kafka,
    private readonly options: MetricCatalogTopicOptions,
    private readonly logger: Logger,
  ) {
    this.table = new MetricCatalogTable(options.configured);
    this.reader = new CompactedTopicReader(
      kafka,
      { topic: options.topic, groupPrefix: options.groupPrefix },
      logger,
    );
  }

  /** The live catalog (see MetricCatalogTable.catalog). */
  get catalog(): MetricCatalog {
    return this.table.catalog;
  }

  /**
   * `fn`, its calls deferred (in order) until the catalog has been read to its end: the flows
   * topic can be read at the same time (one consumer-group join less before the trigger is
   * ready) and every flow is still validated against the whole catalog.
   */
  afterLoad<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args) => {
      if (this.loaded) fn(...args);
      else this.deferred.push(() => fn(...args));
    };
  }

  /**
   * Reads the topic to its end, then keeps following it; `onChange(id)` is told of every id
   * whose name changed. A missing topic (FLOWHOOK_CREATE_TOPICS=false and not created) leaves
   * the configured catalog alone, with a warning.
   */
  async start(onChange: (id: string) => void): Promise<void> {
    await this.read(onChange);
    this.loaded = true;
    for (const call of this.deferred.splice(0)) call();
  }

  private async read(onChange: (id: string) => void): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    let exists: boolean;
    try {
      exists = (await admin.listTopics()).includes(this.options.topic);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    if (!exists) {
      this.logger.warn(
        { topic: this.options.topic },
        'metric catalog topic missing: only FLOWHOOK_METRIC_CATALOG names metric ids',
      );
      return;
    }
    await this.reader.start((record) => {
      if (record.key === null) return;
      const parsed = parseMetricRecord(record.value);
      if (parsed !== null && typeof parsed === 'object') {
        this.logger.warn(
          { topic: this.options.topic, metric_id: record.key, offset: record.offset },
          `metric catalog record ignored: ${parsed.problem}`,
        );
        return;
      }
      if (this.table.apply(record.key, parsed)) onChange(record.key);
    });
    this.logger.info({ metrics: Object.keys(this.catalog).length }, 'metric catalog loaded');
  }

  stop(): Promise<void> {
    return this.reader.stop();
  }
}
