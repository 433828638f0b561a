// Compiles Klaviyo condition filters (trigger_filter, profile_filter, split filters) into plain
// predicate functions once, when a flow is validated, so that evaluating them per event costs
// only property reads and comparisons.
//
// Semantics (where Klaviyo documents none, these are flowhook's decisions):
//   - Conditions inside a group are ANDed, groups are ORed; an empty `condition_groups` list is
//     "no filter" (matches everything); a group without conditions is refused at validation.
//   - A missing value is `undefined` or `null`. Every positive operator (equals, contains,
//     starts-with, ends-with, regex, in, numeric comparisons, between, boolean equals, list
//     contains/length, every date operator) is false on a missing value. Every negative operator
//     (not-equals, not-contains, not-starts-with, not-ends-with, nregex, not-in, list
//     not-contains…) is exactly the negation of its positive twin, so it is TRUE on a missing
//     value ("DiscountCode not-equals STAFF" passes an order without a discount code).
//     is-set is true when the value is present and not the empty string; not-set is its negation.
//   - Values of the wrong type never throw: strings compare with strings, numbers and booleans
//     are compared as their text; numeric operators accept numbers and numeric strings ("12.50");
//     boolean equals accepts booleans and "true"/"false"; list operators need an array; date
//     operators accept ISO-8601 text ("2024-05-01", "2024-05-01 10:00:00" is read as UTC) and
//     Unix timestamps (seconds below 1e11, else milliseconds). Anything else is "not comparable":
//     the positive operator is false, the negative one true.
//   - String comparisons are case-sensitive. A string filter whose value is null behaves as the
//     empty string for equals / not-equals (equals null = "not set").
//   - regex / nregex use JavaScript syntax with search semantics (RegExp.test), after the static
//     ReDoS check in regex-safety.ts; a subject longer than MAX_REGEX_SUBJECT characters never
//     matches `regex` (and so always matches `nregex`).
//   - Relative dates count back from `now`: in-the-last N = within [now-N, now]; at-least N ago
//     = at or before now-N; in-the-next N = within [now, now+N]; between A and B (units ago) =
//     within [now-max, now-min]. Anniversaries and calendar months use UTC; calendar-month 1 is
//     January.
//   - Trigger filters (metric-property) read only top-level event properties, by literal name.
//     Those of price-drop and low-inventory flows (price-drop-property, low-inventory-property)
//     read the properties of the event a catalog change makes (ITEM_EVENT_FIELDS; other field
//     names are refused), each only in a flow with that trigger.
//   - Profile properties: `email`, `phone_number`, `external_id`, `first_name`, `last_name`,
//     `organization`, `title`, `id`, `location` and `location.<field>`; legacy `$email`,
//     `$first_name`, `$city`, `$region`, `$country`, `$zip`, `$timezone`, … map to those; custom
//     properties as `properties['Name']`, `properties.Name` or a bare name that is not a
//     well-known field (`Favorite Color`); further `.x` / `['x']` segments walk into objects.
//   - Evaluable profile condition types: profile-property, profile-region (from
//     location.country: ISO 3166 alpha-2 code or English name; unknown location matches neither
//     in_region true nor false), profile-sample (deterministic per flow and profile) and
//     profile-not-in-flow (from the per-profile state, in the flow's profile_filter only), and
//     those that read the profile store (src/profiles; profile filter and conditional splits):
//     profile-metric (count / sum of $value over a timeframe; metric_filters become a series
//     of their own, see MetricSeriesSpec), profile-group-membership (any of the list or
//     segment ids; a timeframe on when the profile joined) and profile-marketing-consent
//     (email / sms status; unknown = never subscribed). The others need data flowhook does not
//     have and are refused at validation with a message.

import { createHash } from 'node:crypto';
import { LOCATION_FIELDS, type Profile, PROFILE_STRING_FIELDS } from '../documents';
import { profileKey } from '../profile-key';
import { checkRegexSafety, type RegexSafetyOptions } from './regex-safety';
import { ITEM_EVENT_FIELDS } from './trigger-match';
import { seriesTotals, type ConsentChannel, type ConsentStatus } from '../profiles/record';
import type {
  Condition,
  ConditionContext,
  ConditionFilter,
  DateFilter,
  MetricSeriesSpec,
  Predicate,
  ProfileGroupMembershipCondition,
  ProfileMarketingConsentCondition,
  ProfileMetricCondition,
  PropertyFilter,
  RelativeUnit,
  StringFilter,
  ValidationProblem,
} from './types';

/** Longest string a `regex` / `nregex` filter is run against. */
export const MAX_REGEX_SUBJECT = 10_000;

/** Where a filter sits; decides which condition types it may hold. */
export type FilterLocation =
  | 'trigger-filter'
  | 'profile-filter'
  | 'conditional-split'
  | 'trigger-split'
  | 'multi-branch-split';

export interface CompileFilterOptions {
  location: FilterLocation;
  /** JSON path of the filter object, for problems. */
  path: string;
  /** The metric of the flow's metric trigger; null for list and segment flows. */
  triggerMetric: string | null;
  regex?: RegexSafetyOptions;
  /** A metric id as a flow names it → the metric name events carry (the metric catalog). */
  metricName?: (idOrName: string) => string;
  /** false: conditions that read the profile store are refused (FLOWHOOK_PROFILE_STORE=false). */
  profileStore?: boolean;
  /** Receives the property-filtered metric histories the filter's conditions read. */
  series?: MetricSeriesSpec[];
  /** The flow's trigger when it is a price-drop or low-inventory one (its filter reads the item). */
  itemTrigger?: 'price-drop' | 'low-inventory' | null;
}

export interface CompiledFilterResult {
  /** null: no filter (matches everything). */
  predicate: Predicate | null;
  problems: ValidationProblem[];
}

const UNIT_MS: Record<RelativeUnit, number> = {
  hour: 3_600_000,
  day: 86_400_000,
  week: 7 * 86_400_000,
};

// ---- filters ----------------------------------------------------------------------------------

export function compileConditionFilter(
  filter: ConditionFilter | null | undefined,
  options: CompileFilterOptions,
): CompiledFilterResult {
  const problems: ValidationProblem[] = [];
  if (filter === null || filter === undefined || filter.condition_groups.length === 0) {
    return { predicate: null, problems };
  }
  const groups: Predicate[][] = [];
  filter.condition_groups.forEach((group, g) => {
    const groupPath = `${options.path}.condition_groups[${g}]`;
    if (group.conditions.length === 0) {
      problems.push({
        path: `${groupPath}.conditions`,
        message: 'a condition group needs at least one condition',
      });
      return;
    }
    const preds: Predicate[] = [];
    group.conditions.forEach((condition, c) => {
      const compiled = compileCondition(condition, `${groupPath}.conditions[${c}]`, options);
      problems.push(...compiled.problems);
      if (compiled.predicate !== null) preds.push(compiled.predicate);
    });
    groups.push(preds);
  });
  if (problems.length > 0) return { predicate: null, problems };
  return { predicate: orOfAnds(groups), problems };
}

function orOfAnds(groups: Predicate[][]): Predicate {
  if (groups.length === 1) {
    const only = groups[0] as Predicate[];
    if (only.length === 1) return only[0] as Predicate;
    return (ctx) => only.every((p) => p(ctx));
  }
  return (ctx) => groups.some((g) => g.every((p) => p(ctx)));
}

const LOCATION_LABEL: Record<FilterLocation, string> = {
  'trigger-filter': 'a trigger filter',
  'profile-filter': 'a profile filter',
  'conditional-split': 'a conditional split',
  'trigger-split': 'a trigger split',
  'multi-branch-split': 'a multi-branch split',
};

/** Condition types that read the profile store (src/profiles). */
export const STORE_CONDITIONS: readonly string[] = [
  'profile-metric',
  'profile-group-membership',
  'profile-marketing-consent',
];

const ALLOWED: Record<FilterLocation, ReadonlySet<string>> = {
  'trigger-filter': new Set(['metric-property', 'price-drop-property', 'low-inventory-property']),
  'trigger-split': new Set(['metric-property', 'price-drop-property']),
  'profile-filter': new Set([
    'profile-property',
    'profile-region',
    'profile-sample',
    'profile-not-in-flow',
    ...STORE_CONDITIONS,
  ]),
  'conditional-split': new Set([
    'profile-property',
    'profile-region',
    'profile-sample',
    ...STORE_CONDITIONS,
  ]),
  'multi-branch-split': new Set([
    'profile-property',
    'profile-region',
    'profile-sample',
    'metric-property',
  ]),
};

const REFUSED_REASON: Record<string, string> = {
  'profile-postal-code-distance':
    'needs a postal-code geography database, which flowhook does not have',
  'profile-predictive-analytics': 'needs predictive analytics, which flowhook does not compute',
  'profile-has-custom-object': 'needs custom objects, which flowhook does not store',
  'profile-permissions': 'needs WhatsApp permission state, which flowhook does not have',
  'profile-not-sent-email': 'needs message history, which flowhook does not keep',
  'profile-not-sent-sms': 'needs message history, which flowhook does not keep',
  'profile-not-sent-push': 'needs message history, which flowhook does not keep',
  'custom-object-trigger-property': 'custom-object triggers are not supported',
  'custom-object-property': 'custom objects are not supported',
  'action-output': 'action outputs are not supported',
};

function compileCondition(
  condition: Condition,
  path: string,
  options: CompileFilterOptions,
): CompiledFilterResult {
  const problems: ValidationProblem[] = [];
  const type = condition.type;
  const refused = REFUSED_REASON[type];
  if (refused !== undefined) {
    problems.push({
      path: `${path}.type`,
      message: `condition type '${type}' is not supported: ${refused}`,
    });
    return { predicate: null, problems };
  }
  if (STORE_CONDITIONS.includes(type) && options.profileStore === false) {
    problems.push({
      path: `${path}.type`,
      message: `condition type '${type}' reads the profile store, which is off (FLOWHOOK_PROFILE_STORE=false)`,
    });
    return { predicate: null, problems };
  }
  if (!ALLOWED[options.location].has(type)) {
    problems.push({
      path: `${path}.type`,
      message: `condition type '${type}' is not allowed in ${LOCATION_LABEL[options.location]}`,
    });
    return { predicate: null, problems };
  }
  switch (condition.type) {
    case 'metric-property': {
      if (options.triggerMetric === null) {
        problems.push({
          path: `${path}.type`,
          message: 'metric-property conditions need a metric trigger',
        });
        return { predicate: null, problems };
      }
      if (condition.metric_id !== options.triggerMetric) {
        problems.push({
          path: `${path}.metric_id`,
          message: `must be the trigger metric '${options.triggerMetric}' (got '${condition.metric_id}'): trigger filters read only the triggering event`,
        });
      }
      const test = compilePropertyFilter(condition.filter, `${path}.filter`, options.regex);
      problems.push(...test.problems);
      if (problems.length > 0) return { predicate: null, problems };
      const field = condition.field;
      const t = test.test;
      return {
        predicate: (ctx) => {
          const props = ctx.event?.properties;
          return t(props === undefined ? undefined : props[field], ctx.now);
        },
        problems,
      };
    }
    case 'price-drop-property':
    case 'low-inventory-property': {
      const kind = condition.type === 'price-drop-property' ? 'price-drop' : 'low-inventory';
      if (options.itemTrigger !== kind) {
        problems.push({
          path: `${path}.type`,
          message: `${condition.type} conditions need a ${kind} trigger`,
        });
        return { predicate: null, problems };
      }
      const fields: readonly string[] = ITEM_EVENT_FIELDS[kind];
      const field = condition.field;
      if (typeof field !== 'string' || !fields.includes(field)) {
        problems.push({
          path: `${path}.field`,
          message: `'${String(field)}' is not a property of the ${kind} event; use one of ${fields.join(', ')}`,
        });
      }
      const test = compilePropertyFilter(condition.filter, `${path}.filter`, options.regex);
      problems.push(...test.problems);
      if (problems.length > 0) return { predicate: null, problems };
      const t = test.test;
      return {
        predicate: (ctx) => {
          const props = ctx.event?.properties;
          return t(props === undefined ? undefined : props[field], ctx.now);
        },
        problems,
      };
    }
    case 'profile-property': {
      const read = compileProfilePath(condition.property);
      if (typeof read === 'string') {
        problems.push({ path: `${path}.property`, message: read });
        return { predicate: null, problems };
      }
      const test = compilePropertyFilter(condition.filter, `${path}.filter`, options.regex);
      problems.push(...test.problems);
      if (problems.length > 0) return { predicate: null, problems };
      const t = test.test;
      return { predicate: (ctx) => t(read(ctx.profile), ctx.now), problems };
    }
    case 'profile-region': {
      const want = condition.in_region;
      const region = condition.region;
      return {
        predicate: (ctx) => {
          const inRegion = profileInRegion(ctx.profile, region);
          return inRegion === null ? false : inRegion === want;
        },
        problems,
      };
    }
    case 'profile-sample': {
      const pct = condition.percentage;
      return { predicate: (ctx) => samplePercentile(ctx.flowId, ctx.profile) < pct, problems };
    }
    case 'profile-not-in-flow': {
      const tf = condition.timeframe_filter;
      if (tf.operator === 'alltime') {
        return { predicate: (ctx) => ctx.previousEntryAt === null, problems };
      }
      if (tf.operator === 'in-the-last') {
        const span = tf.quantity * UNIT_MS[tf.unit];
        return {
          predicate: (ctx) =>
            ctx.previousEntryAt === null ||
            ctx.previousEntryAt.getTime() < ctx.now.getTime() - span,
          problems,
        };
      }
      problems.push({
        path: `${path}.timeframe_filter.operator`,
        message: `must be 'alltime' or 'in-the-last' (got '${tf.operator}')`,
      });
      return { predicate: null, problems };
    }
    case 'profile-metric':
      return compileProfileMetric(condition, path, options);
    case 'profile-group-membership':
      return compileGroupMembership(condition, path);
    case 'profile-marketing-consent':
      return compileConsent(condition, path);
    default:
      problems.push({ path: `${path}.type`, message: `condition type '${type}' is not supported` });
      return { predicate: null, problems };
  }
}

// ---- conditions on the profile store ----------------------------------------------------------

/** [from, to] in epoch ms for a metric timeframe at evaluation time. */
type TimeRange = (ctx: ConditionContext) => [number, number];

function compileTimeframe(
  tf: DateFilter,
  path: string,
  problems: ValidationProblem[],
): TimeRange | null {
  const unit = (f: { unit: RelativeUnit }) => UNIT_MS[f.unit];
  switch (tf.operator) {
    case 'alltime':
      return () => [-Infinity, Infinity];
    case 'flow-start':
      // Strictly after the entry: the event that triggered the flow does not count.
      return (ctx) => [(ctx.flowStartAt ?? ctx.now).getTime() + 1, Infinity];
    case 'in-the-last': {
      const span = tf.quantity * unit(tf);
      return (ctx) => [ctx.now.getTime() - span, ctx.now.getTime()];
    }
    case 'at-least': {
      const span = tf.quantity * unit(tf);
      return (ctx) => [-Infinity, ctx.now.getTime() - span];
    }
    case 'between': {
      const near = Math.min(tf.start, tf.end) * unit(tf);
      const far = Math.max(tf.start, tf.end) * unit(tf);
      return (ctx) => [ctx.now.getTime() - far, ctx.now.getTime() - near];
    }
    case 'before':
    case 'after': {
      const at = Date.parse(tf.date);
      if (Number.isNaN(at)) break;
      return tf.operator === 'before' ? () => [-Infinity, at - 1] : () => [at + 1, Infinity];
    }
    case 'between-static': {
      const a = Date.parse(tf.start);
      const b = Date.parse(tf.end);
      if (Number.isNaN(a) || Number.isNaN(b)) break;
      return () => [Math.min(a, b), Math.max(a, b)];
    }
    default:
      problems.push({
        path: `${path}.operator`,
        message: `timeframe '${tf.operator}' is not supported here (use alltime, flow-start, in-the-last, at-least, between, before, after or between-static)`,
      });
      return null;
  }
  problems.push({ path, message: 'the timeframe needs ISO-8601 date-times' });
  return null;
}

function compileProfileMetric(
  condition: ProfileMetricCondition,
  path: string,
  options: CompileFilterOptions,
): CompiledFilterResult {
  const problems: ValidationProblem[] = [];
  const metric = options.metricName ? options.metricName(condition.metric_id) : condition.metric_id;
  if (condition.measurement !== 'count' && condition.measurement !== 'sum') {
    problems.push({
      path: `${path}.measurement`,
      message: `must be 'count' or 'sum' (got '${String(condition.measurement)}')`,
    });
  }
  const measure = compilePropertyFilter(
    condition.measurement_filter,
    `${path}.measurement_filter`,
    options.regex,
  );
  problems.push(...measure.problems);
  if (condition.measurement_filter?.type !== 'numeric') {
    problems.push({ path: `${path}.measurement_filter.type`, message: "must be 'numeric'" });
  }
  const range = compileTimeframe(condition.timeframe_filter, `${path}.timeframe_filter`, problems);
  let key = metric;
  const filters = condition.metric_filters ?? [];
  if (filters.length > 0) {
    const tests: { property: string; test: ValueTest }[] = [];
    filters.forEach((f, i) => {
      if (f.filter === null || f.filter === undefined) {
        tests.push({ property: f.property, test: (v) => v !== undefined && v !== null });
        return;
      }
      const t = compilePropertyFilter(
        f.filter,
        `${path}.metric_filters[${i}].filter`,
        options.regex,
      );
      problems.push(...t.problems);
      tests.push({ property: f.property, test: t.test });
    });
    const digest = createHash('sha256').update(JSON.stringify(filters)).digest('hex');
    key = `${metric}|${digest.slice(0, 16)}`;
    const epoch = new Date(0);
    options.series?.push({
      key,
      metric,
      matches: (props) => tests.every((t) => t.test(props[t.property], epoch)),
    });
  }
  if (problems.length > 0 || range === null) return { predicate: null, problems };
  const sum = condition.measurement === 'sum';
  const test = measure.test;
  return {
    predicate: (ctx) => {
      const [from, to] = range(ctx);
      const totals = seriesTotals(ctx.stored?.metrics[key], from, to);
      return test(sum ? totals.sum : totals.count, ctx.now);
    },
    problems,
  };
}

function compileGroupMembership(
  condition: ProfileGroupMembershipCondition,
  path: string,
): CompiledFilterResult {
  const problems: ValidationProblem[] = [];
  const ids = condition.group_ids;
  if (ids.length === 0)
    problems.push({ path: `${path}.group_ids`, message: 'needs at least one list or segment id' });
  const joinedAt = (ctx: ConditionContext, id: string): number | undefined =>
    ctx.stored?.lists[id] ?? ctx.stored?.segments[id];
  let when: ValueTest | null = null;
  if (condition.timeframe_filter) {
    if (!condition.is_member) {
      problems.push({
        path: `${path}.timeframe_filter`,
        message: 'a timeframe only applies to is_member: true',
      });
    } else {
      const t = compilePropertyFilter(
        condition.timeframe_filter,
        `${path}.timeframe_filter`,
        undefined,
      );
      problems.push(...t.problems);
      when = t.test;
    }
  }
  if (problems.length > 0) return { predicate: null, problems };
  if (!condition.is_member)
    return { predicate: (ctx) => ids.every((id) => joinedAt(ctx, id) === undefined), problems };
  const inRange = when;
  return {
    predicate: (ctx) =>
      ids.some((id) => {
        const at = joinedAt(ctx, id);
        return at !== undefined && (inRange === null || inRange(at, ctx.now));
      }),
    problems,
  };
}

function compileConsent(
  condition: ProfileMarketingConsentCondition,
  path: string,
): CompiledFilterResult {
  const problems: ValidationProblem[] = [];
  const { channel, can_receive_marketing: can, consent_status: status } = condition.consent;
  if (channel !== 'email' && channel !== 'sms') {
    problems.push({
      path: `${path}.consent.channel`,
      message: `consent for '${channel}' is not kept (email and sms are)`,
    });
  }
  if ((status.filters ?? []).length > 0) {
    problems.push({
      path: `${path}.consent.consent_status.filters`,
      message:
        'consent filters (method, source, date, double opt-in, suppressions) are not kept; only the consent status is',
    });
  }
  // What each (can receive, subscription) pair means for the stored status; a profile the
  // store knows nothing about has never subscribed.
  const wanted: Record<string, (s: ConsentStatus) => boolean> = {
    'true|any': (s) => s === 'subscribed',
    'true|subscribed': (s) => s === 'subscribed',
    'true|never_subscribed': (s) => s === 'never_subscribed',
    'false|any': (s) => s !== 'subscribed',
    'false|unsubscribed': (s) => s === 'unsubscribed',
    'false|never_subscribed': (s) => s === 'never_subscribed',
  };
  const match = wanted[`${String(can)}|${status.subscription}`];
  if (match === undefined) {
    problems.push({
      path: `${path}.consent.consent_status.subscription`,
      message: `'${status.subscription}' with can_receive_marketing ${String(can)} is not supported`,
    });
  }
  if (problems.length > 0 || match === undefined) return { predicate: null, problems };
  const ch = channel as ConsentChannel;
  return {
    predicate: (ctx) => match(ctx.stored?.consent[ch]?.status ?? 'never_subscribed'),
    problems,
  };
}

// ---- property filters -------------------------------------------------------------------------

export type ValueTest = (value: unknown, now: Date) => boolean;

export interface CompiledValueTest {
  test: ValueTest;
  problems: ValidationProblem[];
}

const never: ValueTest = () => false;
const not =
  (t: ValueTest): ValueTest =>
  (v, now) =>
    !t(v, now);

/** Compiles one filter (`{type, operator, value…}`) into a test on a single value. */
export function compilePropertyFilter(
  filter: PropertyFilter,
  path: string,
  regexOptions?: RegexSafetyOptions,
): CompiledValueTest {
  const problems: ValidationProblem[] = [];
  const fail = (sub: string, message: string): CompiledValueTest => {
    problems.push({ path: sub === '' ? path : `${path}.${sub}`, message });
    return { test: never, problems };
  };
  switch (filter.type) {
    case 'string': {
      if (filter.operator === 'in' || filter.operator === 'not-in') {
        const set = new Set(filter.value);
        const isIn: ValueTest = (v) => {
          const s = asText(v);
          return s !== null && set.has(s);
        };
        return { test: filter.operator === 'in' ? isIn : not(isIn), problems };
      }
      if (
        filter.operator === 'phone-country-code-in' ||
        filter.operator === 'phone-country-code-not-in'
      ) {
        return fail(
          'operator',
          `operator '${filter.operator}' is not supported (phone numbers are not mapped to countries)`,
        );
      }
      const { operator: op, value } = filter as StringFilter;
      if (op === 'equals' || op === 'not-equals') {
        const want = value ?? '';
        const eq: ValueTest = (v) => (isMissing(v) ? want === '' : asText(v) === want);
        return { test: op === 'equals' ? eq : not(eq), problems };
      }
      if (value === null) return fail('value', `operator '${op}' needs a string value`);
      let positive: ValueTest;
      switch (op) {
        case 'contains':
        case 'not-contains':
          positive = textTest((s) => s.includes(value));
          break;
        case 'starts-with':
        case 'not-starts-with':
          positive = textTest((s) => s.startsWith(value));
          break;
        case 'ends-with':
        case 'not-ends-with':
          positive = textTest((s) => s.endsWith(value));
          break;
        case 'regex':
        case 'nregex': {
          const verdict = checkRegexSafety(value, regexOptions);
          if (!verdict.safe) return fail('value', `unsafe or invalid regex: ${verdict.reason}`);
          const re = new RegExp(value);
          positive = textTest((s) => s.length <= MAX_REGEX_SUBJECT && re.test(s));
          break;
        }
        default:
          return fail('operator', `unknown string operator '${String(op)}'`);
      }
      const negative = op.startsWith('not-') || op === 'nregex';
      return { test: negative ? not(positive) : positive, problems };
    }
    case 'numeric': {
      if (filter.operator === 'between') {
        const lo = Math.min(filter.start, filter.end);
        const hi = Math.max(filter.start, filter.end);
        return { test: numTest((n) => n >= lo && n <= hi), problems };
      }
      const x = filter.value;
      switch (filter.operator) {
        case 'equals':
          return { test: numTest((n) => n === x), problems };
        case 'not-equals':
          return { test: not(numTest((n) => n === x)), problems };
        case 'greater-than':
          return { test: numTest((n) => n > x), problems };
        case 'greater-than-or-equal':
          return { test: numTest((n) => n >= x), problems };
        case 'less-than':
          return { test: numTest((n) => n < x), problems };
        case 'less-than-or-equal':
          return { test: numTest((n) => n <= x), problems };
        default:
          return fail(
            'operator',
            `unknown numeric operator '${String((filter as { operator: unknown }).operator)}'`,
          );
      }
    }
    case 'boolean': {
      const want = filter.value;
      return { test: (v) => asBoolean(v) === want, problems };
    }
    case 'existence': {
      const isSet: ValueTest = (v) => !isMissing(v) && v !== '';
      return { test: filter.operator === 'is-set' ? isSet : not(isSet), problems };
    }
    case 'list':
      return compileListFilter(filter, fail, problems);
    case 'date':
      return compileDateFilter(filter, fail, problems);
    default:
      return fail('type', `unknown filter type '${String((filter as { type: unknown }).type)}'`);
  }
}

function compileListFilter(
  filter: Extract<PropertyFilter, { type: 'list' }>,
  fail: (sub: string, message: string) => CompiledValueTest,
  problems: ValidationProblem[],
): CompiledValueTest {
  switch (filter.operator) {
    case 'contains':
    case 'not-contains': {
      const want = filter.value;
      const has: ValueTest = (v) => Array.isArray(v) && v.some((el) => sameScalar(el, want));
      return { test: filter.operator === 'contains' ? has : not(has), problems };
    }
    case 'length-equals':
    case 'length-greater-than':
    case 'length-greater-than-or-equal':
    case 'length-less-than':
    case 'length-less-than-or-equal': {
      const n = filter.value;
      const cmp = {
        'length-equals': (l: number) => l === n,
        'length-greater-than': (l: number) => l > n,
        'length-greater-than-or-equal': (l: number) => l >= n,
        'length-less-than': (l: number) => l < n,
        'length-less-than-or-equal': (l: number) => l <= n,
      }[filter.operator];
      return { test: (v) => Array.isArray(v) && cmp(v.length), problems };
    }
    case 'contains-all':
    case 'contains-any':
    case 'not-contains-all':
    case 'not-contains-any': {
      const wanted = filter.value;
      const all: ValueTest = (v) =>
        Array.isArray(v) && wanted.every((w) => v.some((el) => sameScalar(el, w)));
      const some: ValueTest = (v) =>
        Array.isArray(v) && wanted.some((w) => v.some((el) => sameScalar(el, w)));
      const test = {
        'contains-all': all,
        'contains-any': some,
        'not-contains-all': not(all),
        'not-contains-any': not(some),
      }[filter.operator];
      return { test, problems };
    }
    case 'contains-substring':
    case 'not-contains-substring': {
      const sub = filter.value;
      if (sub === null) return fail('value', `operator '${filter.operator}' needs a string value`);
      const has: ValueTest = (v) =>
        Array.isArray(v) &&
        v.some((el) => {
          const s = asText(el);
          return s !== null && s.includes(sub);
        });
      return { test: filter.operator === 'contains-substring' ? has : not(has), problems };
    }
    default:
      return fail(
        'operator',
        `unknown list operator '${String((filter as { operator: unknown }).operator)}'`,
      );
  }
}

function compileDateFilter(
  filter: DateFilter,
  fail: (sub: string, message: string) => CompiledValueTest,
  problems: ValidationProblem[],
): CompiledValueTest {
  const dateTest =
    (f: (t: number, now: number) => boolean): ValueTest =>
    (v, now) => {
      const t = asTime(v);
      return t !== null && f(t, now.getTime());
    };
  switch (filter.operator) {
    case 'before':
    case 'after': {
      const at = Date.parse(filter.date);
      if (Number.isNaN(at)) return fail('date', 'must be an ISO-8601 date-time');
      return {
        test: dateTest(filter.operator === 'before' ? (t) => t < at : (t) => t > at),
        problems,
      };
    }
    case 'between-static': {
      const a = Date.parse(filter.start);
      const b = Date.parse(filter.end);
      if (Number.isNaN(a)) return fail('start', 'must be an ISO-8601 date-time');
      if (Number.isNaN(b)) return fail('end', 'must be an ISO-8601 date-time');
      const lo = Math.min(a, b);
      const hi = Math.max(a, b);
      return { test: dateTest((t) => t >= lo && t <= hi), problems };
    }
    case 'in-the-last': {
      const span = filter.quantity * UNIT_MS[filter.unit];
      return { test: dateTest((t, now) => t >= now - span && t <= now), problems };
    }
    case 'at-least': {
      const span = filter.quantity * UNIT_MS[filter.unit];
      return { test: dateTest((t, now) => t <= now - span), problems };
    }
    case 'in-the-next': {
      const span = filter.quantity * UNIT_MS[filter.unit];
      return { test: dateTest((t, now) => t >= now && t <= now + span), problems };
    }
    case 'between': {
      const a = filter.start * UNIT_MS[filter.unit];
      const b = filter.end * UNIT_MS[filter.unit];
      const near = Math.min(a, b);
      const far = Math.max(a, b);
      return { test: dateTest((t, now) => t >= now - far && t <= now - near), problems };
    }
    case 'anniversary':
      return {
        test: dateTest((t, now) => {
          const d = new Date(t);
          const n = new Date(now);
          return d.getUTCMonth() === n.getUTCMonth() && d.getUTCDate() === n.getUTCDate();
        }),
        problems,
      };
    case 'anniversary-month':
      return {
        test: dateTest((t, now) => new Date(t).getUTCMonth() === new Date(now).getUTCMonth()),
        problems,
      };
    case 'anniversary-last':
    case 'anniversary-next': {
      const span = filter.quantity * UNIT_MS[filter.unit];
      const past = filter.operator === 'anniversary-last';
      return {
        test: dateTest((t, now) =>
          anniversaries(t, now).some((a) =>
            past ? a >= now - span && a <= now : a >= now && a <= now + span,
          ),
        ),
        problems,
      };
    }
    case 'calendar-month': {
      const month = filter.value - 1;
      return { test: dateTest((t) => new Date(t).getUTCMonth() === month), problems };
    }
    case 'alltime':
    case 'flow-start':
      return fail(
        'operator',
        `date operator '${filter.operator}' only applies to metric timeframes`,
      );
    default:
      return fail(
        'operator',
        `unknown date operator '${String((filter as { operator: unknown }).operator)}'`,
      );
  }
}

/** The anniversaries of `t` in the year before, of and after `now` (UTC). */
function anniversaries(t: number, now: number): number[] {
  const d = new Date(t);
  const year = new Date(now).getUTCFullYear();
  return [year - 1, year, year + 1].map((y) =>
    Date.UTC(
      y,
      d.getUTCMonth(),
      d.getUTCDate(),
      d.getUTCHours(),
      d.getUTCMinutes(),
      d.getUTCSeconds(),
    ),
  );
}

// ---- value coercions ----------------------------------------------------------------------------

function isMissing(v: unknown): v is null | undefined {
  return v === undefined || v === null;
}

function asText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'boolean') return String(v);
  return null;
}

function textTest(f: (s: string) => boolean): ValueTest {
  return (v) => {
    const s = asText(v);
    return s !== null && f(s);
  };
}

const NUMERIC_TEXT = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

function asNumber(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && NUMERIC_TEXT.test(v)) return Number(v);
  return null;
}

function numTest(f: (n: number) => boolean): ValueTest {
  return (v) => {
    const n = asNumber(v);
    return n !== null && f(n);
  };
}

function asBoolean(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'true') return true;
    if (s === 'false') return false;
  }
  return null;
}

function sameScalar(el: unknown, want: unknown): boolean {
  if (el === want) return true;
  if (isMissing(el) || isMissing(want)) return false;
  const a = asText(el);
  return a !== null && a === asText(want);
}

const LOCAL_DATE_TIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(:\d{2}(\.\d+)?)?)$/;

/** Milliseconds since the epoch, or null when `v` is not a date. */
export function asTime(v: unknown): number | null {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return null;
    return Math.abs(v) < 1e11 ? v * 1000 : v;
  }
  if (typeof v !== 'string' || v.trim() === '') return null;
  const s = v.trim();
  const local = LOCAL_DATE_TIME.exec(s);
  const t = Date.parse(local === null ? s : `${local[1]}T${local[2]}Z`);
  return Number.isNaN(t) ? null : t;
}

// ---- profile properties ---------------------------------------------------------------------------

type ProfileReader = (profile: Profile) => unknown;

const WELL_KNOWN = new Set<string>([...PROFILE_STRING_FIELDS, 'location']);
const LEGACY: Record<string, string[]> = {
  $email: ['email'],
  $phone_number: ['phone_number'],
  $first_name: ['first_name'],
  $last_name: ['last_name'],
  $organization: ['organization'],
  $title: ['title'],
  $id: ['external_id'],
  $external_id: ['external_id'],
};
for (const f of LOCATION_FIELDS) LEGACY[`$${f}`] = ['location', f];

/** Splits `a.b['c d']["e"]` into segments; null when the syntax is wrong. */
export function parsePropertyPath(path: string): string[] | null {
  const segments: string[] = [];
  let i = 0;
  const ident = /^[^.[\]'"]+/;
  const first = ident.exec(path);
  if (first === null) return null;
  segments.push(first[0].trim());
  i = first[0].length;
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      const m = ident.exec(path.slice(i + 1));
      if (m === null) return null;
      segments.push(m[0].trim());
      i += 1 + m[0].length;
    } else if (c === '[') {
      const m = /^\[\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\]/.exec(path.slice(i));
      if (m === null) return null;
      segments.push((m[1] ?? m[2] ?? '').replace(/\\(.)/g, '$1'));
      i += m[0].length;
    } else return null;
  }
  return segments;
}

/** A reader for a profile-property condition's `property`, or an error message. */
export function compileProfilePath(property: string): ProfileReader | string {
  const trimmed = property.trim();
  // A bare custom property name may contain spaces or dots; only parse when it looks like a path.
  const segments =
    /[[\]'"]/.test(trimmed) || /^(properties|location)\./.test(trimmed)
      ? parsePropertyPath(trimmed)
      : [trimmed];
  if (segments === null || segments.length === 0 || segments.some((s) => s === '')) {
    return `cannot read profile property path '${property}' (use e.g. email, location.city or properties['Name'])`;
  }
  const [head, ...rest] = segments as [string, ...string[]];
  let base: string[];
  if (head === 'properties') {
    if (rest.length === 0) return `'properties' needs a property name, e.g. properties['Name']`;
    base = ['properties'];
  } else if (head === 'location') {
    base = ['location'];
    if (rest.length > 0 && !LOCATION_FIELDS.has(rest[0] as string)) {
      return `unknown location field '${rest[0]}' (known: ${[...LOCATION_FIELDS].join(', ')})`;
    }
  } else if (LEGACY[head] !== undefined) {
    base = LEGACY[head] as string[];
  } else if (WELL_KNOWN.has(head)) {
    base = [head];
  } else {
    base = ['properties', head];
  }
  const full = [...base, ...rest];
  return (profile) => {
    let cur: unknown = profile;
    for (const seg of full) {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
      cur = Object.prototype.hasOwnProperty.call(cur, seg)
        ? (cur as Record<string, unknown>)[seg]
        : undefined;
    }
    return cur;
  };
}

// ---- region and sampling ------------------------------------------------------------------------

const EU: ReadonlySet<string> = new Set(
  [
    'AT Austria',
    'BE Belgium',
    'BG Bulgaria',
    'HR Croatia',
    'CY Cyprus',
    'CZ Czechia',
    'DK Denmark',
    'EE Estonia',
    'FI Finland',
    'FR France',
    'DE Germany',
    'GR Greece',
    'HU Hungary',
    'IE Ireland',
    'IT Italy',
    'LV Latvia',
    'LT Lithuania',
    'LU Luxembourg',
    'MT Malta',
    'NL Netherlands',
    'PL Poland',
    'PT Portugal',
    'RO Romania',
    'SK Slovakia',
    'SI Slovenia',
    'ES Spain',
    'SE Sweden',
  ]
    .flatMap((e) => {
      const [code, ...name] = e.split(' ');
      return [(code as string).toLowerCase(), name.join(' ').toLowerCase()];
    })
    .concat(['czech republic', 'the netherlands', 'holland']),
);
const US: ReadonlySet<string> = new Set([
  'us',
  'usa',
  'united states',
  'united states of america',
  'u.s.',
  'u.s.a.',
]);

/** true / false when the profile's country is known, null when it is not. */
export function profileInRegion(
  profile: Profile,
  region: 'european_union' | 'united_states',
): boolean | null {
  const country = profile.location?.country;
  if (typeof country !== 'string' || country.trim() === '') return null;
  const c = country.trim().toLowerCase();
  return (region === 'european_union' ? EU : US).has(c);
}

/** A stable number in [0, 100) per (flow, profile): profile-sample keeps the same profiles. */
export function samplePercentile(flowId: string, profile: Profile): number {
  const key = profileKey(profile) ?? '';
  const digest = createHash('sha256').update(`${flowId}\u0000${key}`).digest();
  return (digest.readUInt32BE(0) / 0x1_0000_0000) * 100;
}
