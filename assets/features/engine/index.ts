/** Public API of the streaming pair-feature engine (pure math, no I/O). */
export {
  DEFAULT_FEATURE_CONFIG, ENGINE_VERSION, FEATURE_NAMES, OUTPUT_NAMES, outputHalfLives, outputWindows,
  resolveFeatureConfig, robustWarmupBar, warmupBars,
  type FeatureConfig, type FeatureName, type OutputName,
} from './config.ts';
export {
  checkSelection, FeatureEngine, RATIO_CAP, SelectedFeatureEngine, selectOutputs,
  type FeatureEngineSnapshot, type FeatureEngineState, type FeatureRow, type PairBar, type SelectedRow,
} from './engine.ts';
export { HuberSolver, MAD_TO_SIGMA } from './huber.ts';
export { RollingMedian, RollingMedianPivot, selectMedian, sortedMedian } from './median.ts';
export {
  applyNormalizer, DEFAULT_NORMALIZER_OPTIONS, fitNormalizer, NORMALIZATION_METHOD, normalizeValue, quantileSorted,
  type FeatureNormParams, type NormalizerOptions, type NormalizerParams,
} from './normalizer.ts';
export {
  alphaFromHalfLife, alphaFromSpan, Ema, FLAT_RELATIVE, isFlat, RollingPairStats, RollingStats, RollingSum, RollingTrend, WilderAverage,
} from './rolling.ts';
export { canonicalJson, featureSchema, schemaHash, type FeatureSchema } from './schema.ts';
export { gaussian, mulberry32, syntheticPair, type SyntheticKind, type SyntheticPair, type SyntheticPairOptions } from './synthetic.ts';
