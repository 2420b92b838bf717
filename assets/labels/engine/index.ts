/** Pure label functions for the pair-trading ML pipeline: AI1 (reversion), AI2 (risk), class weights, purging. */
export { DEFAULT_LABEL_CONFIG, LABEL_INVALID, labelConfigFromPolicy, resolveConfig, type LabelConfig, type Series } from './config.ts';
export {
  directionOf, labelReversion, meanAbsDeltaZ,
  type CensoredEvent, type Direction, type ExcludedCandidate, type ExclusionReason, type ReversionLabel, type ReversionResult,
} from './reversion.ts';
export {
  RISK_TRIGGERS, labelRisk, pairDrawdown, riskTriggers, speedEma,
  type RiskInputs, type RiskLabel, type RiskTrigger, type RiskTriggerSeries,
} from './risk.ts';
export { classWeights, type ClassWeights } from './weights.ts';
export { overlaps, purgeOverlapping, type LabelSpan } from './purge.ts';
