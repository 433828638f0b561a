// Flow documents: schema + semantic validation, compiled filters, and the flow table.
export * from './types';
export {
  validateFlow,
  validateOptions,
  compileFlowOrThrow,
  isTriggerableMetric,
  NON_TRIGGERABLE_METRICS,
  findUnsupportedTemplateFeatures,
} from './validate';
export { FlowTable, type ApplyResult, type FlowTableOptions } from './flow-table';
export {
  compileConditionFilter,
  compilePropertyFilter,
  compileProfilePath,
  MAX_REGEX_SUBJECT,
  type FilterLocation,
  type CompileFilterOptions,
} from './conditions';
export { checkRegexSafety, type RegexSafetyOptions, type RegexSafetyVerdict } from './regex-safety';
export {
  triggerMatches,
  listIdOf,
  segmentIdOf,
  LIST_MEMBERSHIP_METRICS,
  SEGMENT_MEMBERSHIP_METRICS,
} from './trigger-match';
export { pointerToPath, pathJoin } from '../json-path';
