import { FlowTable } from '../../../src/flows/flow-table';
import type { CompiledFlow, ValidationResult } from '../../../src/flows/types';
import { validateFlow } from '../../../src/flows/validate';
import { event, flowDoc, readFixture, webhook } from './builders';

const table = (): FlowTable => new FlowTable({ allowHttp: false });
const ids = (flows: readonly CompiledFlow[]): string[] => flows.map((f) => f.id);

describe('FlowTable.apply', () => {
  it('accepts a valid flow and serves it to matching events', () => {
    const t = table();
    const r = t.apply('placed-order-to-crm', readFixture('flows/placed-order-webhook.json'));
    expect(r.outcome).toBe('accepted');
    expect(r.outcome === 'accepted' && r.previous).toBeNull();
    expect(ids(t.candidates(event()))).toEqual(['placed-order-to-crm']);
    expect(t.get('placed-order-to-crm')?.version).toBe(3);
  });

  it('rejects an invalid version and keeps the previous valid one in force', () => {
    const t = table();
    t.apply('flow-1', flowDoc({ version: 1 }));
    const bad = flowDoc(
      { version: 2 },
      { actions: [webhook('hook', null, { url: 'http://insecure.example.com' })] },
    );
    const r = t.apply('flow-1', bad);
    expect(r.outcome).toBe('rejected');
    if (r.outcome !== 'rejected') return;
    expect(r.problems).toEqual([
      {
        path: '$.definition.actions[0].data.message.url',
        message: expect.stringContaining('https'),
      },
    ]);
    expect(r.current?.version).toBe(1);
    expect(t.get('flow-1')?.version).toBe(1);
    expect(ids(t.candidates(event()))).toEqual(['flow-1']);
    expect([...t.rejections().keys()]).toEqual(['flow-1']);

    const fixed = t.apply('flow-1', flowDoc({ version: 3 }));
    expect(fixed.outcome === 'accepted' && fixed.previous?.version).toBe(1);
    expect(t.rejections().size).toBe(0);
  });

  it('rejects a first version that is invalid: nothing is live', () => {
    const t = table();
    const r = t.apply('flow-1', { id: 'flow-1' });
    expect(r.outcome === 'rejected' && r.current).toBeNull();
    expect(t.candidates(event())).toHaveLength(0);
  });

  it('rejects a document whose id is not the record key', () => {
    const t = table();
    const r = t.apply('other-key', flowDoc());
    expect(r).toMatchObject({
      outcome: 'rejected',
      problems: [{ path: '$.id', message: "must equal the record key 'other-key' (got 'flow-1')" }],
    });
    expect(t.size).toBe(0);
  });

  it('deletes on a tombstone', () => {
    const t = table();
    t.apply('flow-1', flowDoc());
    const r = t.apply('flow-1', null);
    expect(r.outcome === 'deleted' && r.previous?.id).toBe('flow-1');
    expect(t.candidates(event())).toHaveLength(0);
    expect(t.get('flow-1')).toBeUndefined();
    expect(t.apply('never-seen', null)).toEqual({ outcome: 'deleted', previous: null });
  });

  it('takes the latest record whatever its version number (the topic order is the truth)', () => {
    const t = table();
    t.apply('flow-1', flowDoc({ version: 5 }));
    expect(t.apply('flow-1', flowDoc({ version: 2 })).outcome).toBe('accepted');
    expect(t.get('flow-1')?.version).toBe(2);
  });

  it('moves a flow between buckets when its trigger changes', () => {
    const t = table();
    t.apply('flow-1', flowDoc());
    t.apply('flow-1', flowDoc({}, { triggers: [{ type: 'metric', id: 'Started Checkout' }] }));
    expect(t.candidates(event())).toHaveLength(0);
    expect(ids(t.candidates(event({ metric: 'Started Checkout' })))).toEqual(['flow-1']);
  });

  it('reads raw record bytes, rejecting bytes that are not JSON', () => {
    const t = table();
    expect(t.applyRecord('flow-1', Buffer.from(JSON.stringify(flowDoc()))).outcome).toBe(
      'accepted',
    );
    expect(t.applyRecord('flow-1', Buffer.from('{not json'))).toMatchObject({
      outcome: 'rejected',
      problems: [{ path: '$', message: expect.stringContaining('not valid JSON') }],
      current: { id: 'flow-1' },
    });
    expect(t.applyRecord('flow-1', null).outcome).toBe('deleted');
  });
});

describe('FlowTable: statuses and counts', () => {
  it('indexes live and manual flows; draft flows are loaded but never triggered', () => {
    const t = table();
    t.apply('live', flowDoc({ id: 'live', status: 'live' }));
    t.apply('manual', flowDoc({ id: 'manual', status: 'manual' }));
    t.apply('draft', flowDoc({ id: 'draft', status: 'draft' }));
    t.apply('bad', { id: 'bad' });
    expect(ids(t.candidates(event()))).toEqual(['live', 'manual']);
    expect(t.counts()).toEqual({ live: 1, manual: 1, draft: 1 });
    t.apply('live', flowDoc({ id: 'live', status: 'draft' }));
    expect(ids(t.candidates(event()))).toEqual(['manual']);
    expect(t.counts()).toEqual({ live: 0, manual: 1, draft: 2 });
    t.apply('manual', { id: 'manual' });
    expect(t.counts()).toEqual({ live: 0, manual: 1, draft: 2 });
    t.apply('manual', null);
    t.apply('draft', null);
    t.apply('never-seen', null);
    expect(t.counts()).toEqual({ live: 0, manual: 0, draft: 1 });
  });
});

describe('FlowTable.candidates', () => {
  it('serves the flows of a trigger sorted by id whatever their arrival order, as snapshots', () => {
    const t = table();
    for (const id of ['flow-c', 'flow-a', 'flow-d', 'flow-b']) t.apply(id, flowDoc({ id }));
    const before = t.candidates(event());
    expect(ids(before)).toEqual(['flow-a', 'flow-b', 'flow-c', 'flow-d']);
    expect(Object.isFrozen(before)).toBe(true);
    t.apply('flow-b', null);
    t.apply('flow-0', flowDoc({ id: 'flow-0' }));
    expect(ids(t.candidates(event()))).toEqual(['flow-0', 'flow-a', 'flow-c', 'flow-d']);
    // What a walk already holds does not change under it.
    expect(ids(before)).toEqual(['flow-a', 'flow-b', 'flow-c', 'flow-d']);
  });

  it('finds list and segment flows from membership events', () => {
    const t = table();
    t.apply('welcome-series', readFixture('flows/list-welcome-webhook.json'));
    t.apply(
      'vip-seg',
      flowDoc({ id: 'vip-seg' }, { triggers: [{ type: 'segment', id: 'SEG-VIP' }] }),
    );
    t.apply(
      'other-list',
      flowDoc({ id: 'other-list' }, { triggers: [{ type: 'list', id: 'OTHER' }] }),
    );
    const subscribed = readFixture<ReturnType<typeof event>>('events/subscribed-to-list.json');
    expect(ids(t.candidates(subscribed))).toEqual(['welcome-series']);
    expect(
      ids(
        t.candidates(event({ metric: 'Entered Segment', properties: { segment_id: 'SEG-VIP' } })),
      ),
    ).toEqual(['vip-seg']);
    expect(
      ids(t.candidates(event({ metric: 'Added to List', properties: { $list_id: 'OTHER' } }))),
    ).toEqual(['other-list']);
    expect(t.candidates(event({ metric: 'Subscribed to List', properties: {} }))).toHaveLength(0);
    expect(t.candidates(event({ metric: 'Viewed Product' }))).toHaveLength(0);
  });

  it('combines a metric bucket with a list bucket when both match', () => {
    const t = table();
    t.apply(
      'on-metric',
      flowDoc({ id: 'on-metric' }, { triggers: [{ type: 'metric', id: 'Subscribed to List' }] }),
    );
    t.apply('on-list', flowDoc({ id: 'on-list' }, { triggers: [{ type: 'list', id: 'L1' }] }));
    expect(
      ids(t.candidates(event({ metric: 'Subscribed to List', properties: { list_id: 'L1' } }))),
    ).toEqual(['on-metric', 'on-list']);
  });

  it('touches only the matching bucket, however many unrelated flows are loaded', () => {
    // Unrelated flows are wrapped in proxies that count every read: candidates() must not read any.
    let unrelatedReads = 0;
    const queueArm: (() => void)[] = [];
    const validate = (doc: unknown): ValidationResult => {
      const r = validateFlow(doc, { allowHttp: false });
      if (!r.ok || !r.flow.id.startsWith('noise-')) return r;
      let armed = false;
      const flow = new Proxy(r.flow, {
        get(target, prop, receiver) {
          if (armed) unrelatedReads++;
          return Reflect.get(target, prop, receiver) as unknown;
        },
      });
      queueArm.push(() => (armed = true));
      return { ...r, flow };
    };
    const t = new FlowTable({ allowHttp: false, validate });
    for (let i = 0; i < 2000; i++) {
      const trigger =
        i % 3 === 0
          ? { type: 'list', id: `L${i}` }
          : i % 3 === 1
            ? { type: 'segment', id: `S${i}` }
            : { type: 'metric', id: `Metric ${i}` };
      t.apply(`noise-${i}`, flowDoc({ id: `noise-${i}` }, { triggers: [trigger] }));
    }
    t.apply('target', flowDoc({ id: 'target' }));
    for (const arm of queueArm) arm();

    const found = t.candidates(event());
    expect(ids(found)).toEqual(['target']);
    expect(
      t.candidates(event({ metric: 'Subscribed to List', properties: { list_id: 'L-unknown' } })),
    ).toHaveLength(0);
    expect(unrelatedReads).toBe(0);
    // The bucket is returned as is: no per-event copy.
    expect(t.candidates(event())).toBe(found);
  });
});
