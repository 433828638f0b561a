// Flow documents as they travel on flowhook.flows (schemas/flow.schema.json describes the same
// shape), and the compiled form the trigger processor evaluates. The definition follows
// Klaviyo's FlowDefinition (klaviyo/openapi, categories/flows.json); OpenAPI `nullable` fields
// are typed `T | null`. Every object may carry members not listed here (Klaviyo's do), so the
// document types are read-only views of what validation has checked, not closed records.

import type { FlowhookEvent, JsonObject, Profile } from '../documents';
import type { ProfileRecord } from '../profiles/record';
import type { CompiledTemplate, TemplateLimits } from '../template';

// ---- the document ---------------------------------------------------------------------------

export type FlowStatus = 'live' | 'manual' | 'draft';
export const FLOW_STATUSES: readonly FlowStatus[] = ['live', 'manual', 'draft'];

export interface FlowDocument {
  id: string;
  name: string;
  status: FlowStatus;
  version: number;
  updated_at?: string;
  /** sequential (default): the step after a webhook waits for its outcome; parallel: it does not. */
  webhook_order?: 'sequential' | 'parallel';
  definition: FlowDefinition;
}

export interface FlowDefinition {
  /** Exactly one trigger. */
  triggers: Trigger[];
  profile_filter?: ConditionFilter | null;
  actions: FlowAction[];
  entry_action_id: string | null;
  reentry_criteria?: ReentryCriteria | null;
}

export type ReentryUnit = 'hour' | 'day' | 'week' | 'alltime';
export interface ReentryCriteria {
  duration: number;
  unit: ReentryUnit;
}

// ---- triggers -------------------------------------------------------------------------------

/** `id` is the metric name as events carry it (e.g. "Placed Order"). */
export interface MetricTrigger {
  type: 'metric';
  id: string;
  trigger_filter?: ConditionFilter | null;
}
export interface ListTrigger {
  type: 'list';
  id: string;
}
export interface SegmentTrigger {
  type: 'segment';
  id: string;
}
/** Klaviyo's date trigger (flowhook takes `date_field_type: profile-property`). */
export interface DateTrigger {
  type: 'date';
  date_field_type?: string;
  date_profile_property?: string;
  timedelta_unit_before_date?: 'days' | 'weeks' | 'months';
  timedelta_value_before_date?: number;
  recurrence_frequency?: 'never' | 'weekly' | 'monthly' | 'annually';
  timezone?: string;
  trigger_time?: string;
  trigger_days?: Weekday[] | null;
}
/** Who a price-drop or low-inventory flow is for: profiles with these kinds of events. */
export type ItemAudience = 'viewed' | 'added-to-cart' | 'checkout-started';
/** Klaviyo's price-drop trigger (catalog items on FLOWHOOK_CATALOG_TOPICS). */
export interface PriceDropTrigger {
  type: 'price-drop';
  trigger_filter?: ConditionFilter | null;
  price_drop_amount_value: number;
  price_drop_amount_unit?: 'currency' | 'percent';
  audience: ItemAudience[];
  timeframe_days?: number;
  currency_type?: string;
}
/** Klaviyo's low-inventory trigger. */
export interface LowInventoryTrigger {
  type: 'low-inventory';
  product_level: 'product' | 'variant';
  trigger_filter?: ConditionFilter | null;
  inventory_count: number;
  audience: ItemAudience[];
  timeframe_days?: number;
}
export type Trigger =
  | MetricTrigger
  | ListTrigger
  | SegmentTrigger
  | DateTrigger
  | PriceDropTrigger
  | LowInventoryTrigger;

// ---- conditions and filters -----------------------------------------------------------------

/** Conditions inside a group are ANDed; groups are ORed. */
export interface ConditionFilter {
  condition_groups: ConditionGroup[];
}
export interface ConditionGroup {
  conditions: Condition[];
}

export interface MetricPropertyCondition {
  type: 'metric-property';
  /** The trigger's metric name. */
  metric_id: string;
  /** A top-level event property name, used literally (e.g. "$value", "Item Count"). */
  field: string;
  filter: PropertyFilter;
}
export interface ProfilePropertyCondition {
  type: 'profile-property';
  /** `email`, `first_name`, `location.city`, `$city`, `properties['Favorite Color']`, … */
  property: string;
  filter: PropertyFilter;
}
export interface ProfileRegionCondition {
  type: 'profile-region';
  in_region: boolean;
  region: 'european_union' | 'united_states';
}
export interface ProfileNotInFlowCondition {
  type: 'profile-not-in-flow';
  timeframe_filter: DateFilter;
}
export interface ProfileSampleCondition {
  type: 'profile-sample';
  percentage: number;
}
export interface ProfileGroupMembershipCondition {
  type: 'profile-group-membership';
  is_member: boolean;
  /** List or segment ids (one namespace, as in Klaviyo). */
  group_ids: string[];
  /** is_member true only: when the profile joined. */
  timeframe_filter?: DateFilter | null;
}
export interface ProfileMetricCondition {
  type: 'profile-metric';
  metric_id: string;
  measurement: 'count' | 'sum';
  measurement_filter: NumericFilter;
  timeframe_filter: DateFilter;
  metric_filters?: { property: string; filter?: PropertyFilter | null }[] | null;
}
export interface ProfileMarketingConsentCondition {
  type: 'profile-marketing-consent';
  consent: {
    channel: 'email' | 'sms' | 'push';
    can_receive_marketing: boolean;
    consent_status: { subscription: string; filters?: unknown[] | null };
  };
}
/** Condition types flowhook refuses because it has no data to evaluate them. */
export interface OtherCondition {
  type:
    | 'profile-postal-code-distance'
    | 'profile-predictive-analytics'
    | 'profile-has-custom-object'
    | 'profile-permissions'
    | 'profile-not-sent-email'
    | 'profile-not-sent-sms'
    | 'profile-not-sent-push'
    | 'custom-object-trigger-property'
    | 'custom-object-property'
    | 'action-output';
}
/** A trigger filter of a price-drop / low-inventory flow: reads the item's properties. */
export interface ItemPropertyCondition {
  type: 'price-drop-property' | 'low-inventory-property';
  metric_id?: string | null;
  /** A property of the Price Drop / Low Inventory event (item_id, title, price, …). */
  field: string;
  filter: PropertyFilter;
}
export type Condition =
  | MetricPropertyCondition
  | ProfilePropertyCondition
  | ProfileRegionCondition
  | ProfileNotInFlowCondition
  | ProfileSampleCondition
  | ProfileGroupMembershipCondition
  | ProfileMetricCondition
  | ProfileMarketingConsentCondition
  | ItemPropertyCondition
  | OtherCondition;

export type StringOperator =
  | 'equals'
  | 'not-equals'
  | 'contains'
  | 'not-contains'
  | 'starts-with'
  | 'not-starts-with'
  | 'ends-with'
  | 'not-ends-with'
  | 'regex'
  | 'nregex';
export type StringArrayOperator = 'in' | 'not-in';
export type PhoneOperator = 'phone-country-code-in' | 'phone-country-code-not-in';
export interface StringFilter {
  type: 'string';
  operator: StringOperator;
  value: string | null;
}
export interface StringArrayFilter {
  type: 'string';
  operator: StringArrayOperator | PhoneOperator;
  value: string[];
}

export type NumericOperator =
  | 'equals'
  | 'not-equals'
  | 'greater-than'
  | 'greater-than-or-equal'
  | 'less-than'
  | 'less-than-or-equal';
export interface NumericFilter {
  type: 'numeric';
  operator: NumericOperator;
  value: number;
}
export interface NumericRangeFilter {
  type: 'numeric';
  operator: 'between';
  start: number;
  end: number;
}

export interface BooleanFilter {
  type: 'boolean';
  operator: 'equals';
  value: boolean;
}

export interface ExistenceFilter {
  type: 'existence';
  operator: 'is-set' | 'not-set';
}

export type ListLengthOperator =
  | 'length-equals'
  | 'length-greater-than'
  | 'length-greater-than-or-equal'
  | 'length-less-than'
  | 'length-less-than-or-equal';
export interface ListContainsFilter {
  type: 'list';
  operator: 'contains' | 'not-contains';
  value: string | number | null;
}
export interface ListLengthFilter {
  type: 'list';
  operator: ListLengthOperator;
  value: number;
}
export interface ListSetFilter {
  type: 'list';
  operator: 'contains-all' | 'contains-any' | 'not-contains-all' | 'not-contains-any';
  value: string[];
}
export interface ListSubstringFilter {
  type: 'list';
  operator: 'contains-substring' | 'not-contains-substring';
  value: string | null;
}

export type RelativeUnit = 'hour' | 'day' | 'week';
export interface StaticDateFilter {
  type: 'date';
  operator: 'before' | 'after';
  date: string;
}
export interface StaticDateRangeFilter {
  type: 'date';
  operator: 'between-static';
  start: string;
  end: string;
}
export interface RelativeDateFilter {
  type: 'date';
  operator: 'in-the-last' | 'at-least' | 'in-the-next' | 'anniversary-last' | 'anniversary-next';
  unit: RelativeUnit;
  quantity: number;
}
export interface RelativeDateRangeFilter {
  type: 'date';
  /** Between `start` and `end` units ago. */
  operator: 'between';
  unit: RelativeUnit;
  start: number;
  end: number;
}
export interface CalendarDateFilter {
  type: 'date';
  operator: 'calendar-month';
  /** 1 = January … 12 = December. */
  value: number;
}
export interface AnniversaryDateFilter {
  type: 'date';
  operator: 'anniversary' | 'anniversary-month';
}
export interface TimeframeOnlyDateFilter {
  type: 'date';
  operator: 'alltime' | 'flow-start';
}
export type DateFilter =
  | StaticDateFilter
  | StaticDateRangeFilter
  | RelativeDateFilter
  | RelativeDateRangeFilter
  | CalendarDateFilter
  | AnniversaryDateFilter
  | TimeframeOnlyDateFilter;

export type PropertyFilter =
  | StringFilter
  | StringArrayFilter
  | NumericFilter
  | NumericRangeFilter
  | BooleanFilter
  | ExistenceFilter
  | ListContainsFilter
  | ListLengthFilter
  | ListSetFilter
  | ListSubstringFilter
  | DateFilter;

// ---- actions --------------------------------------------------------------------------------

export type ActionStatus = 'disabled' | 'draft' | 'live' | 'manual';

export interface Link {
  next?: string | null;
}
export interface BooleanBranchLinks {
  next_if_true?: string | null;
  next_if_false?: string | null;
}

interface ActionBase {
  /** The real id; links refer to it. */
  id?: string | null;
  /** Klaviyo's id for documents written for creation; used when `id` is absent. */
  temporary_id?: string | null;
}

export interface FlowWebhook {
  /** Absolute https URL, literal (no template tags). */
  url: string;
  /** Header name → value template; values may use `{{ secrets.NAME }}`. */
  headers?: Record<string, string> | null;
  /** Body template; must render to JSON. Missing or empty: `{}`. */
  body?: string | null;
  name?: string | null;
  id?: string | null;
  /** flowhook extension: the NAME of the signing secret (resolved by the delivery worker). */
  signing_secret?: string | null;
}
export interface SendWebhookAction extends ActionBase {
  type: 'send-webhook';
  links?: Link | null;
  data: { status?: ActionStatus; message: FlowWebhook };
}
export interface ConditionalSplitAction extends ActionBase {
  type: 'conditional-split';
  links?: BooleanBranchLinks | null;
  data: { profile_filter: ConditionFilter };
}
export interface TriggerSplitAction extends ActionBase {
  type: 'trigger-split';
  links?: BooleanBranchLinks | null;
  data: { trigger_filter: ConditionFilter; trigger_id?: string; trigger_type?: string };
}
export interface MultiBranchSplitBranch {
  branch_id: string;
  order?: number | null;
  is_else?: boolean;
  branch_filter?: ConditionFilter | null;
  links?: Link | null;
}
export interface MultiBranchSplitAction extends ActionBase {
  type: 'multi-branch-split';
  data: { name?: string; branches: MultiBranchSplitBranch[] };
}
export type Weekday =
  'monday' | 'tuesday' | 'wednesday' | 'thursday' | 'friday' | 'saturday' | 'sunday';
/** In Date.getUTCDay() order (0 = Sunday). */
export const WEEKDAYS: readonly Weekday[] = [
  'sunday',
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
];
export interface TimeDelayData {
  /** Default `days`. */
  unit?: 'days' | 'hours' | 'minutes';
  value: number;
  secondary_value?: number | null;
  /** `profile` (default: the profile's location.timezone, else UTC) or an IANA zone. */
  timezone?: string;
  /** `HH:MM` or `HH:MM:SS`; with unit `days` only. */
  delay_until_time?: string | null;
  delay_until_weekdays?: Weekday[] | null;
}
export interface TimeDelayAction extends ActionBase {
  type: 'time-delay';
  links?: Link | null;
  data: TimeDelayData;
}
/** Actions flowhook does not run: the profile passes through to links.next. */
export const PASS_THROUGH_ACTION_TYPES = [
  'send-email',
  'send-sms',
  'send-mobile-push',
  'send-whatsapp',
  'send-internal-alert',
  'ab-test',
  'content-experiment',
  'update-profile',
  'list-update',
  'code',
  'internal-service',
] as const;
export type PassThroughActionType = (typeof PASS_THROUGH_ACTION_TYPES)[number];
export interface PassThroughAction extends ActionBase {
  type: PassThroughActionType;
  links?: Link | null;
  data?: unknown;
}
/** Klaviyo actions flowhook refuses for now. */
export const UNSUPPORTED_ACTION_TYPES = [
  'target-date',
  'countdown-delay',
  'back-in-stock-delay',
  'action-output-split',
] as const;
export interface UnsupportedAction extends ActionBase {
  type: (typeof UNSUPPORTED_ACTION_TYPES)[number];
}
export type FlowAction =
  | SendWebhookAction
  | ConditionalSplitAction
  | TriggerSplitAction
  | MultiBranchSplitAction
  | TimeDelayAction
  | PassThroughAction
  | UnsupportedAction;

// ---- validation results ---------------------------------------------------------------------

export interface ValidationProblem {
  /** JSON path into the document, e.g. `$.definition.actions[2].data.message.url`. */
  path: string;
  message: string;
}

export interface ValidateOptions {
  /** Accept `http://` webhook URLs (FLOWHOOK_ALLOW_HTTP). */
  allowHttp: boolean;
  /** Accept credential headers with a literal value (FLOWHOOK_ALLOW_LITERAL_CREDENTIALS). */
  allowLiteralCredentials?: boolean;
  /** Klaviyo metric id → name: a metric trigger may name its metric by either. */
  metricCatalog?: Readonly<Record<string, string>>;
  /** Limits every compiled template renders under; unset ones keep the template defaults. */
  templateLimits?: Partial<TemplateLimits>;
  /**
   * false (FLOWHOOK_PROFILE_STORE=false): conditions that need the profile store (history,
   * membership, consent) are refused. Default true.
   */
  profileStore?: boolean;
  /**
   * The catalog (price-drop and low-inventory triggers): off with FLOWHOOK_CATALOG=false; `audienceRetentionDays` is the longest `timeframe_days` a flow may ask for. Default on,
   * 90 days.
   */
  catalog?: { enabled: boolean; audienceRetentionDays: number };
  /**
   * Render each body once for a profile and event without fields, to warn about bodies that
   * fail on missing data (default true). The trigger's flow table turns it off: rendering
   * compiles, and a start with thousands of flows compiles only those that fire (the admin API
   * and `flowhook validate` still warn, before a flow is published).
   */
  renderSample?: boolean;
}

export type ValidationResult =
  | { ok: true; flow: CompiledFlow; warnings: ValidationProblem[] }
  | { ok: false; problems: ValidationProblem[]; warnings: ValidationProblem[] };

// ---- the compiled flow (what the hot path evaluates) ----------------------------------------

/** What a condition can see. */
export interface ConditionContext {
  /** The triggering event (null for walks without one, e.g. list and segment flows). */
  event: FlowhookEvent | null;
  profile: Profile;
  now: Date;
  flowId: string;
  /** When the profile last entered this flow before the current entry (profile-not-in-flow). */
  previousEntryAt: Date | null;
  /** What the profile store holds for this profile (null: nothing yet, or the store is off). */
  stored?: ProfileRecord | null;
  /** When the current entry into this flow happened (`flow-start` timeframes); default now. */
  flowStartAt?: Date | null;
}

/**
 * A metric history a flow asks for with property filters (`profile-metric` with
 * metric_filters): the profile store counts the events of `metric` that `matches` under `key`.
 */
export interface MetricSeriesSpec {
  key: string;
  metric: string;
  matches(properties: JsonObject): boolean;
}
export type Predicate = (ctx: ConditionContext) => boolean;

/** A date trigger, compiled (src/trigger/date-trigger.ts says when it fires). */
export interface DateTriggerSpec {
  /** The profile property holding the date, as flows name it. */
  property: string;
  /** Reads that property from a profile. */
  read(profile: Profile): unknown;
  leadUnit: 'days' | 'weeks' | 'months';
  /** Positive: before the date; negative: after. */
  leadValue: number;
  recurrence: 'never' | 'weekly' | 'monthly' | 'annually';
  /** An IANA zone, or 'profile'. */
  timezone: string;
  /** [hour, minute, second] of the local entry time. */
  triggerTime: [number, number, number];
  triggerDays: readonly Weekday[] | null;
}

/**
 * A price-drop or low-inventory trigger, compiled (src/trigger/item-trigger.ts says when a
 * catalog change fires it and who receives it).
 */
export type ItemTriggerRule = {
  /** Klaviyo's audience kinds. */
  audience: readonly ItemAudience[];
  timeframeDays: number;
} & (
  | { kind: 'price-drop'; metric: 'Price Drop'; amount: number; unit: 'currency' | 'percent' }
  | {
      kind: 'low-inventory';
      metric: 'Low Inventory';
      threshold: number;
      level: 'product' | 'variant';
    }
);
export type ItemTriggerSpec = ItemTriggerRule & {
  /** The trigger filter, on the Price Drop / Low Inventory event's properties. */
  filter: Predicate | null;
};

export type CompiledTrigger =
  | { type: 'metric'; metric: string; filter: Predicate | null }
  | { type: 'list'; listId: string }
  | { type: 'segment'; segmentId: string }
  | { type: 'date'; date: DateTriggerSpec }
  | { type: 'item'; item: ItemTriggerSpec };

export interface CompiledHeader {
  name: string;
  template: CompiledTemplate;
}

export type CompiledAction =
  | {
      kind: 'webhook';
      id: string;
      /** Klaviyo default when absent: draft. */
      status: ActionStatus;
      url: string;
      headers: readonly CompiledHeader[];
      /** null: the body is `{}`. */
      body: CompiledTemplate | null;
      signingSecret: string | null;
      next: string | null;
    }
  | {
      kind: 'split';
      id: string;
      type: 'conditional-split' | 'trigger-split';
      test: Predicate;
      ifTrue: string | null;
      ifFalse: string | null;
    }
  | {
      kind: 'multi-split';
      id: string;
      /** Evaluated in order; the first branch whose filter matches wins. */
      branches: readonly { branchId: string; test: Predicate; next: string | null }[];
      /** The `is_else` branch. */
      elseNext: string | null;
    }
  | {
      kind: 'delay';
      id: string;
      data: TimeDelayData;
      next: string | null;
      /** False when no live or manual webhook can be reached after this delay. */
      workAfter: boolean;
    }
  | { kind: 'pass'; id: string; type: PassThroughActionType; next: string | null };

export interface CompiledFlow {
  readonly id: string;
  readonly name: string;
  readonly status: FlowStatus;
  readonly version: number;
  readonly updatedAt: string | null;
  /** The validated document, as received. */
  readonly document: FlowDocument;
  readonly trigger: CompiledTrigger;
  readonly profileFilter: Predicate | null;
  readonly reentry: ReentryCriteria;
  readonly entryActionId: string;
  readonly actions: ReadonlyMap<string, CompiledAction>;
  readonly warnings: readonly ValidationProblem[];
  /** Property-filtered metric histories the flow's conditions read (see MetricSeriesSpec). */
  readonly metricSeries: readonly MetricSeriesSpec[];
  /** Whether a condition reads the profile store (history, membership or consent). */
  readonly readsProfileStore: boolean;
  /** webhook_order sequential: the step after a webhook waits for the webhook's outcome. */
  readonly sequentialWebhooks: boolean;
}

/** Event properties as a template sees them (`event`). */
export type EventProperties = JsonObject;
