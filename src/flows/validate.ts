// Validation of flow documents: the JSON Schema (schemas/flow.schema.json), then the semantic
// rules the schema cannot express, then compilation into a CompiledFlow whose templates and
// filters are ready to run, so nothing compiles on the hot path.
//
// Decisions where Klaviyo is silent:
//   - The webhook URL is literal: template tags in it are refused (destinations stay statically
//     checkable; per-profile data goes in the body or headers). It must be absolute, https (http
//     only with allowHttp) and carry no credentials. Loopback/private literal hosts are only
//     warned about here: the delivery worker's address guard (with its allow-list) decides.
//   - A send-webhook action without `data.status` gets Klaviyo's default, draft (skipped), with a
//     warning. A missing or empty body sends `{}`.
//   - Headers: names must be HTTP tokens; Host, Content-Length, Transfer-Encoding, Connection and
//     the Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature) are set by
//     the delivery worker and refused here; Content-Type, if given, must be application/json.
//   - Actions flowhook does not run (email, SMS, push, WhatsApp, internal alerts, A/B tests,
//     profile and list updates, code) are pass-through steps: a warning each. Klaviyo's
//     target-date, countdown-delay, back-in-stock-delay and action-output-split are refused.
//   - Unreachable actions are warnings; cycles, dangling links and duplicate ids are errors.
//   - reentry_criteria with unit alltime accepts only duration 0 (always) or 1 (once). Without
//     reentry_criteria, metric flows re-enter on every event and list/segment flows once per
//     profile (Klaviyo's historical behaviour).

import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import flowSchema from '../../schemas/flow.schema.json';
import type { FlowhookConfig } from '../config/load';
import { FlowValidationError, TemplateSyntaxError } from '../errors';
import {
  compileTemplate,
  renderBody,
  type CompiledTemplate,
  type TemplateInput,
  type TemplateKind,
  type TemplateLimits,
} from '../template';
import {
  compileConditionFilter,
  compileProfilePath,
  STORE_CONDITIONS,
  type FilterLocation,
} from './conditions';
import { formatAjvErrors, pathJoin } from '../json-path';
import { classifyAddress, parseAddress } from '../net/ip-address';
import { headerRefusal } from '../webhook-headers';
import {
  PASS_THROUGH_ACTION_TYPES,
  UNSUPPORTED_ACTION_TYPES,
  type ActionStatus,
  type CompiledAction,
  type CompiledFlow,
  type CompiledHeader,
  type CompiledTrigger,
  type ConditionFilter,
  type DateTrigger,
  type FlowAction,
  type ItemAudience,
  type ItemTriggerRule,
  type ItemTriggerSpec,
  type LowInventoryTrigger,
  type PriceDropTrigger,
  type FlowDocument,
  type MetricSeriesSpec,
  type PassThroughActionType,
  type Predicate,
  type ReentryCriteria,
  type ValidateOptions,
  type ValidationProblem,
  type ValidationResult,
  WEEKDAYS,
} from './types';

const ajv = new Ajv2020({
  allErrors: true,
  verbose: true,
  discriminator: true,
  allowUnionTypes: true,
});
addFormats(ajv);
const schemaValidator = ajv.compile(flowSchema);

// ---- triggerable metrics ------------------------------------------------------------------------

/**
 * Metric names that can never trigger a flow (Klaviyo: message and housekeeping events); the
 * seed's 15. "Unsubscribed from Email Marketing" is not among them.
 */
export const NON_TRIGGERABLE_METRICS: readonly string[] = [
  'Bounced Email',
  'Clicked Email',
  'Dropped Email',
  'Opened Email',
  'Received Email',
  'Marked Email as Spam',
  'Clicked SMS',
  'Received SMS',
  'Failed to Deliver SMS',
  'Failed to Deliver Automated Response SMS',
  'Received Automated Response SMS',
  'Merged Profile',
  'Unsubscribed',
  'Unsubscribed from List',
  'Unsubscribed from SMS Marketing',
];

const normalizeMetric = (name: string): string =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();

const NON_TRIGGERABLE = new Set(
  [
    ...NON_TRIGGERABLE_METRICS,
    'Marked as Spam Email',
    'Marked as Spam',
    'Failed to Deliver SMS Automated Response',
  ].map(normalizeMetric),
);

/** Whether events of this metric may trigger flows. Case and punctuation are ignored. */
export function isTriggerableMetric(name: string): boolean {
  return !NON_TRIGGERABLE.has(normalizeMetric(name));
}

// ---- metric ids ---------------------------------------------------------------------------------

/** The metric name a trigger means: the catalog's name for a known id, else the text itself. */
function metricName(idOrName: string, options: ValidateOptions): string {
  const catalog = options.metricCatalog;
  return catalog !== undefined && Object.hasOwn(catalog, idOrName)
    ? (catalog[idOrName] as string)
    : idOrName;
}

/** Klaviyo's metric ids: six letters and digits, e.g. `XyZ9aB`. */
const KLAVIYO_METRIC_ID = /^(?=[A-Za-z]*[0-9]|[A-Za-z]+[A-Z])[A-Za-z0-9]{6}$/;

/** Why a trigger's metric will probably match no event, or undefined. */
function unknownMetric(idOrName: string, options: ValidateOptions): string | undefined {
  const catalog = options.metricCatalog ?? {};
  if (Object.hasOwn(catalog, idOrName)) return undefined;
  const ids = Object.keys(catalog);
  if (ids.length === 0) {
    return KLAVIYO_METRIC_ID.test(idOrName)
      ? `'${idOrName}' looks like a Klaviyo metric id, but events carry metric names: add it to the metric catalog (the metrics topic, or FLOWHOOK_METRIC_CATALOG: id → name) or use the name`
      : undefined;
  }
  if (Object.values(catalog).includes(idOrName)) return undefined;
  return `'${idOrName}' is neither a metric name nor a metric id in the metric catalog (the metrics topic, FLOWHOOK_METRIC_CATALOG): no event may match it`;
}

// ---- template checks ----------------------------------------------------------------------------

/** Klaviyo template features webhooks cannot use (coupon codes, web feeds, product feeds). */
export function findUnsupportedTemplateFeatures(
  source: string,
): { line: number; message: string }[] {
  const found: { line: number; message: string }[] = [];
  const tag = /\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}/g;
  for (let m = tag.exec(source); m !== null; m = tag.exec(source)) {
    const inner = m[1] ?? m[2] ?? '';
    const at = m.index;
    const line = (): number => source.slice(0, at).split('\n').length;
    // Klaviyo's coupon tags: {% coupon_code 'NAME' %}, {% unique_coupon_code %} and the root
    // variable {{ coupon_code }}. A property that happens to be named so ({{ event.coupon }},
    // {{ event.coupon_code }}) is plain data.
    const couponTag = m[2] !== undefined && /^\s*(unique_)?coupon_code\b/.test(inner);
    const couponVariable = m[1] !== undefined && /(^|[^\w.$])(unique_)?coupon_code\b/.test(inner);
    if (couponTag || couponVariable) {
      found.push({ line: line(), message: 'coupon codes are not supported in webhooks' });
    }
    if (/(^|[^\w.])feeds\s*[.|[]/.test(inner) || /^\s*web_feed\b/.test(inner)) {
      found.push({
        line: line(),
        message: 'web feeds and product feeds are not supported in webhooks',
      });
    }
    if (m[2] !== undefined && /^\s*catalog(_\w+)?\b/.test(inner)) {
      found.push({
        line: line(),
        message: 'product catalog lookups (product feeds) are not supported in webhooks',
      });
    }
  }
  return found;
}

function templateProblems(
  source: string,
  kind: TemplateKind,
  path: string,
  problems: ValidationProblem[],
  warnings: ValidationProblem[],
  sample: TemplateInput | null,
  limits: Partial<TemplateLimits> | undefined,
): CompiledTemplate | null {
  const before = problems.length;
  // One analysis: compiling reports the same problems checkTemplate would.
  let template: CompiledTemplate;
  try {
    template = compileTemplate(source, kind, limits);
  } catch (e) {
    if (!(e instanceof TemplateSyntaxError)) {
      problems.push({ path, message: e instanceof Error ? e.message : String(e) });
      return null;
    }
    for (const p of e.problems) {
      const where =
        p.line !== undefined
          ? `line ${p.line}${p.column !== undefined ? `, column ${p.column}` : ''}: `
          : '';
      problems.push({ path, message: `${where}${p.message}` });
    }
    return null;
  }
  // Backstop for Klaviyo's webhook rule, whatever the template engine accepts.
  for (const f of findUnsupportedTemplateFeatures(source)) {
    problems.push({ path, message: `line ${f.line}: ${f.message}` });
  }
  if (problems.length > before) return null;
  if (sample !== null && kind === 'body') {
    // Profiles and events without the fields a body uses are common: say so now, not in the DLQ.
    try {
      renderBody(template, sample);
    } catch (e) {
      warnings.push({
        path,
        message: `fails to render for a profile and event without the fields it uses: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
  }
  return template;
}

// ---- URLs ---------------------------------------------------------------------------------------

function checkUrl(
  url: string,
  path: string,
  allowHttp: boolean,
  problems: ValidationProblem[],
  warnings: ValidationProblem[],
): void {
  if (/\{\{|\{%/.test(url)) {
    problems.push({
      path,
      message: 'template tags are not supported in the URL (it must be a literal https URL)',
    });
    return;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    problems.push({ path, message: `must be an absolute URL (got ${JSON.stringify(url)})` });
    return;
  }
  if (parsed.protocol !== 'https:' && !(allowHttp && parsed.protocol === 'http:')) {
    problems.push({
      path,
      message: allowHttp
        ? 'must use http or https'
        : 'must use https (http needs FLOWHOOK_ALLOW_HTTP)',
    });
    return;
  }
  if (parsed.username !== '' || parsed.password !== '') {
    problems.push({
      path,
      message: 'must not contain credentials; use a header with {{ secrets.NAME }}',
    });
  }
  if (looksLocal(parsed.hostname)) {
    warnings.push({
      path,
      message: `host ${parsed.hostname} is loopback or private: the delivery worker refuses it unless allow-listed`,
    });
  }
}

/** Whether the delivery guard will refuse this host unless it is allow-listed. */
function looksLocal(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  return parseAddress(h) !== undefined && !classifyAddress(h).allowed;
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

// ---- the validator ------------------------------------------------------------------------------

const actionKey = (a: FlowAction): string | null => {
  if (typeof a.id === 'string' && a.id !== '') return a.id;
  if (typeof a.temporary_id === 'string' && a.temporary_id !== '') return a.temporary_id;
  return null;
};

/** Every action id an action links to, with the path of the link. */
function linksOf(action: FlowAction, path: string): { target: string; path: string }[] {
  const out: { target: string; path: string }[] = [];
  const add = (target: unknown, p: string): void => {
    if (typeof target === 'string') out.push({ target, path: p });
  };
  switch (action.type) {
    case 'conditional-split':
    case 'trigger-split':
      add(action.links?.next_if_true, `${path}.links.next_if_true`);
      add(action.links?.next_if_false, `${path}.links.next_if_false`);
      break;
    case 'multi-branch-split':
      action.data.branches.forEach((b, i) =>
        add(b.links?.next, `${path}.data.branches[${i}].links.next`),
      );
      break;
    default:
      if ('links' in action && action.links !== null && typeof action.links === 'object') {
        add((action.links as { next?: unknown }).next, `${path}.links.next`);
      }
  }
  return out;
}

/**
 * The validation options a process's configuration implies: FLOWHOOK_ALLOW_HTTP,
 * FLOWHOOK_ALLOW_LITERAL_CREDENTIALS, and the
 * render limits FLOWHOOK_TEMPLATE_TIMEOUT, FLOWHOOK_TEMPLATE_MAX_LOOP and
 * FLOWHOOK_MAX_BODY_BYTES (a body larger than delivery would send is not worth rendering).
 */
export function validateOptions(config: FlowhookConfig): ValidateOptions {
  return {
    allowHttp: config.delivery.allowHttp,
    allowLiteralCredentials: config.trigger.allowLiteralCredentials,
    metricCatalog: config.trigger.metricCatalog,
    profileStore: config.profiles.enabled,
    catalog: {
      enabled: config.catalog.enabled,
      audienceRetentionDays: Math.floor(config.catalog.audienceRetentionMs / 86_400_000),
    },
    templateLimits: {
      timeoutMs: config.trigger.templateTimeoutMs,
      maxLoopIterations: config.trigger.templateMaxLoop,
      maxOutputBytes: config.delivery.maxBodyBytes,
    },
  };
}

const WEEKDAY_NAMES: ReadonlySet<string> = new Set(WEEKDAYS);

/** A date trigger on a profile property (defaults as in Klaviyo's schema), or null. */
function compileDateTrigger(
  t: DateTrigger,
  path: string,
  options: ValidateOptions,
  problems: ValidationProblem[],
): CompiledTrigger | null {
  const before = problems.length;
  const fail = (field: string, message: string) =>
    problems.push({ path: `${path}.${field}`, message });
  if ((t.date_field_type ?? 'profile-property') !== 'profile-property') {
    fail(
      'date_field_type',
      `'${t.date_field_type}' is not supported: custom objects are not stored; use a profile property`,
    );
  }
  if (options.profileStore === false) {
    fail(
      'type',
      'date triggers read the profile store, which is off (FLOWHOOK_PROFILE_STORE=false)',
    );
  }
  const property = t.date_profile_property ?? '';
  const read = compileProfilePath(property);
  if (property.trim() === '')
    fail('date_profile_property', 'is required (the profile property holding the date)');
  else if (typeof read === 'string') fail('date_profile_property', read);
  const leadValue = t.timedelta_value_before_date ?? 0;
  if (!Number.isInteger(leadValue)) fail('timedelta_value_before_date', 'must be an integer');
  const leadUnit = t.timedelta_unit_before_date ?? 'weeks';
  if (!['days', 'weeks', 'months'].includes(leadUnit))
    fail('timedelta_unit_before_date', "must be 'days', 'weeks' or 'months'");
  const recurrence = t.recurrence_frequency ?? 'monthly';
  if (!['never', 'weekly', 'monthly', 'annually'].includes(recurrence))
    fail('recurrence_frequency', "must be 'never', 'weekly', 'monthly' or 'annually'");
  const timezone = t.timezone ?? 'profile';
  if (timezone !== 'profile' && !validTimeZone(timezone))
    fail('timezone', `'${timezone}' is neither 'profile' nor an IANA time zone`);
  const time = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/.exec(t.trigger_time ?? '');
  if (time === null) fail('trigger_time', 'is required, as HH:MM or HH:MM:SS (local time)');
  const days = t.trigger_days ?? null;
  days?.forEach((d, i) => {
    if (!WEEKDAY_NAMES.has(d)) fail(`trigger_days[${i}]`, `'${String(d)}' is not a weekday`);
  });
  if (problems.length > before || typeof read === 'string' || time === null) return null;
  return {
    type: 'date',
    date: {
      property,
      read,
      leadUnit,
      leadValue,
      recurrence,
      timezone,
      triggerTime: [Number(time[1]), Number(time[2]), Number(time[3] ?? 0)],
      triggerDays: days,
    },
  };
}

/** The audience kinds each item trigger takes (Klaviyo's schema). */
const ITEM_AUDIENCES: Record<'price-drop' | 'low-inventory', readonly ItemAudience[]> = {
  'price-drop': ['viewed', 'checkout-started'],
  'low-inventory': ['viewed', 'added-to-cart', 'checkout-started'],
};

/**
 * A price-drop or low-inventory trigger (defaults as in Klaviyo's schema: currency, 30 days), or
 * null; its trigger filter is compiled by the caller.
 */
function compileItemTrigger(
  t: PriceDropTrigger | LowInventoryTrigger,
  path: string,
  options: ValidateOptions,
  problems: ValidationProblem[],
): ItemTriggerRule | null {
  const before = problems.length;
  const fail = (field: string, message: string) =>
    problems.push({ path: `${path}.${field}`, message });
  const catalog = options.catalog ?? { enabled: true, audienceRetentionDays: 90 };
  if (!catalog.enabled) {
    fail('type', `${t.type} triggers read the catalog, which is off (FLOWHOOK_CATALOG=false)`);
  }
  const allowed = ITEM_AUDIENCES[t.type];
  const audience: unknown = t.audience;
  if (!Array.isArray(audience) || audience.length === 0) {
    fail('audience', `is required: a non-empty list of ${allowed.join(', ')}`);
  } else {
    audience.forEach((a: unknown, i) => {
      if (!allowed.includes(a as ItemAudience))
        fail(
          `audience[${i}]`,
          `'${String(a)}' is not an audience of ${t.type} triggers (${allowed.join(', ')})`,
        );
    });
  }
  const timeframeDays: unknown = t.timeframe_days ?? 30;
  if (
    typeof timeframeDays !== 'number' ||
    !Number.isInteger(timeframeDays) ||
    timeframeDays < 1 ||
    timeframeDays > catalog.audienceRetentionDays
  ) {
    fail(
      'timeframe_days',
      `must be a whole number of days from 1 to ${catalog.audienceRetentionDays} (FLOWHOOK_CATALOG_AUDIENCE_RETENTION keeps the audience that long)`,
    );
  }
  const common = {
    audience: (audience as ItemAudience[]) ?? [],
    timeframeDays: timeframeDays as number,
  };
  if (t.type === 'price-drop') {
    const amount: unknown = t.price_drop_amount_value;
    const unit: unknown = t.price_drop_amount_unit ?? 'currency';
    if (unit !== 'currency' && unit !== 'percent')
      fail('price_drop_amount_unit', "must be 'currency' or 'percent'");
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0)
      fail('price_drop_amount_value', 'is required: a number, 0 or more');
    else if (unit === 'percent' && amount > 100)
      fail('price_drop_amount_value', 'a percent drop must be at most 100');
    const currency: unknown = t.currency_type ?? 'usd';
    if (typeof currency !== 'string' || currency.toLowerCase() !== 'usd')
      fail(
        'currency_type',
        "must be 'usd' (Klaviyo's only currency type; prices are compared as the catalog gives them)",
      );
    if (problems.length > before) return null;
    return {
      ...common,
      kind: 'price-drop',
      metric: 'Price Drop',
      amount: amount as number,
      unit: unit as 'currency' | 'percent',
    };
  }
  const threshold: unknown = t.inventory_count;
  const level: unknown = t.product_level;
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 0)
    fail('inventory_count', 'is required: a whole number, 0 or more');
  if (level !== 'product' && level !== 'variant')
    fail('product_level', "is required: 'product' or 'variant'");
  if (problems.length > before) return null;
  return {
    ...common,
    kind: 'low-inventory',
    metric: 'Low Inventory',
    threshold: threshold as number,
    level: level as 'product' | 'variant',
  };
}

/**
 * Validates a flow document and compiles it. Never throws on bad input: every problem comes back
 * with the JSON path it concerns.
 */
export function validateFlow(doc: unknown, options: ValidateOptions): ValidationResult {
  const warnings: ValidationProblem[] = [];
  if (!schemaValidator(doc)) {
    return { ok: false, problems: formatAjvErrors(schemaValidator.errors, flowSchema), warnings };
  }
  const flow = doc as unknown as FlowDocument;
  const def = flow.definition;
  const problems: ValidationProblem[] = [];

  // trigger
  let trigger: CompiledTrigger | null = null;
  let triggerMetric: string | null = null;
  let itemTrigger: ItemTriggerRule | null = null;
  if (def.triggers.length !== 1) {
    problems.push({
      path: '$.definition.triggers',
      message: `a flow needs exactly one trigger (found ${def.triggers.length})`,
    });
  }
  const t = def.triggers[0];
  if (t !== undefined) {
    const tPath = '$.definition.triggers[0]';
    switch (t.type) {
      case 'metric': {
        const metric = metricName(t.id, options);
        if (!isTriggerableMetric(metric)) {
          problems.push({
            path: `${tPath}.id`,
            message: `metric '${metric}' cannot trigger a flow (message and housekeeping events are not flow-triggerable)`,
          });
        }
        const unknown = unknownMetric(t.id, options);
        if (unknown !== undefined) warnings.push({ path: `${tPath}.id`, message: unknown });
        triggerMetric = metric;
        break;
      }
      case 'list':
        trigger = { type: 'list', listId: t.id };
        break;
      case 'segment':
        trigger = { type: 'segment', segmentId: t.id };
        break;
      case 'date':
        trigger = compileDateTrigger(t, tPath, options, problems);
        break;
      case 'price-drop':
      case 'low-inventory':
        itemTrigger = compileItemTrigger(t, tPath, options, problems);
        break;
      default:
        problems.push({
          path: `${tPath}.type`,
          message: `trigger type '${(t as { type: string }).type}' is not supported`,
        });
    }
  }
  const metricSeries: MetricSeriesSpec[] = [];
  let readsProfileStore = false;
  const filter = (
    f: ConditionFilter | null | undefined,
    location: FilterLocation,
    path: string,
  ): Predicate | null => {
    const r = compileConditionFilter(f, {
      location,
      path,
      triggerMetric,
      metricName: (id) => metricName(id, options),
      profileStore: options.profileStore,
      series: metricSeries,
      itemTrigger: t?.type === 'price-drop' || t?.type === 'low-inventory' ? t.type : null,
    });
    problems.push(...r.problems);
    if (
      r.predicate !== null &&
      f?.condition_groups.some((g) => g.conditions.some((c) => STORE_CONDITIONS.includes(c.type)))
    )
      readsProfileStore = true;
    return r.predicate;
  };
  if (t !== undefined && t.type === 'metric') {
    const tf = filter(
      t.trigger_filter,
      'trigger-filter',
      '$.definition.triggers[0].trigger_filter',
    );
    trigger = { type: 'metric', metric: triggerMetric as string, filter: tf };
  }
  if (t !== undefined && (t.type === 'price-drop' || t.type === 'low-inventory')) {
    const tf = filter(
      t.trigger_filter,
      'trigger-filter',
      '$.definition.triggers[0].trigger_filter',
    );
    if (itemTrigger !== null)
      trigger = { type: 'item', item: { ...itemTrigger, filter: tf } as ItemTriggerSpec };
  }
  const profileFilter = filter(def.profile_filter, 'profile-filter', '$.definition.profile_filter');

  // re-entry
  let reentry: ReentryCriteria;
  if (def.reentry_criteria !== null && def.reentry_criteria !== undefined) {
    reentry = def.reentry_criteria;
    if (reentry.unit === 'alltime' && reentry.duration !== 0 && reentry.duration !== 1) {
      problems.push({
        path: '$.definition.reentry_criteria.duration',
        message: "with unit 'alltime', duration must be 1 (enter once) or 0 (always re-enter)",
      });
    }
  } else {
    // Metric, date, price-drop and low-inventory flows re-enter (every event, occurrence or
    // catalog change); list and segment flows take a profile once.
    reentry =
      t?.type === 'metric' ||
      t?.type === 'date' ||
      t?.type === 'price-drop' ||
      t?.type === 'low-inventory'
        ? { duration: 0, unit: 'alltime' }
        : { duration: 1, unit: 'alltime' };
  }

  // action ids
  const byId = new Map<string, { action: FlowAction; index: number }>();
  def.actions.forEach((action, i) => {
    const key = actionKey(action);
    const path = `$.definition.actions[${i}]`;
    if (key === null) {
      problems.push({ path: `${path}.id`, message: 'an action needs an id (or a temporary_id)' });
    } else if (byId.has(key)) {
      problems.push({
        path: `${path}.id`,
        message: `duplicate action id '${key}' (also at $.definition.actions[${byId.get(key)?.index}])`,
      });
    } else byId.set(key, { action, index: i });
  });

  // entry and links
  if (def.entry_action_id === null) {
    problems.push({
      path: '$.definition.entry_action_id',
      message: 'is required (the first action of the flow)',
    });
  } else if (!byId.has(def.entry_action_id)) {
    problems.push({
      path: '$.definition.entry_action_id',
      message: `no action has id '${def.entry_action_id}'`,
    });
  }
  const edges = new Map<string, string[]>();
  def.actions.forEach((action, i) => {
    const key = actionKey(action);
    const links = linksOf(action, `$.definition.actions[${i}]`);
    for (const l of links) {
      if (!byId.has(l.target))
        problems.push({ path: l.path, message: `no action has id '${l.target}'` });
    }
    if (key !== null && byId.get(key)?.index === i) {
      edges.set(
        key,
        links.map((l) => l.target).filter((x) => byId.has(x)),
      );
    }
  });
  const cycle = findCycle(edges);
  if (cycle !== null) {
    const at = byId.get(cycle[0] as string)?.index ?? 0;
    problems.push({
      path: `$.definition.actions[${at}]`,
      message: `actions form a cycle: ${cycle.join(' → ')}`,
    });
  }

  // actions
  const sample: TemplateInput | null =
    options.renderSample === false
      ? null
      : {
          profile: {},
          event: triggerMetric === null && trigger?.type !== 'item' ? null : {},
          organization: {},
          flow: { id: flow.id, name: flow.name },
          now: new Date(0),
        };
  const compiled = new Map<string, CompiledAction>();
  def.actions.forEach((action, i) => {
    const path = `$.definition.actions[${i}]`;
    const key = actionKey(action);
    const c = compileAction(
      action,
      key ?? `#${i}`,
      path,
      options,
      // What trigger splits may read: a metric flow's event, or a price-drop flow's (Klaviyo).
      triggerMetric !== null
        ? { type: 'metric', metric: triggerMetric }
        : t?.type === 'price-drop'
          ? { type: 'price-drop' }
          : null,
      problems,
      warnings,
      sample,
      filter,
    );
    if (c !== null && key !== null && byId.get(key)?.index === i) compiled.set(key, c);
  });

  // reachability and delays (only meaningful on a sound graph)
  if (problems.length === 0 && def.entry_action_id !== null) {
    const reachable = reach(edges, [def.entry_action_id]);
    for (const [key, { index }] of byId) {
      if (!reachable.has(key)) {
        warnings.push({
          path: `$.definition.actions[${index}]`,
          message: `action '${key}' is never reached`,
        });
      }
    }
    for (const [key, action] of compiled) {
      if (action.kind !== 'delay') continue;
      const after = reach(edges, action.next === null ? [] : [action.next]);
      const workAfter = [...after].some((k) => {
        const a = compiled.get(k);
        return a?.kind === 'webhook' && (a.status === 'live' || a.status === 'manual');
      });
      compiled.set(key, { ...action, workAfter });
    }
  }

  if (problems.length > 0) return { ok: false, problems, warnings };
  const compiledFlow: CompiledFlow = {
    id: flow.id,
    name: flow.name,
    status: flow.status,
    version: flow.version,
    updatedAt: flow.updated_at ?? null,
    document: flow,
    trigger: trigger as CompiledTrigger,
    profileFilter,
    reentry,
    entryActionId: def.entry_action_id as string,
    actions: compiled,
    warnings,
    metricSeries,
    readsProfileStore,
    sequentialWebhooks: flow.webhook_order !== 'parallel',
  };
  return { ok: true, flow: compiledFlow, warnings };
}

/** Like validateFlow, but throws FlowValidationError (for the CLI and tests). */
export function compileFlowOrThrow(doc: unknown, options: ValidateOptions): CompiledFlow {
  const r = validateFlow(doc, options);
  if (!r.ok) throw new FlowValidationError(r.problems);
  return r.flow;
}

function compileAction(
  action: FlowAction,
  key: string,
  path: string,
  options: ValidateOptions,
  splitTrigger: { type: 'metric'; metric: string } | { type: 'price-drop' } | null,
  problems: ValidationProblem[],
  warnings: ValidationProblem[],
  sample: TemplateInput | null,
  filter: (
    f: ConditionFilter | null | undefined,
    location: FilterLocation,
    path: string,
  ) => Predicate | null,
): CompiledAction | null {
  const always: Predicate = () => true;
  switch (action.type) {
    case 'send-webhook': {
      const message = action.data.message;
      const mPath = `${path}.data.message`;
      let status: ActionStatus;
      if (action.data.status === undefined) {
        status = 'draft';
        warnings.push({
          path: `${path}.data.status`,
          message:
            "not set: Klaviyo's default is 'draft', so this webhook is skipped; set 'live' to send",
        });
      } else status = action.data.status;
      checkUrl(message.url, `${mPath}.url`, options.allowHttp, problems, warnings);
      const headers: CompiledHeader[] = [];
      const seenHeaders = new Set<string>();
      for (const [name, value] of Object.entries(message.headers ?? {})) {
        const hPath = pathJoin(`${mPath}.headers`, name);
        const lower = name.toLowerCase();
        const refusal = headerRefusal(name, value, options);
        if (refusal !== undefined) {
          problems.push({ path: hPath, message: refusal });
          continue;
        }
        if (seenHeaders.has(lower)) {
          problems.push({
            path: hPath,
            message: `header '${name}' is given twice (header names are case-insensitive)`,
          });
          continue;
        }
        seenHeaders.add(lower);
        const template = templateProblems(
          value,
          'header',
          hPath,
          problems,
          warnings,
          null,
          options.templateLimits,
        );
        if (template !== null) headers.push({ name, template });
      }
      let body: CompiledTemplate | null = null;
      if (typeof message.body === 'string' && message.body.trim() !== '') {
        body = templateProblems(
          message.body,
          'body',
          `${mPath}.body`,
          problems,
          warnings,
          sample,
          options.templateLimits,
        );
      }
      return {
        kind: 'webhook',
        id: key,
        status,
        url: message.url,
        headers,
        body,
        signingSecret: message.signing_secret ?? null,
        next: action.links?.next ?? null,
      };
    }
    case 'conditional-split': {
      const test = filter(
        action.data.profile_filter,
        'conditional-split',
        `${path}.data.profile_filter`,
      );
      return {
        kind: 'split',
        id: key,
        type: 'conditional-split',
        test: test ?? always,
        ifTrue: action.links?.next_if_true ?? null,
        ifFalse: action.links?.next_if_false ?? null,
      };
    }
    case 'trigger-split': {
      if (splitTrigger === null) {
        problems.push({
          path: `${path}.type`,
          message: 'trigger splits exist only in metric-triggered and price-drop flows',
        });
        return null;
      }
      if (
        action.data.trigger_type !== undefined &&
        action.data.trigger_type !== splitTrigger.type
      ) {
        problems.push({
          path: `${path}.data.trigger_type`,
          message: `must be '${splitTrigger.type}' (the flow's trigger type)`,
        });
      }
      if (
        splitTrigger.type === 'metric' &&
        action.data.trigger_id !== undefined &&
        metricName(action.data.trigger_id, options) !== splitTrigger.metric
      ) {
        problems.push({
          path: `${path}.data.trigger_id`,
          message: `must be the trigger metric '${splitTrigger.metric}' (got '${action.data.trigger_id}')`,
        });
      }
      const test = filter(
        action.data.trigger_filter,
        'trigger-split',
        `${path}.data.trigger_filter`,
      );
      return {
        kind: 'split',
        id: key,
        type: 'trigger-split',
        test: test ?? always,
        ifTrue: action.links?.next_if_true ?? null,
        ifFalse: action.links?.next_if_false ?? null,
      };
    }
    case 'multi-branch-split': {
      const branches: {
        branchId: string;
        test: Predicate;
        next: string | null;
        order: number;
        index: number;
      }[] = [];
      let elseNext: string | null = null;
      let elseSeen = false;
      action.data.branches.forEach((b, i) => {
        const bPath = `${path}.data.branches[${i}]`;
        if (b.is_else === true) {
          if (elseSeen)
            problems.push({
              path: `${bPath}.is_else`,
              message: 'only one branch can be the else branch',
            });
          elseSeen = true;
          elseNext = b.links?.next ?? null;
          return;
        }
        if (b.branch_filter === null || b.branch_filter === undefined) {
          problems.push({
            path: `${bPath}.branch_filter`,
            message: 'is required unless is_else is true',
          });
          return;
        }
        const test = filter(b.branch_filter, 'multi-branch-split', `${bPath}.branch_filter`);
        branches.push({
          branchId: b.branch_id,
          test: test ?? always,
          next: b.links?.next ?? null,
          order: b.order ?? i,
          index: i,
        });
      });
      branches.sort((a, b) => a.order - b.order || a.index - b.index);
      return {
        kind: 'multi-split',
        id: key,
        branches: branches.map(({ branchId, test, next }) => ({ branchId, test, next })),
        elseNext,
      };
    }
    case 'time-delay': {
      const d = action.data;
      const unit = d.unit ?? 'days';
      const tz = d.timezone ?? 'profile';
      if (tz !== 'profile' && !validTimeZone(tz)) {
        problems.push({
          path: `${path}.data.timezone`,
          message: `unknown time zone '${tz}' (use 'profile' or an IANA zone)`,
        });
      }
      if (unit !== 'days' && (d.delay_until_time ?? null) !== null) {
        warnings.push({
          path: `${path}.data.delay_until_time`,
          message: "applies only to unit 'days'; ignored",
        });
      }
      if (unit !== 'days' && (d.delay_until_weekdays ?? null) !== null) {
        warnings.push({
          path: `${path}.data.delay_until_weekdays`,
          message: "applies only to unit 'days'; ignored",
        });
      }
      if (Array.isArray(d.delay_until_weekdays) && d.delay_until_weekdays.length === 0) {
        problems.push({
          path: `${path}.data.delay_until_weekdays`,
          message: 'must name at least one weekday (or be null)',
        });
      }
      return { kind: 'delay', id: key, data: d, next: action.links?.next ?? null, workAfter: true };
    }
    default: {
      if ((UNSUPPORTED_ACTION_TYPES as readonly string[]).includes(action.type)) {
        problems.push({
          path: `${path}.type`,
          message: `action type '${action.type}' is not supported yet`,
        });
        return null;
      }
      if ((PASS_THROUGH_ACTION_TYPES as readonly string[]).includes(action.type)) {
        const type = action.type as PassThroughActionType;
        warnings.push({
          path: `${path}.type`,
          message: `action type '${type}' is not run by flowhook: profiles pass through to links.next`,
        });
        const links = (action as { links?: { next?: string | null } | null }).links;
        return { kind: 'pass', id: key, type, next: links?.next ?? null };
      }
      problems.push({
        path: `${path}.type`,
        message: `unknown action type '${String(action.type)}'`,
      });
      return null;
    }
  }
}

function findCycle(edges: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, 1 | 2>(); // 1 = on the stack, 2 = done
  for (const start of edges.keys()) {
    if (state.has(start)) continue;
    const stack: { node: string; i: number }[] = [{ node: start, i: 0 }];
    state.set(start, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as { node: string; i: number };
      const next = (edges.get(top.node) ?? [])[top.i++];
      if (next === undefined) {
        state.set(top.node, 2);
        stack.pop();
      } else if (state.get(next) === 1) {
        const from = stack.findIndex((f) => f.node === next);
        return [...stack.slice(from).map((f) => f.node), next];
      } else if (!state.has(next)) {
        state.set(next, 1);
        stack.push({ node: next, i: 0 });
      }
    }
  }
  return null;
}

function reach(
  edges: ReadonlyMap<string, readonly string[]>,
  from: readonly string[],
): Set<string> {
  const seen = new Set<string>();
  const todo = [...from];
  while (todo.length > 0) {
    const n = todo.pop() as string;
    if (seen.has(n)) continue;
    seen.add(n);
    todo.push(...(edges.get(n) ?? []));
  }
  return seen;
}
