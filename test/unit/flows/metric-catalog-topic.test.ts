import { FlowTable } from '../../../src/flows/flow-table';
import {
  flowsNamingMetric,
  MetricCatalogTable,
  parseMetricRecord,
} from '../../../src/flows/metric-catalog-topic';
import { event, flowDoc } from './builders';

const record = (doc: unknown) => Buffer.from(JSON.stringify(doc));
const metricFlow = (id: string, metric: string) =>
  flowDoc({ id }, { triggers: [{ type: 'metric', id: metric }] });

describe('parseMetricRecord', () => {
  it('reads {name} and Klaviyo metric resources; null is a tombstone', () => {
    expect(parseMetricRecord(record({ name: 'Placed Order', integration: 'shopify' }))).toBe(
      'Placed Order',
    );
    expect(
      parseMetricRecord(record({ type: 'metric', id: 'XyZ9aB', attributes: { name: 'Viewed' } })),
    ).toBe('Viewed');
    expect(parseMetricRecord(null)).toBeNull();
    expect(parseMetricRecord(Buffer.alloc(0))).toBeNull();
  });

  it('says why a record names no metric', () => {
    expect(parseMetricRecord(Buffer.from('{nope'))).toEqual({
      problem: expect.stringContaining('not valid JSON') as unknown as string,
    });
    expect(parseMetricRecord(record({ name: '' }))).toEqual({
      problem: expect.stringContaining('"name"') as unknown as string,
    });
    expect(parseMetricRecord(record(['Placed Order']))).toHaveProperty('problem');
  });
});

describe('MetricCatalogTable', () => {
  it('starts from the configured catalog; the topic overrides it; a tombstone falls back', () => {
    const table = new MetricCatalogTable({ XyZ9aB: 'Placed Order' });
    const live = table.catalog;
    expect({ ...live }).toEqual({ XyZ9aB: 'Placed Order' });
    expect(table.apply('XyZ9aB', 'Ordered Product')).toBe(true);
    expect(table.apply('AbC1dE', 'Started Checkout')).toBe(true);
    expect(table.apply('AbC1dE', 'Started Checkout')).toBe(false);
    expect({ ...live }).toEqual({ XyZ9aB: 'Ordered Product', AbC1dE: 'Started Checkout' });
    expect(table.apply('XyZ9aB', null)).toBe(true);
    expect(table.apply('AbC1dE', null)).toBe(true);
    expect(table.apply('Nope00', null)).toBe(false);
    expect({ ...live }).toEqual({ XyZ9aB: 'Placed Order' });
    expect(table.catalog).toBe(live);
  });

  it('makes a flow table match a flow naming its metric by id once the id is known', () => {
    const catalog = new MetricCatalogTable();
    const table = new FlowTable({ allowHttp: false, metricCatalog: catalog.catalog });
    const applied = table.apply('by-id', metricFlow('by-id', 'AbC1dE'));
    expect(applied.outcome === 'accepted' && applied.warnings).toContainEqual({
      path: '$.definition.triggers[0].id',
      message: expect.stringContaining('looks like a Klaviyo metric id') as unknown as string,
    });
    expect(table.candidates(event({ metric: 'Started Checkout' }))).toEqual([]);

    catalog.apply('AbC1dE', 'Started Checkout');
    for (const flow of flowsNamingMetric(table.all(), 'AbC1dE')) {
      const again = table.apply(flow.id, flow.document);
      expect(again.outcome === 'accepted' && again.warnings).toEqual([]);
    }
    expect(table.candidates(event({ metric: 'Started Checkout' })).map((f) => f.id)).toEqual([
      'by-id',
    ]);
  });

  it('warns about a trigger that is neither a known name nor a known id', () => {
    const catalog = new MetricCatalogTable();
    catalog.apply('XyZ9aB', 'Placed Order');
    const table = new FlowTable({ allowHttp: false, metricCatalog: catalog.catalog });
    const unknown = table.apply('f', metricFlow('f', 'Zz9Zz9'));
    expect(unknown.outcome === 'accepted' && unknown.warnings).toContainEqual({
      path: '$.definition.triggers[0].id',
      message: expect.stringContaining(
        'neither a metric name nor a metric id',
      ) as unknown as string,
    });
    const byName = table.apply('g', metricFlow('g', 'Placed Order'));
    expect(byName.outcome === 'accepted' && byName.warnings).toEqual([]);
  });
});

describe('flowsNamingMetric', () => {
  it('finds the flows whose trigger names the id as written', () => {
    const table = new FlowTable({ allowHttp: false, metricCatalog: { XyZ9aB: 'Placed Order' } });
    table.apply('a', metricFlow('a', 'XyZ9aB'));
    table.apply('b', metricFlow('b', 'Placed Order'));
    table.apply('c', metricFlow('c', 'AbC1dE'));
    expect(flowsNamingMetric(table.all(), 'XyZ9aB').map((f) => f.id)).toEqual(['a']);
    expect(flowsNamingMetric(table.all(), 'Nope00')).toEqual([]);
  });
});
