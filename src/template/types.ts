// Public types of the template module (Klaviyo's Django dialect rendered with nunjucks).
import type { JsonObject, Profile } from '../documents';

/** Bounds on one render. Exceeding one raises TemplateLimitError. */
export interface TemplateLimits {
  /** Wall-clock budget of one render, in milliseconds. */
  timeoutMs: number;
  /** Largest rendered output, in UTF-8 bytes. */
  maxOutputBytes: number;
  /** Total `{% for %}` iterations of one render, all loops together (nested loops multiply). */
  maxLoopIterations: number;
}

export const DEFAULT_TEMPLATE_LIMITS: TemplateLimits = Object.freeze({
  timeoutMs: 50,
  maxOutputBytes: 512 * 1024,
  maxLoopIterations: 10_000,
});

/** The account's organization, as `{{ organization.* }}`. */
export interface OrganizationInfo {
  name?: string;
  url?: string;
  /** address1, address2, city, region, zip, country ... */
  address?: Record<string, string>;
}

/** Everything a template may see, and nothing else. */
export interface TemplateInput {
  profile: Profile;
  /** Properties of the triggering event; null when the flow is not metric-triggered. */
  event: JsonObject | null;
  organization: OrganizationInfo;
  flow: { id: string; name: string };
  /** The render's notion of "now" (`{{ now }}`, `{% now %}`, `{% today %}`). */
  now: Date;
}

/** A body must render to JSON; a header renders to one line of plain text. */
export type TemplateKind = 'body' | 'header';

/** One reason a template is refused. Lines and columns are 1-based, in the template source. */
export interface TemplateProblem {
  message: string;
  line?: number;
  column?: number;
  /** The tag, filter or variable the problem is about, when there is one. */
  name?: string;
}

export interface CompiledTemplate {
  readonly kind: TemplateKind;
  readonly source: string;
  /** Renders with the checks of its kind (renderBody / renderHeader). */
  render(input: TemplateInput): string;
}
