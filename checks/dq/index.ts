/** Data-quality rules over one partition of canonical bars (seed 002). See pipeline.ts for the order. */
export * from './types.ts';
export { parseTs, canonicalTs, checkAlignment, type Alignment, type ParsedTs } from './time.ts';
export { barKey, ingestSeq, dedupeBars, sortBars } from './dedupe.ts';
export { ohlcProblem } from './ohlc.ts';
export { median, clipScale, clippedScale, MAD_TO_SIGMA, MEAN_AD_TO_SIGMA } from './stats.ts';
export { detectOutliers, type OutlierResult, type OutlierStat } from './outliers.ts';
export { detectSpikes } from './spikes.ts';
export { fillGaps, type FillArgs, type FillResult, type GapRun } from './gaps.ts';
export { runDq, normaliseExpected } from './pipeline.ts';
export { quarantineDecision, quarantineError, type QuarantineDecision } from './quarantine.ts';
