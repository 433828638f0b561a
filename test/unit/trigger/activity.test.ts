import { parseHeldWebhook } from '../../../src/activity/held';
import { walkActivity, walkActivityMessages } from '../../../src/trigger/activity';
import { walkFlow } from '../../../src/trigger/walk';
import { compile, delay, event, flowDoc, webhook } from '../flows/builders';

const NOW = new Date('2024-05-01T13:00:00.000Z');
const ORG = { name: 'Acme', url: 'https://acme.example.com' };

// hook-a (manual) → hook-b (draft) → wait (2 h) → hook-c (live)
const flow = compile(
  flowDoc(
    {},
    {
      entry_action_id: 'hook-a',
      actions: [
        webhook(
          'hook-a',
          'hook-b',
          { headers: { Authorization: 'Bearer {{ secrets.TOKEN }}' } },
          'manual',
        ),
        webhook('hook-b', 'wait', {}, 'draft'),
        delay('wait', 'hook-c'),
        webhook('hook-c', null),
      ],
    },
  ),
);

describe('walkActivity', () => {
  const walk = walkFlow({ flow, event: event(), organization: ORG, now: NOW });

  it('records entered, held, skipped and waiting in walk order', () => {
    const records = walkActivity(flow, walk, event(), NOW);
    expect(records.map((r) => [r.status, r.action_id, r.reason ?? r.due_at])).toEqual([
      ['entered', undefined, undefined],
      ['held', 'hook-a', 'action_manual'],
      ['skipped', 'hook-b', 'draft'],
      ['waiting', 'wait', '2024-05-01T15:00:00.000Z'],
    ]);
    expect(records[1]).toMatchObject({
      flow_id: 'flow-1',
      profile_id: 'p-1',
      email: 'sarah@example.com',
      event_id: 'evt-1',
      job_id: walk.held[0]?.id,
      time: NOW.toISOString(),
    });
    // Ids sort in walk order and do not depend on the time (an aborted batch redone later).
    const ids = records.map((r) => r.id);
    expect([...ids].sort()).toEqual(ids);
    expect(
      walkActivity(flow, walk, event(), new Date(NOW.getTime() + 5000)).map((r) => r.id),
    ).toEqual(ids);
  });

  it('does not record an entry for a walk resumed after its delay', () => {
    const resumed = walkFlow({
      flow,
      event: event(),
      organization: ORG,
      now: NOW,
      startAt: 'hook-c',
    });
    expect(walkActivity(flow, resumed, event(), NOW)).toEqual([]);
  });

  it('sends held webhooks to the review topic keyed by job id, secrets still references', () => {
    const { activity, review } = walkActivityMessages(flow, walk, event(), NOW);
    expect(activity).toHaveLength(4);
    expect(review).toHaveLength(1);
    expect(review[0]?.key).toBe(walk.held[0]?.id);
    const item = parseHeldWebhook(Buffer.from(String(review[0]?.value)));
    expect(item).toMatchObject({
      id: walk.held[0]?.id,
      action_id: 'hook-a',
      held_at: NOW.toISOString(),
    });
    expect(item?.job).toMatchObject({ headers: { Authorization: 'Bearer {{ secrets.TOKEN }}' } });
  });
});
