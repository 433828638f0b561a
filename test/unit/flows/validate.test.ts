import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FlowValidationError } from '../../../src/errors';
import {
  compileFlowOrThrow,
  findUnsupportedTemplateFeatures,
  isTriggerableMetric,
  NON_TRIGGERABLE_METRICS,
  validateFlow,
  validateOptions,
} from '../../../src/flows/validate';
import { buildConfig } from '../../../src/config/load';
import { FlowTable } from '../../../src/flows/flow-table';
import { renderBody, TemplateLimitError } from '../../../src/template';
import { stripReservedHeaders } from '../../../src/delivery/http-sender';
import { isReservedHeader } from '../../../src/webhook-headers';
import type { ValidationProblem } from '../../../src/flows/types';
import {
  clone,
  conditionalSplit,
  conditions,
  delay,
  FIXTURES,
  flowDoc,
  metricProp,
  pass,
  profileProp,
  readFixture,
  triggerSplit,
  webhook,
  type Doc,
} from './builders';

function problemsOf(doc: unknown, allowHttp = false): ValidationProblem[] {
  const r = validateFlow(doc, { allowHttp });
  return r.ok ? [] : r.problems;
}

function warningsOf(doc: unknown): ValidationProblem[] {
  const r = validateFlow(doc, { allowHttp: false });
  if (!r.ok) throw new Error(`unexpected problems: ${JSON.stringify(r.problems)}`);
  return r.warnings;
}

function expectProblem(
  doc: unknown,
  path: string,
  message: RegExp | string,
  allowHttp = false,
): void {
  const problems = problemsOf(doc, allowHttp);
  const at = problems.filter((p) => p.path === path);
  if (at.length === 0)
    throw new Error(`no problem at ${path}; got ${JSON.stringify(problems, null, 2)}`);
  expect(at.map((p) => p.message)).toContainEqual(
    typeof message === 'string' ? expect.stringContaining(message) : expect.stringMatching(message),
  );
}

const base = (): Doc => clone(readFixture<Doc>('flows/placed-order-webhook.json'));
const actionIndex = (doc: Doc, id: string): number =>
  doc.definition.actions.findIndex((a) => a.id === id);

describe('fixtures', () => {
  it.each(readdirSync(join(FIXTURES, 'flows')).filter((f) => f.endsWith('.json')))(
    '%s is valid',
    (file) => {
      const r = validateFlow(readFixture(`flows/${file}`), { allowHttp: false });
      expect(r.ok ? [] : r.problems).toEqual([]);
    },
  );

  it.each<[string, string, RegExp]>([
    [
      'non-triggerable-metric.json',
      '$.definition.triggers[0].id',
      /metric 'Opened Email' cannot trigger a flow/,
    ],
    ['http-url-and-redos.json', '$.definition.actions[0].data.message.url', /must use https/],
    [
      'http-url-and-redos.json',
      '$.definition.triggers[0].trigger_filter.condition_groups[0].conditions[0].filter.value',
      /unsafe or invalid regex: nested quantifiers/,
    ],
    ['cycle.json', '$.definition.actions[0]', /actions form a cycle: a → b → a/],
    [
      'coupon-in-body.json',
      '$.definition.actions[0].data.message.body',
      /line 3, column 14: .*coupon codes are not supported/,
    ],
  ])('invalid/%s is refused at %s', (file, path, message) => {
    expectProblem(readFixture(`flows/invalid/${file}`), path, message);
  });
});

describe('validateFlow: schema', () => {
  it.each<[string, unknown]>([
    ['null', null],
    ['a number', 42],
    ['a string', 'flow'],
    ['an array', []],
    ['an empty object', {}],
  ])('never throws on %s', (_d, doc) => {
    const r = validateFlow(doc, { allowHttp: false });
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.problems.length).toBeGreaterThan(0);
  });

  it.each<[string, (d: Doc) => void, string, RegExp]>([
    ['a missing name', (d) => delete d.name, '$.name', /is required/],
    [
      'an unknown status',
      (d) => (d.status = 'paused'),
      '$.status',
      /must be one of: "live", "manual", "draft"/,
    ],
    ['a fractional version', (d) => (d.version = 1.5), '$.version', /must be integer/],
    ['a bad id', (d) => (d.id = 'has spaces'), '$.id', /must match/],
    [
      'a bad updated_at',
      (d) => (d.updated_at = 'yesterday'),
      '$.updated_at',
      /must be a valid date-time/,
    ],
    [
      'no definition',
      (d) => delete (d as Record<string, unknown>).definition,
      '$.definition',
      /is required/,
    ],
    [
      'an unknown action type',
      (d) => (d.definition.actions[1] = { id: 'x', type: 'send-fax' }),
      '$.definition.actions[1].type',
      /unknown type "send-fax"; expected one of: send-webhook, conditional-split/,
    ],
    [
      'a webhook without url',
      (d) =>
        delete (d.definition.actions[1] as { data: { message: Record<string, unknown> } }).data
          .message.url,
      '$.definition.actions[1].data.message.url',
      /is required/,
    ],
    [
      'a numeric header value',
      (d) =>
        ((
          d.definition.actions[1] as { data: { message: { headers: Record<string, unknown> } } }
        ).data.message.headers.X = 5),
      '$.definition.actions[1].data.message.headers.X',
      /must be string/,
    ],
    [
      'an unknown trigger type',
      (d) => (d.definition.triggers = [{ type: 'webhook' }]),
      '$.definition.triggers[0].type',
      /unknown type "webhook"/,
    ],
    [
      'a bad filter operator',
      (d) =>
        ((
          (d.definition.triggers as Record<string, unknown>[])[0] as { trigger_filter: unknown }
        ).trigger_filter = conditions(
          metricProp('$value', { type: 'numeric', operator: 'about', value: 1 }),
        )),
      '$.definition.triggers[0].trigger_filter.condition_groups[0].conditions[0].filter.operator',
      /must be one of/,
    ],
    [
      'a string where a list is expected',
      (d) =>
        ((
          (d.definition.triggers as Record<string, unknown>[])[0] as { trigger_filter: unknown }
        ).trigger_filter = conditions(
          metricProp('x', { type: 'string', operator: 'in', value: 'a' }),
        )),
      '$.definition.triggers[0].trigger_filter.condition_groups[0].conditions[0].filter.value',
      /must be array/,
    ],
    [
      'a bad delay unit',
      (d) =>
        ((
          d.definition.actions[actionIndex(d, 'wait-3-days')] as { data: Record<string, unknown> }
        ).data.unit = 'fortnights'),
      '$.definition.actions[4].data.unit',
      /must be one of/,
    ],
    [
      'a bad signing secret name',
      (d) =>
        ((
          d.definition.actions[2] as { data: { message: Record<string, unknown> } }
        ).data.message.signing_secret = 'not a name!'),
      '$.definition.actions[2].data.message.signing_secret',
      /must match/,
    ],
    [
      'a bad reentry unit',
      (d) => (d.definition.reentry_criteria = { duration: 1, unit: 'month' }),
      '$.definition.reentry_criteria.unit',
      /must be one of/,
    ],
  ])('refuses %s at %s', (_d, mutate, path, message) => {
    const doc = base();
    mutate(doc);
    expectProblem(doc, path, message);
  });

  it('accepts unknown members everywhere (Klaviyo documents carry more than flowhook reads)', () => {
    const doc = base() as Doc & Record<string, unknown>;
    doc.created = '2024-01-01';
    doc.definition.extra = { anything: [1, 2] };
    (doc.definition.triggers as Record<string, unknown>[])[0]!.metric_service = 'api';
    for (const a of doc.definition.actions) {
      a.render_options = { shorten_links: true };
      if (typeof a.data === 'object' && a.data !== null)
        (a.data as Record<string, unknown>).experiment = null;
    }
    expect(problemsOf(doc)).toEqual([]);
  });
});

describe('validateFlow: robustness', () => {
  /** Every JSON path of a document, as key lists. */
  function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
    const out: (string | number)[][] = [prefix];
    if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
    else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
    }
    return out;
  }

  it('never throws, whatever value replaces any member of a valid flow', () => {
    const original = base();
    const replacements: unknown[] = [null, 42, 'x', [], {}, true, [null], { type: 'x' }];
    let rejected = 0;
    for (const path of paths(original).slice(1)) {
      for (const replacement of replacements) {
        const doc = clone(original) as unknown as Record<string | number, unknown>;
        let parent: Record<string | number, unknown> = doc;
        for (const key of path.slice(0, -1))
          parent = parent[key] as Record<string | number, unknown>;
        parent[path[path.length - 1] as string | number] = replacement;
        const r = validateFlow(doc, { allowHttp: false });
        if (!r.ok) {
          rejected++;
          for (const p of r.problems) {
            expect(p.path).toMatch(/^\$/);
            expect(p.message).toEqual(expect.any(String));
          }
        }
      }
    }
    expect(rejected).toBeGreaterThan(100);
  });
});

describe('validateFlow: triggers', () => {
  // The seed's list of metrics that cannot trigger a flow, verbatim.
  const SEED_NON_TRIGGERABLE =
    'Bounced email · Clicked email · Clicked SMS · Dropped email · Failed to deliver SMS · ' +
    'Failed to deliver automated response SMS · Merged profile · Marked email as spam · ' +
    'Opened email · Received email · Received automated response SMS · Received SMS · ' +
    'Unsubscribed · Unsubscribed from list · Unsubscribed from SMS marketing';

  it.each(SEED_NON_TRIGGERABLE.split(' · ').map((m) => [m]))(
    "refuses the seed's non-triggerable metric %s",
    (metric) => {
      expectProblem(
        flowDoc({}, { triggers: [{ type: 'metric', id: metric }] }),
        '$.definition.triggers[0].id',
        /cannot trigger a flow/,
      );
    },
  );

  it("lists exactly the seed's 15 metrics", () => {
    const norm = (m: string): string => m.toLowerCase();
    expect(NON_TRIGGERABLE_METRICS.map(norm).sort()).toEqual(
      SEED_NON_TRIGGERABLE.split(' · ').map(norm).sort(),
    );
  });

  it.each(NON_TRIGGERABLE_METRICS.map((m) => [m]))(
    'refuses the non-triggerable metric %s',
    (metric) => {
      expectProblem(
        flowDoc({}, { triggers: [{ type: 'metric', id: metric }] }),
        '$.definition.triggers[0].id',
        /cannot trigger a flow/,
      );
    },
  );

  it.each([
    'opened email',
    'Marked as spam Email',
    'Failed to deliver (automated response) SMS',
    'Received (automated response) SMS',
    'Unsubscribed from SMS marketing',
  ])('recognizes the spelling %s', (metric) => {
    expect(isTriggerableMetric(metric)).toBe(false);
  });

  it.each([
    'Placed Order',
    'Unsubscribed from Email Marketing',
    'Subscribed to List',
    'Clicked Email Link',
  ])('accepts %s', (metric) => {
    expect(isTriggerableMetric(metric)).toBe(true);
  });

  it('compiles a date trigger on a profile property with Klaviyo defaults', () => {
    const r = validateFlow(
      flowDoc(
        {},
        {
          triggers: [
            {
              type: 'date',
              date_field_type: 'profile-property',
              date_profile_property: 'Birthday',
              timedelta_value_before_date: 0,
              recurrence_frequency: 'annually',
              trigger_time: '09:30',
            },
          ],
        },
      ),
      { allowHttp: false },
    );
    expect(r.ok).toBe(true);
    const t = r.ok ? r.flow.trigger : null;
    expect(t?.type === 'date' ? { ...t.date, read: undefined } : t).toEqual({
      property: 'Birthday',
      read: undefined,
      leadUnit: 'weeks',
      leadValue: 0,
      recurrence: 'annually',
      timezone: 'profile',
      triggerTime: [9, 30, 0],
      triggerDays: null,
    });
    expect(r.ok && r.flow.reentry).toEqual({ duration: 0, unit: 'alltime' });
  });

  it.each<[Record<string, unknown>, string, RegExp]>([
    [{ date_field_type: 'custom-object' }, 'date_field_type', /custom objects are not stored/],
    [{ date_profile_property: '' }, 'date_profile_property', /is required/],
    [{ trigger_time: '25:00' }, 'trigger_time', /HH:MM/],
    [{ timezone: 'Mars/Olympus' }, 'timezone', /IANA/],
    [{ trigger_days: ['someday'] }, 'trigger_days[0]', /not a weekday/],
  ])('refuses the date trigger %j with its path', (over, field, message) => {
    expectProblem(
      flowDoc(
        {},
        {
          triggers: [
            { type: 'date', date_profile_property: 'Birthday', trigger_time: '09:00', ...over },
          ],
        },
      ),
      `$.definition.triggers[0].${field}`,
      message,
    );
  });

  it.each([
    ['price-drop', 'price_drop_amount_value'],
    ['low-inventory', 'inventory_count'],
  ])('refuses a %s trigger without its required fields', (type, field) => {
    expectProblem(
      flowDoc({}, { triggers: [{ type }] }),
      `$.definition.triggers[0].${field}`,
      'is required',
    );
  });

  it.each<[string, unknown[]]>([
    ['none', []],
    [
      'two',
      [
        { type: 'metric', id: 'Placed Order' },
        { type: 'list', id: 'L1' },
      ],
    ],
  ])('needs exactly one trigger (%s)', (_d, triggers) => {
    expectProblem(flowDoc({}, { triggers }), '$.definition.triggers', /exactly one trigger/);
  });

  it('accepts list and segment triggers', () => {
    expect(problemsOf(flowDoc({}, { triggers: [{ type: 'list', id: 'L1' }] }))).toEqual([]);
    expect(problemsOf(flowDoc({}, { triggers: [{ type: 'segment', id: 'S1' }] }))).toEqual([]);
  });

  it('refuses trigger splits outside metric flows', () => {
    const doc = flowDoc(
      {},
      {
        triggers: [{ type: 'list', id: 'L1' }],
        entry_action_id: 'split',
        actions: [
          triggerSplit(
            'split',
            'hook',
            null,
            metricProp('$value', { type: 'existence', operator: 'is-set' }),
          ),
          clone(webhook('hook', null)),
        ],
      },
    );
    expectProblem(
      doc,
      '$.definition.actions[0].type',
      'trigger splits exist only in metric-triggered and price-drop flows',
    );
  });

  it('refuses a trigger split on another metric', () => {
    const doc = base();
    (doc.definition.actions[0] as { data: Record<string, unknown> }).data.trigger_id =
      'Viewed Product';
    expectProblem(
      doc,
      '$.definition.actions[0].data.trigger_id',
      "must be the trigger metric 'Placed Order'",
    );
  });
});

describe('validateFlow: graph', () => {
  it('refuses an entry_action_id that names no action', () => {
    expectProblem(
      flowDoc({}, { entry_action_id: 'nope' }),
      '$.definition.entry_action_id',
      "no action has id 'nope'",
    );
    expectProblem(
      flowDoc({}, { entry_action_id: null }),
      '$.definition.entry_action_id',
      'is required',
    );
  });

  it('refuses dangling links, on plain and split links', () => {
    expectProblem(
      flowDoc({}, { actions: [webhook('hook', 'ghost')] }),
      '$.definition.actions[0].links.next',
      "no action has id 'ghost'",
    );
    const split = flowDoc(
      {},
      {
        entry_action_id: 's',
        actions: [
          conditionalSplit(
            's',
            'hook',
            'ghost',
            profileProp('email', { type: 'existence', operator: 'is-set' }),
          ),
          webhook('hook', null),
        ],
      },
    );
    expectProblem(split, '$.definition.actions[0].links.next_if_false', "no action has id 'ghost'");
  });

  it('refuses cycles, naming them', () => {
    const doc = flowDoc(
      {},
      { entry_action_id: 'a', actions: [webhook('a', 'b'), pass('b', 'c'), delay('c', 'a')] },
    );
    expectProblem(doc, '$.definition.actions[0]', 'actions form a cycle: a → b → c → a');
    const self = flowDoc({}, { entry_action_id: 'a', actions: [webhook('a', 'a')] });
    expectProblem(self, '$.definition.actions[0]', 'cycle: a → a');
  });

  it('refuses duplicate and missing ids; accepts temporary_id', () => {
    expectProblem(
      flowDoc({}, { actions: [webhook('hook', null), webhook('hook', null)] }),
      '$.definition.actions[1].id',
      "duplicate action id 'hook'",
    );
    const noId = flowDoc({}, { actions: [webhook('hook', null), { type: 'send-email' }] });
    expectProblem(noId, '$.definition.actions[1].id', 'an action needs an id (or a temporary_id)');
    const temp = webhook('x', null);
    delete temp.id;
    temp.temporary_id = 'hook';
    expect(problemsOf(flowDoc({}, { actions: [temp] }))).toEqual([]);
  });

  it('warns about unreachable actions', () => {
    const w = warningsOf(
      flowDoc({}, { actions: [webhook('hook', null), webhook('orphan', null)] }),
    );
    expect(w).toContainEqual({
      path: '$.definition.actions[1]',
      message: "action 'orphan' is never reached",
    });
  });

  it('reports pass-through actions as warnings and refuses unsupported ones', () => {
    const doc = flowDoc(
      {},
      {
        entry_action_id: 'mail',
        actions: [pass('mail', 'sms'), pass('sms', 'hook', 'send-sms'), webhook('hook', null)],
      },
    );
    expect(warningsOf(doc)).toEqual([
      {
        path: '$.definition.actions[0].type',
        message:
          "action type 'send-email' is not run by flowhook: profiles pass through to links.next",
      },
      {
        path: '$.definition.actions[1].type',
        message:
          "action type 'send-sms' is not run by flowhook: profiles pass through to links.next",
      },
    ]);
    const unsupported = flowDoc(
      {},
      {
        entry_action_id: 'wait',
        actions: [
          { id: 'wait', type: 'target-date', data: {}, links: { next: 'hook' } },
          webhook('hook', null),
        ],
      },
    );
    expectProblem(
      unsupported,
      '$.definition.actions[0].type',
      "action type 'target-date' is not supported yet",
    );
  });

  it('checks multi-branch splits', () => {
    const doc = flowDoc(
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
                { branch_id: 'b1', links: { next: 'hook' } },
                { branch_id: 'e1', is_else: true, links: { next: 'hook' } },
                { branch_id: 'e2', is_else: true, links: { next: 'ghost' } },
              ],
            },
          },
          webhook('hook', null),
        ],
      },
    );
    expectProblem(
      doc,
      '$.definition.actions[0].data.branches[0].branch_filter',
      'is required unless is_else is true',
    );
    expectProblem(
      doc,
      '$.definition.actions[0].data.branches[2].is_else',
      'only one branch can be the else branch',
    );
    expectProblem(
      doc,
      '$.definition.actions[0].data.branches[2].links.next',
      "no action has id 'ghost'",
    );
  });

  it('checks time delays', () => {
    const doc = flowDoc(
      {},
      {
        entry_action_id: 'w',
        actions: [
          delay('w', 'hook', { unit: 'days', value: 1, timezone: 'Mars/Olympus' }),
          webhook('hook', null),
        ],
      },
    );
    expectProblem(doc, '$.definition.actions[0].data.timezone', "unknown time zone 'Mars/Olympus'");
    const ignored = flowDoc(
      {},
      {
        entry_action_id: 'w',
        actions: [
          delay('w', 'hook', { unit: 'hours', value: 1, delay_until_time: '10:00' }),
          webhook('hook', null),
        ],
      },
    );
    expect(warningsOf(ignored)).toContainEqual({
      path: '$.definition.actions[0].data.delay_until_time',
      message: "applies only to unit 'days'; ignored",
    });
  });

  it('marks delays with nothing live after them', () => {
    const doc = flowDoc(
      {},
      {
        entry_action_id: 'w1',
        actions: [
          delay('w1', 'hook'),
          webhook('hook', 'w2'),
          delay('w2', 'draft'),
          webhook('draft', 'mail', {}, 'draft'),
          pass('mail', null),
        ],
      },
    );
    const flow = compileFlowOrThrow(doc, { allowHttp: false });
    expect(flow.actions.get('w1')).toMatchObject({ kind: 'delay', workAfter: true });
    expect(flow.actions.get('w2')).toMatchObject({ kind: 'delay', workAfter: false });
  });
});

describe('validateFlow: webhooks', () => {
  const withMessage = (message: Record<string, unknown>, status: string | null = 'live'): Doc =>
    flowDoc({}, { actions: [webhook('hook', null, message, status)] });
  const M = '$.definition.actions[0].data.message';

  it.each<[string, string, RegExp]>([
    ['http://crm.example.com/x', `${M}.url`, /must use https \(http needs FLOWHOOK_ALLOW_HTTP\)/],
    ['ftp://crm.example.com/x', `${M}.url`, /must use https/],
    ['/relative/path', `${M}.url`, /must be an absolute URL/],
    ['crm.example.com/hook', `${M}.url`, /must be an absolute URL/],
    ['https://user:pass@crm.example.com/x', `${M}.url`, /must not contain credentials/],
    [
      'https://crm.example.com/customers/{{ person.id }}',
      `${M}.url`,
      /template tags are not supported in the URL/,
    ],
  ])('refuses the URL %s', (url, path, message) => {
    expectProblem(withMessage({ url }), path, message);
  });

  it('accepts http only when allowed', () => {
    expect(problemsOf(withMessage({ url: 'http://crm.example.com/x' }), true)).toEqual([]);
    expectProblem(
      withMessage({ url: 'ftp://crm.example.com/x' }),
      `${M}.url`,
      'must use http or https',
      true,
    );
  });

  it('warns about loopback and private hosts (the delivery guard decides)', () => {
    for (const url of [
      'https://localhost/x',
      'https://10.1.2.3/x',
      'https://192.168.0.1/x',
      'https://[::1]/x',
      // spellings the delivery guard also resolves to loopback / metadata / private
      'https://0x7f.1/x',
      'https://2130706433/x',
      'https://[::ffff:169.254.169.254]/x',
      'https://[fd00::1]/x',
    ]) {
      expect(warningsOf(withMessage({ url }))).toContainEqual({
        path: `${M}.url`,
        message: expect.stringContaining('loopback or private'),
      });
    }
    expect(warningsOf(withMessage({ url: 'https://93.184.215.14/x' }))).toEqual([]);
  });

  it.each<[Record<string, string>, string, RegExp]>([
    [{ Host: 'evil.example.com' }, `${M}.headers.Host`, /set by the delivery worker/],
    [
      { 'webhook-signature': 'x' },
      `${M}.headers['webhook-signature']`,
      /set by the delivery worker/,
    ],
    [{ 'Bad Name': 'x' }, `${M}.headers['Bad Name']`, /not a valid header name/],
    [{ 'Content-Type': 'text/plain' }, `${M}.headers['Content-Type']`, /must be application\/json/],
    [{ 'X-A': '1', 'x-a': '2' }, `${M}.headers['x-a']`, /given twice/],
    [{ 'X-A': 'a\r\nInjected: 1' }, `${M}.headers['X-A']`, /line breaks/],
    [{ 'X-A': '{{ email ' }, `${M}.headers['X-A']`, /.+/],
    // delivery would drop these: refused, naming the header
    [{ 'User-Agent': 'crm/1' }, `${M}.headers['User-Agent']`, /'User-Agent' is set by the/],
    [{ Expect: '100-continue' }, `${M}.headers.Expect`, /'Expect' is set by the delivery/],
    [{ TE: 'trailers' }, `${M}.headers.TE`, /'TE' is set by the delivery worker/],
    [{ 'Keep-Alive': '5' }, `${M}.headers['Keep-Alive']`, /'Keep-Alive' is set by the/],
    [{ 'Proxy-Foo': 'x' }, `${M}.headers['Proxy-Foo']`, /'Proxy-Foo' is set by the/],
    [{ 'Content-Type': 'application/jsonp' }, `${M}.headers['Content-Type']`, /application\/json/],
    // credentials must come from secrets
    [
      { Authorization: 'Bearer abc123' },
      `${M}.headers.Authorization`,
      /'Authorization' carries a credential.*secrets\.NAME/,
    ],
    [{ 'X-Api-Key': 'k-1' }, `${M}.headers['X-Api-Key']`, /'X-Api-Key' carries a credential/],
    [{ Cookie: 'sid={{ person.email }}' }, `${M}.headers.Cookie`, /'Cookie' carries a credential/],
    [{ 'X-Shop-Token': 'literal' }, `${M}.headers['X-Shop-Token']`, /carries a credential/],
  ])('refuses the headers %j', (headers, path, message) => {
    expectProblem(withMessage({ headers }), path, message);
  });

  it('accepts literal credentials with FLOWHOOK_ALLOW_LITERAL_CREDENTIALS=true', () => {
    const doc = withMessage({ headers: { Authorization: 'Bearer abc123', 'X-Api-Key': 'k-1' } });
    const allowed = validateOptions(buildConfig({ FLOWHOOK_ALLOW_LITERAL_CREDENTIALS: 'true' }));
    expect(validateFlow(doc, allowed).ok).toBe(true);
    expect(validateFlow(doc, validateOptions(buildConfig({}))).ok).toBe(false);
  });

  it('refuses every header the delivery worker would drop', () => {
    const sample = { 'X-Flow': 'x', 'X-Request-Source': 'flowhook' };
    for (const name of [
      'Host',
      'Content-Length',
      'Connection',
      'Transfer-Encoding',
      'Upgrade',
      'Trailer',
      'Proxy-Connection',
      'webhook-id',
      'webhook-timestamp',
      'User-Agent',
    ]) {
      const headers = { ...sample, [name]: 'v' };
      const kept = Object.keys(stripReservedHeaders(headers, isReservedHeader));
      expect(kept).toEqual(Object.keys(sample));
      expect(problemsOf(withMessage({ headers }))).toContainEqual({
        path: expect.stringContaining(name) as unknown as string,
        message: expect.stringContaining(`'${name}'`) as unknown as string,
      });
    }
  });

  it('accepts application/json content types and secret references in headers', () => {
    expect(
      problemsOf(
        withMessage({
          headers: {
            'content-type': 'application/json; charset=utf-8',
            Authorization: 'Bearer {{ secrets.TOKEN }}',
          },
        }),
      ),
    ).toEqual([]);
  });

  it('maps template problems to the body path with the template line', () => {
    const problems = problemsOf(
      withMessage({ body: '{\n  "a": "{{ email }}",\n  "b": "{% if %}"\n}' }),
    );
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]?.path).toBe(`${M}.body`);
    expect(problems[0]?.message).toMatch(/^line 3/);
  });

  it.each<[string, RegExp]>([
    ['{"c": "{% coupon_code \'SPRING\' %}"}', /coupon codes are not supported/],
    ['{"items": {{ feeds.bestsellers|tojson }}}', /web feeds.* not supported in webhooks/],
    [
      '{"p": "{% catalog item.id %}{{ catalog_item.title }}{% endcatalog %}"}',
      /product feeds.* not supported in webhooks/,
    ],
  ])('refuses unsupported template features: %s', (body, message) => {
    expectProblem(withMessage({ body }), `${M}.body`, message);
  });

  it('warns when a body fails to render for a profile and event without its fields', () => {
    const doc = withMessage({ body: '{"total": {{ event.Total }}, "email": "{{ email }}"}' });
    expect(warningsOf(doc)).toContainEqual({
      path: `${M}.body`,
      message: expect.stringMatching(
        /^fails to render for a profile and event without the fields it uses: .*event\.Total/,
      ),
    });
    expect(warningsOf(withMessage({ body: '{"total": {{ event.Total|tojson }}}' }))).toEqual([]);
  });

  it("renders no sample with renderSample false (the trigger's table: render compiles)", () => {
    const doc = withMessage({ body: '{"total": {{ event.Total }}, "email": "{{ email }}"}' });
    const r = validateFlow(doc, { allowHttp: false, renderSample: false });
    expect(r).toMatchObject({ ok: true, warnings: [] });
  });

  it.each([
    '{"c": "{{ event.coupon }}"}',
    '{"c": "{{ event.coupon_code }}", "d": "{{ person.coupon|default:\'none\' }}"}',
    '{"c": "{% if event.coupon %}{{ event.coupon }}{% endif %}"}',
  ])('accepts properties named like the coupon tags: %s', (body) => {
    expect(problemsOf(withMessage({ body }))).toEqual([]);
  });

  it.each([
    '{"c": "{% coupon_code \'SPRING\' %}"}',
    '{"c": "{% unique_coupon_code %}"}',
    '{"c": "{{ coupon_code }}"}',
  ])('refuses the coupon tag in %s', (body) => {
    expect(findUnsupportedTemplateFeatures(body)).toEqual([
      { line: 1, message: 'coupon codes are not supported in webhooks' },
    ]);
  });

  it('finds unsupported features with their lines', () => {
    expect(findUnsupportedTemplateFeatures('{\n"a": 1,\n"c": "{% coupon_code \'X\' %}"}')).toEqual([
      { line: 3, message: 'coupon codes are not supported in webhooks' },
    ]);
    expect(
      findUnsupportedTemplateFeatures('{"a": "{{ event.feedback }}", "b": "{{ person.feeds }}"}'),
    ).toEqual([]);
  });

  it("defaults a missing status to Klaviyo's draft, with a warning", () => {
    const doc = withMessage({}, null);
    expect(warningsOf(doc)).toContainEqual({
      path: '$.definition.actions[0].data.status',
      message: expect.stringContaining("'draft'"),
    });
    expect(compileFlowOrThrow(doc, { allowHttp: false }).actions.get('hook')).toMatchObject({
      kind: 'webhook',
      status: 'draft',
    });
  });

  it('precompiles templates so nothing compiles on the hot path', () => {
    const flow = compileFlowOrThrow(base(), { allowHttp: false });
    const crm = flow.actions.get('webhook-crm');
    if (crm?.kind !== 'webhook') throw new Error('expected a webhook');
    expect(crm.body?.kind).toBe('body');
    expect(crm.headers.map((h) => [h.name, h.template.kind])).toEqual([
      ['Authorization', 'header'],
      ['X-Flow', 'header'],
    ]);
    expect(crm.signingSecret).toBe('CRM_SIGNING_SECRET');
    const noBody = compileFlowOrThrow(withMessage({ body: null }), {
      allowHttp: false,
    }).actions.get('hook');
    expect(noBody).toMatchObject({ kind: 'webhook', body: null });
  });
});

describe('validateFlow: filters and re-entry', () => {
  it('refuses catastrophic regexes in the profile filter, pointing at the value', () => {
    const doc = flowDoc(
      {},
      {
        profile_filter: conditions(
          profileProp('email', { type: 'string', operator: 'nregex', value: '(a|aa)+$' }),
        ),
      },
    );
    expectProblem(
      doc,
      '$.definition.profile_filter.condition_groups[0].conditions[0].filter.value',
      /ambiguous alternation/,
    );
  });

  it('refuses conditions on the profile store when the store is off, with a reason', () => {
    const doc = flowDoc(
      {},
      {
        profile_filter: conditions({
          type: 'profile-metric',
          metric_id: 'x',
          measurement: 'count',
          measurement_filter: { type: 'numeric', operator: 'equals', value: 0 },
          timeframe_filter: { type: 'date', operator: 'alltime' },
        }),
      },
    );
    expect(validateFlow(doc, { allowHttp: false }).ok).toBe(true);
    const off = validateFlow(doc, { allowHttp: false, profileStore: false });
    expect(off.ok).toBe(false);
    expect(off.ok ? [] : off.problems).toEqual([
      {
        path: '$.definition.profile_filter.condition_groups[0].conditions[0].type',
        message: expect.stringMatching(/reads the profile store, which is off/),
      },
    ]);
  });

  it('refuses profile conditions in trigger filters', () => {
    const doc = flowDoc(
      {},
      {
        triggers: [
          {
            type: 'metric',
            id: 'Placed Order',
            trigger_filter: conditions(
              profileProp('email', { type: 'existence', operator: 'is-set' }),
            ),
          },
        ],
      },
    );
    expectProblem(
      doc,
      '$.definition.triggers[0].trigger_filter.condition_groups[0].conditions[0].type',
      'not allowed in a trigger filter',
    );
  });

  it('accepts alltime re-entry only with duration 0 or 1', () => {
    expectProblem(
      flowDoc({}, { reentry_criteria: { duration: 2, unit: 'alltime' } }),
      '$.definition.reentry_criteria.duration',
      /duration must be 1/,
    );
    expect(problemsOf(flowDoc({}, { reentry_criteria: { duration: 1, unit: 'alltime' } }))).toEqual(
      [],
    );
  });

  it('defaults re-entry: metric flows always, list and segment flows once', () => {
    expect(compileFlowOrThrow(flowDoc(), { allowHttp: false }).reentry).toEqual({
      duration: 0,
      unit: 'alltime',
    });
    expect(
      compileFlowOrThrow(flowDoc({}, { triggers: [{ type: 'list', id: 'L' }] }), {
        allowHttp: false,
      }).reentry,
    ).toEqual({ duration: 1, unit: 'alltime' });
    expect(
      compileFlowOrThrow(flowDoc({}, { reentry_criteria: { duration: 12, unit: 'hour' } }), {
        allowHttp: false,
      }).reentry,
    ).toEqual({ duration: 12, unit: 'hour' });
  });
});

describe('compileFlowOrThrow', () => {
  it('throws FlowValidationError listing every problem', () => {
    try {
      compileFlowOrThrow(readFixture('flows/invalid/http-url-and-redos.json'), {
        allowHttp: false,
      });
      throw new Error('expected a throw');
    } catch (e) {
      expect(e).toBeInstanceOf(FlowValidationError);
      const err = e as FlowValidationError;
      expect(err.problems).toHaveLength(2);
      expect(err.message).toContain('$.definition.actions[0].data.message.url: must use https');
      expect(err.retriable).toBe(false);
    }
  });
});

describe('validateOptions: the configured render limits', () => {
  const loopBody =
    '{"items": [{% for i in event.items %}{{ i }}{% if not forloop.last %},{% endif %}{% endfor %}]}';
  const input = (items: number[]) => ({
    profile: {},
    event: { items },
    organization: {},
    flow: { id: 'flow-1', name: 'Test flow' },
    now: new Date(0),
  });
  const compiledBody = (env: Record<string, string>, body: string) => {
    const r = validateFlow(
      flowDoc({}, { actions: [webhook('hook', null, { body })] }),
      validateOptions(buildConfig(env)),
    );
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const action = r.flow.actions.get('hook');
    if (action?.kind !== 'webhook' || action.body === null) throw new Error('no webhook body');
    return action.body;
  };

  it('FLOWHOOK_TEMPLATE_MAX_LOOP bounds loop iterations', () => {
    const body = compiledBody({ FLOWHOOK_TEMPLATE_MAX_LOOP: '3' }, loopBody);
    expect(renderBody(body, input([1, 2, 3]))).toBe('{"items": [1,2,3]}');
    expect(() => renderBody(body, input([1, 2, 3, 4]))).toThrow(TemplateLimitError);
  });

  it('FLOWHOOK_MAX_BODY_BYTES bounds the rendered body', () => {
    const body = compiledBody({ FLOWHOOK_MAX_BODY_BYTES: '40' }, loopBody);
    expect(limitHit(() => renderBody(body, input([1, 2, 3])))).toBeUndefined();
    const many = Array.from({ length: 20 }, (_, i) => i);
    expect(limitHit(() => renderBody(body, input(many)))).toBe('maxOutputBytes');
  });

  const limitHit = (fn: () => unknown): string | undefined => {
    try {
      fn();
    } catch (err) {
      if (err instanceof TemplateLimitError) return err.limit;
      throw err;
    }
    return undefined;
  };

  it('FLOWHOOK_TEMPLATE_TIMEOUT is the render budget', () => {
    // 9 million empty iterations: allowed by the loop limit, far beyond a 1 ms budget.
    const nested =
      '{"n": 0{% for i in event.items %}{% for j in event.items %}{% endfor %}{% endfor %}}';
    const body = compiledBody(
      { FLOWHOOK_TEMPLATE_TIMEOUT: '1ms', FLOWHOOK_TEMPLATE_MAX_LOOP: '10000000' },
      nested,
    );
    const items = Array.from({ length: 3000 }, (_, i) => i);
    expect(limitHit(() => renderBody(body, input(items)))).toBe('timeoutMs');
  });
});

describe('validateFlow: metric ids (FLOWHOOK_METRIC_CATALOG)', () => {
  const metricFlow = (id: string) => flowDoc({}, { triggers: [{ type: 'metric', id }] });
  const catalog = { XyZ9aB: 'Placed Order', Op3nEd: 'Opened Email' };

  it('resolves a Klaviyo metric id to the name events carry, so the flow matches them', () => {
    const r = validateFlow(metricFlow('XyZ9aB'), { allowHttp: false, metricCatalog: catalog });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.flow.trigger).toMatchObject({ type: 'metric', metric: 'Placed Order' });
    expect(r.warnings).toEqual([]);
    const table = new FlowTable({ allowHttp: false, metricCatalog: catalog });
    expect(table.apply('flow-1', metricFlow('XyZ9aB')).outcome).toBe('accepted');
    const event = {
      id: 'e',
      metric: 'Placed Order',
      time: '2024-01-01T00:00:00Z',
      profile: { email: 'a@b.c' },
      properties: {},
    };
    expect(table.candidates(event).map((f) => f.id)).toEqual(['flow-1']);
  });

  it('still accepts the name, and refuses the id of a non-triggerable metric', () => {
    expect(warningsOf(metricFlow('Placed Order'))).toEqual([]);
    const r = validateFlow(metricFlow('Op3nEd'), { allowHttp: false, metricCatalog: catalog });
    expect(r.ok ? [] : r.problems).toContainEqual({
      path: '$.definition.triggers[0].id',
      message: expect.stringMatching(/'Opened Email' cannot trigger a flow/) as unknown as string,
    });
  });

  it('warns when a trigger is neither a known name nor a known id', () => {
    const r = validateFlow(metricFlow('Zz9Zz9'), { allowHttp: false, metricCatalog: catalog });
    expect(r.warnings).toContainEqual({
      path: '$.definition.triggers[0].id',
      message: expect.stringContaining(
        'neither a metric name nor a metric id',
      ) as unknown as string,
    });
    const named = validateFlow(metricFlow('Placed Order'), {
      allowHttp: false,
      metricCatalog: catalog,
    });
    expect(named.warnings).toEqual([]);
  });

  it('warns about an id-looking trigger when no catalog is configured', () => {
    expect(warningsOf(metricFlow('XyZ9aB'))).toContainEqual({
      path: '$.definition.triggers[0].id',
      message: expect.stringContaining('FLOWHOOK_METRIC_CATALOG') as unknown as string,
    });
    expect(warningsOf(metricFlow('Viewed'))).toEqual([]);
  });
});
