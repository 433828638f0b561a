// Klaviyo's Django template dialect on nunjucks: JSON-safe webhook bodies, one-line headers,
// sandboxed and bounded. See engine.ts for the entry points.
export {
  DEFAULT_TEMPLATE_LIMITS,
  type CompiledTemplate,
  type OrganizationInfo,
  type TemplateInput,
  type TemplateKind,
  type TemplateLimits,
  type TemplateProblem,
} from './types';
export { checkTemplate, compileTemplate, renderBody, renderHeader } from './engine';
export { TemplateCache, type TemplateCacheOptions, type TemplateCacheStats } from './cache';
export { TemplateLimitError, TemplateRenderError, TemplateSyntaxError } from '../errors';
