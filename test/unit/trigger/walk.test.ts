import type { FlowhookEvent } from '../../../src/documents';
import type { CompiledFlow } from '../../../src/flows/types';
import { emptyProfileRecord } from '../../../src/profiles/record';
import { walkFlow, webhookJobId, type WalkInput } from '../../../src/trigger/walk';
import {
  compile,
  conditionalSplit,
  conditions,
  delay,
  event,
  flowDoc,
  pass,
  profileProp,
  readFixture,
  webhook,
} from '../flows/builders';

const NOW = new Date('2024-05-01T13:00:00.000Z');
const ORG = { name: 'Acme Books', url: 'https://acme.example.com' };

function walk(flow: CompiledFlow, e: FlowhookEvent = event(), over: Partial<WalkInput> = {}) {
  return walkFlow({ flow, event: e, organization: ORG, now: NOW, ...over });
}
const steps = (r: ReturnType<typeof walk>): string[] =>
  r.steps.map((s) => `${s.actionId}:${s.kind}${s.reason === undefined ? '' : `(${s.reason})`}`);

const placedOrderFlow = (): CompiledFlow => compile(readFixture('flows/placed-order-webhook.json'));
const placedOrder = (): FlowhookEvent => readFixture<FlowhookEvent>('events/placed-order.json');
const vipOrder = (): FlowhookEvent => readFixture<FlowhookEvent>('events/placed-order-vip.json');

describe('walkFlow on the placed-order fixture', () => {
  it('routes a regular order to the CRM webhook, passes the email and stops at the delay', () => {
    const r = walk(placedOrderFlow(), placedOrder());
    expect(steps(r)).toEqual([
      'split-vip:split(false)',
      'webhook-crm:webhook',
      'email-thanks:passed(send-email)',
      `wait-3-days:delay(${r.delay?.wait_ms})`,
    ]);
    expect(r.jobs).toHaveLength(1);
    const job = r.jobs[0];
    expect(job).toMatchObject({
      flow_id: 'placed-order-to-crm',
      flow_version: 3,
      action_id: 'webhook-crm',
      event_id: 'evt_01HXPLACEDORDER0001',
      profile_id: '01HXPROFILE0001',
      url: 'https://crm.example.com/api/orders',
      attempt: 0,
      event_time: '2024-05-01T12:34:56Z',
      signing_secret_ref: 'CRM_SIGNING_SECRET',
      headers: { Authorization: 'Bearer {{ secrets.CRM_TOKEN }}', 'X-Flow': 'placed-order-to-crm' },
    });
    expect(JSON.parse(job?.body ?? '')).toEqual({
      email: 'sarah.mason@klaviyo-demo.com',
      name: 'Sarah Mason',
      order_id: '1234',
      total: 129.99,
      items: ['Winnie the Pooh', 'A Tale of Two Cities'],
      city: 'New York',
    });
  });

  it("returns what resuming the delay needs, at 10:00 in the profile's zone three days later", () => {
    const r = walk(placedOrderFlow(), placedOrder());
    expect(r.delay).toEqual({
      flow_id: 'placed-order-to-crm',
      flow_version: 3,
      event_id: 'evt_01HXPLACEDORDER0001',
      profile_id: '01HXPROFILE0001',
      delay_action_id: 'wait-3-days',
      resume_action_id: 'webhook-review',
      wait_ms: Date.parse('2024-05-04T14:00:00.000Z') - NOW.getTime(),
      resume_at: '2024-05-04T14:00:00.000Z',
      previous_entry_at: null,
      flow_start_at: new Date(
        Math.min(Date.parse(placedOrder().time), NOW.getTime()),
      ).toISOString(),
    });
  });

  it('resumes after the delay at the action it names', () => {
    const resumed = walk(placedOrderFlow(), placedOrder(), {
      startAt: 'webhook-review',
      now: new Date('2024-05-04T14:00:00Z'),
    });
    expect(steps(resumed)).toEqual(['webhook-review:webhook']);
    expect(resumed.delay).toBeUndefined();
    expect(JSON.parse(resumed.jobs[0]?.body ?? '')).toEqual({
      email: 'sarah.mason@klaviyo-demo.com',
      order_id: '1234',
      products: ['Winnie the Pooh', 'A Tale of Two Cities'],
    });
    expect(resumed.jobs[0]?.signing_secret_ref).toBeUndefined();
  });

  it('sends VIP orders to both webhooks, JSON-escaping profile values', () => {
    const r = walk(placedOrderFlow(), vipOrder());
    expect(steps(r).slice(0, 3)).toEqual([
      'split-vip:split(true)',
      'webhook-vip:webhook',
      'webhook-crm:webhook',
    ]);
    expect(r.jobs.map((j) => j.action_id)).toEqual(['webhook-vip', 'webhook-crm']);
    expect(JSON.parse(r.jobs[0]?.body ?? '')).toEqual({
      text: 'VIP order 9001 from Ada "the VIP"',
      value: 750,
    });
    expect(r.jobs[0]?.headers).toEqual({ Authorization: 'Bearer {{ secrets.VIP_TOKEN }}' });
  });
});

describe('job ids', () => {
  it('are stable across walks and flow versions, and differ per action, event and profile', () => {
    const flow = placedOrderFlow();
    const a = walk(flow, placedOrder()).jobs[0]?.id;
    expect(walk(flow, placedOrder()).jobs[0]?.id).toBe(a);
    const v4 = compile({
      ...readFixture<Record<string, unknown>>('flows/placed-order-webhook.json'),
      version: 4,
    });
    expect(walk(v4, placedOrder()).jobs[0]?.id).toBe(a);
    expect(a).toBe(
      webhookJobId(
        'placed-order-to-crm',
        'webhook-crm',
        'evt_01HXPLACEDORDER0001',
        '01HXPROFILE0001',
      ),
    );
    expect(a).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(webhookJobId('f', 'a', 'e', 'p')).not.toBe(webhookJobId('f', 'b', 'e', 'p'));
    expect(webhookJobId('f', 'a', 'e', 'p')).not.toBe(webhookJobId('f', 'a', 'e2', 'p'));
    expect(webhookJobId('f', 'a', 'e', 'p')).not.toBe(webhookJobId('f', 'a', 'e', 'p2'));
  });

  it('use the derived profile key when the profile has no id', () => {
    const r = walk(compile(flowDoc()), event({ profile: { email: 'Sarah@Example.com' } }));
    expect(r.jobs[0]?.profile_id).toBe('email:sarah@example.com');
  });
});

describe('action statuses', () => {
  const chain = (statusA: string | null, flowStatus = 'live'): CompiledFlow =>
    compile(
      flowDoc(
        { status: flowStatus },
        { entry_action_id: 'a', actions: [webhook('a', 'b', {}, statusA), webhook('b', null)] },
      ),
    );

  it.each<[string | null, string]>([
    ['draft', 'a:skipped(draft)'],
    ['disabled', 'a:skipped(disabled)'],
    [null, 'a:skipped(draft)'],
    ['manual', 'a:held(action_manual)'],
  ])('a %s webhook is not sent and the walk continues', (status, step) => {
    const r = walk(chain(status));
    expect(steps(r)).toEqual([step, 'b:webhook']);
    expect(r.jobs.map((j) => j.action_id)).toEqual(['b']);
  });

  it('holds every webhook of a manual flow', () => {
    const r = walk(chain('live', 'manual'));
    expect(steps(r)).toEqual(['a:held(flow_manual)', 'b:held(flow_manual)']);
    expect(r.jobs).toHaveLength(0);
  });

  it('renders held webhooks like live ones, for the review queue', () => {
    const live = walk(chain('live'));
    const held = walk(chain('live', 'manual'));
    expect(held.held).toEqual(live.jobs);
    expect(held.held.map((j) => j.action_id)).toEqual(['a', 'b']);
  });

  it('sends nothing for a draft flow', () => {
    expect(steps(walk(chain('live', 'draft')))).toEqual([
      'a:skipped(flow_draft)',
      'b:skipped(flow_draft)',
    ]);
  });

  it('renders everything in preview mode, walking through delays', () => {
    const flow = compile(
      flowDoc(
        { status: 'draft' },
        {
          entry_action_id: 'a',
          actions: [
            webhook('a', 'w', {}, 'draft'),
            delay('w', 'b'),
            webhook('b', null, {}, 'manual'),
          ],
        },
      ),
    );
    const r = walk(flow, event(), { preview: true });
    expect(steps(r)).toEqual(['a:webhook', 'w:delay(preview)', 'b:webhook']);
    expect(r.jobs).toHaveLength(2);
    expect(r.delay).toBeUndefined();
  });
});

describe('pass-through, splits and delays', () => {
  it('passes through actions flowhook does not run', () => {
    const flow = compile(
      flowDoc(
        {},
        {
          entry_action_id: 'm',
          actions: [
            pass('m', 's'),
            pass('s', 'p', 'send-sms'),
            pass('p', 'hook', 'send-mobile-push'),
            webhook('hook', null),
          ],
        },
      ),
    );
    expect(steps(walk(flow))).toEqual([
      'm:passed(send-email)',
      's:passed(send-sms)',
      'p:passed(send-mobile-push)',
      'hook:webhook',
    ]);
  });

  it('takes the branch a conditional split chooses on the profile', () => {
    const flow = compile(
      flowDoc(
        {},
        {
          entry_action_id: 's',
          actions: [
            conditionalSplit(
              's',
              'gold',
              'other',
              profileProp("properties['tier']", {
                type: 'string',
                operator: 'equals',
                value: 'gold',
              }),
            ),
            webhook('gold', null),
            webhook('other', null),
          ],
        },
      ),
    );
    const gold = event({ profile: { id: 'p', properties: { tier: 'gold' } } });
    expect(steps(walk(flow, gold))).toEqual(['s:split(true)', 'gold:webhook']);
    expect(steps(walk(flow, event()))).toEqual(['s:split(false)', 'other:webhook']);
  });

  it('ends the path on a split branch that links nowhere', () => {
    const flow = compile(
      flowDoc(
        {},
        {
          entry_action_id: 's',
          actions: [
            conditionalSplit(
              's',
              'hook',
              null,
              profileProp('email', { type: 'existence', operator: 'not-set' }),
            ),
            webhook('hook', null),
          ],
        },
      ),
    );
    const r = walk(flow);
    expect(steps(r)).toEqual(['s:split(false)']);
    expect(r.jobs).toHaveLength(0);
  });

  it('takes the first matching branch of a multi-branch split, else the else branch', () => {
    const branch = (id: string, next: string, tier: string) => ({
      branch_id: id,
      order: id === 'platinum' ? 0 : 1,
      branch_filter: conditions(
        profileProp('tier', { type: 'string', operator: 'in', value: [tier, 'platinum'] }),
      ),
      links: { next },
    });
    const flow = compile(
      flowDoc(
        {},
        {
          entry_action_id: 'm',
          actions: [
            {
              id: 'm',
              type: 'multi-branch-split',
              data: {
                name: 'tiers',
                branches: [
                  branch('gold', 'g', 'gold'),
                  branch('platinum', 'p', 'platinum'),
                  { branch_id: 'rest', is_else: true, links: { next: 'r' } },
                ],
              },
            },
            webhook('g', null),
            webhook('p', null),
            webhook('r', null),
          ],
        },
      ),
    );
    const withTier = (tier: string) => event({ profile: { id: 'x', properties: { tier } } });
    expect(steps(walk(flow, withTier('platinum')))).toEqual([
      'm:split(branch:platinum)',
      'p:webhook',
    ]);
    expect(steps(walk(flow, withTier('gold')))).toEqual(['m:split(branch:gold)', 'g:webhook']);
    expect(steps(walk(flow, withTier('bronze')))).toEqual(['m:split(else)', 'r:webhook']);
  });

  it('skips a delay with no live webhook after it, and the profile exits', () => {
    const flow = compile(
      flowDoc(
        {},
        {
          entry_action_id: 'hook',
          actions: [
            webhook('hook', 'w'),
            delay('w', 'mail'),
            pass('mail', 'later'),
            webhook('later', null, {}, 'draft'),
          ],
        },
      ),
    );
    const r = walk(flow);
    expect(steps(r)).toEqual(['hook:webhook', 'w:skipped(nothing_after_delay)']);
    expect(r.delay).toBeUndefined();
  });

  it('reports a resume point that no longer exists (the flow changed meanwhile)', () => {
    const r = walk(compile(flowDoc()), event(), { startAt: 'removed-action' });
    expect(steps(r)).toEqual(['removed-action:skipped(resume_action_missing)']);
  });

  it('carries the previous entry into the delay for the resumed walk', () => {
    const flow = compile(
      flowDoc(
        {},
        {
          entry_action_id: 'w',
          actions: [delay('w', 'hook', { unit: 'minutes', value: 30 }), webhook('hook', null)],
        },
      ),
    );
    const r = walk(flow, event(), { previousEntryAt: new Date('2024-04-01T00:00:00Z') });
    expect(r.delay).toMatchObject({
      wait_ms: 30 * 60_000,
      resume_at: '2024-05-01T13:30:00.000Z',
      previous_entry_at: '2024-04-01T00:00:00.000Z',
    });
  });
});

describe('profile filter before every action', () => {
  const filtered = (): CompiledFlow =>
    compile(
      flowDoc(
        {},
        {
          profile_filter: conditions(
            profileProp("properties['subscribed']", {
              type: 'boolean',
              operator: 'equals',
              value: true,
            }),
          ),
          entry_action_id: 'a',
          actions: [
            webhook('a', 'mail'),
            pass('mail', 's'),
            conditionalSplit(
              's',
              'b',
              null,
              profileProp('email', { type: 'existence', operator: 'is-set' }),
            ),
            webhook('b', 'w'),
            delay('w', 'c'),
            webhook('c', null),
          ],
        },
      ),
    );
  const subscribed = (yes: boolean) =>
    event({ profile: { id: 'p', email: 'a@b.c', properties: { subscribed: yes } } });

  it('skips each webhook and pass-through the profile fails, while splits still route', () => {
    const r = walk(filtered(), subscribed(false));
    expect(steps(r)).toEqual([
      'a:skipped(profile_filter)',
      'mail:skipped(profile_filter)',
      's:split(true)',
      'b:skipped(profile_filter)',
      `w:delay(${r.delay?.wait_ms})`,
    ]);
    expect(r.jobs).toHaveLength(0);
  });

  it('checks again after a delay, against the profile the resumed walk is given', () => {
    const flow = filtered();
    expect(steps(walk(flow, subscribed(true)))).toEqual([
      'a:webhook',
      'mail:passed(send-email)',
      's:split(true)',
      'b:webhook',
      expect.stringMatching(/^w:delay/),
    ]);
    const resumed = walk(flow, subscribed(true), {
      startAt: 'c',
      profile: { id: 'p', properties: { subscribed: false } },
    });
    expect(steps(resumed)).toEqual(['c:skipped(profile_filter)']);
  });
});

describe('rendering', () => {
  it('sends {} when the webhook has no body', () => {
    const r = walk(compile(flowDoc({}, { actions: [webhook('hook', null, { body: null })] })));
    expect(r.jobs[0]?.body).toBe('{}');
  });

  it('renders event tags empty in list flows (no triggering metric)', () => {
    const flow = compile(readFixture('flows/list-welcome-webhook.json'));
    const sub = readFixture<FlowhookEvent>('events/subscribed-to-list.json');
    const r = walk(flow, sub);
    expect(steps(r)).toEqual(['by-region:split(true)', 'loyalty-eu:webhook']);
    expect(JSON.parse(r.jobs[0]?.body ?? '')).toEqual({
      email: 'new.subscriber@example.com',
      first_name: 'Noor',
      source: 'footer-form',
    });
    expect(r.jobs[0]?.profile_id).toBe('email:new.subscriber@example.com');
    const eventTag = compile(
      flowDoc(
        {},
        {
          triggers: [{ type: 'list', id: 'L' }],
          actions: [
            webhook('hook', null, { body: '{"list": "{{ event.List|default:\'none\' }}"}' }),
          ],
        },
      ),
    );
    expect(JSON.parse(walk(eventTag, sub).jobs[0]?.body ?? '')).toEqual({ list: 'none' });
  });

  it('reports a render failure as a step and carries on with the next action', () => {
    const loop =
      '{"skus": [{% for i in event.Items %}"{{ i.SKU }}"{% if not forloop.last %},{% endif %}{% endfor %}]}';
    const flow = compile(
      flowDoc(
        {},
        {
          entry_action_id: 'big',
          actions: [webhook('big', 'next', { body: loop }), webhook('next', null)],
        },
      ),
    );
    const huge = event({
      properties: { Items: Array.from({ length: 20_000 }, (_, i) => ({ SKU: `S${i}` })) },
    });
    const r = walk(flow, huge);
    expect(r.steps[0]).toMatchObject({
      actionId: 'big',
      kind: 'render_error',
      reason: expect.stringMatching(/^FLOWHOOK_ERR_/),
    });
    expect(r.steps[0]?.detail).toEqual(expect.any(String));
    expect(steps(r)[1]).toBe('next:webhook');
    expect(r.jobs.map((j) => j.action_id)).toEqual(['next']);
    const small = walk(flow, event({ properties: { Items: [{ SKU: 'A' }, { SKU: 'B' }] } }));
    expect(JSON.parse(small.jobs[0]?.body ?? '')).toEqual({ skus: ['A', 'B'] });
  });

  it('refuses a header value that would render a line break', () => {
    const flow = compile(
      flowDoc(
        {},
        { actions: [webhook('hook', null, { headers: { 'X-Name': '{{ first_name }}' } })] },
      ),
    );
    const r = walk(flow, event({ profile: { id: 'p', first_name: 'Eve\r\nX-Injected: yes' } }));
    expect(r.jobs).toHaveLength(0);
    expect(r.steps[0]).toMatchObject({ actionId: 'hook', kind: 'render_error' });
  });
});

describe('walkFlow with the profile store', () => {
  const segmentFlow = () =>
    compile(
      flowDoc(
        {},
        {
          triggers: [{ type: 'segment', id: 'VIP' }],
          actions: [webhook('hook', null, { body: '{"tier": "{{ person.tier }}"}' })],
        },
      ),
    );
  const stored = (segments: Record<string, number>) => ({
    ...emptyProfileRecord(),
    segments,
    profile: { id: 'p-1', properties: { tier: 'gold' } },
  });

  it('renders with the profile as the store has it, not the event snapshot', () => {
    const record = stored({ VIP: 1 });
    const r = walk(segmentFlow(), event(), { profile: record.profile, stored: record });
    expect(JSON.parse(r.jobs[0]?.body ?? '')).toEqual({ tier: 'gold' });
  });

  it('skips the webhooks of a segment flow for a profile that has left the segment', () => {
    const r = walk(segmentFlow(), event(), { stored: stored({}) });
    expect(steps(r)).toEqual(['hook:skipped(left_segment)']);
    // Without the store (FLOWHOOK_PROFILE_STORE=false) membership is unknown: it is sent.
    expect(steps(walk(segmentFlow(), event()))).toEqual(['hook:webhook']);
  });
});

describe('walkFlow with sequential webhooks (the default)', () => {
  const twoHooks = () =>
    compile(
      flowDoc(
        { webhook_order: undefined },
        {
          entry_action_id: 'create',
          actions: [webhook('create', 'tag'), webhook('tag', null)],
        },
      ),
    );

  it('stops after a webhook and waits for its outcome before the next one', () => {
    const r = walk(twoHooks());
    expect(steps(r)).toEqual(['create:webhook', 'create:delay(webhook_outcome)']);
    expect(r.jobs.map((j) => [j.action_id, j.await_outcome])).toEqual([['create', true]]);
    expect(r.delay).toMatchObject({
      delay_action_id: 'create',
      resume_action_id: 'tag',
      awaits: r.jobs[0]?.id,
      wait_ms: 48 * 3_600_000,
    });
    const resumed = walk(twoHooks(), event(), { startAt: 'tag' });
    expect(steps(resumed)).toEqual(['tag:webhook']);
    expect(resumed.jobs[0]?.await_outcome).toBeUndefined();
  });

  it('does not wait in a preview, nor for the last webhook', () => {
    expect(steps(walk(twoHooks(), event(), { preview: true }))).toEqual([
      'create:webhook',
      'tag:webhook',
    ]);
  });
});
