/** Pure ML engine of the model asset: GBDT training and prediction, ONNX export, isotonic calibration, metrics. */
export { trainGbdt, type GbdtParams, type LabelledData, type TrainOptions, type TrainResult } from './gbdt.ts';
export {
  featureImportance, leafValue, modelFromJSON, modelToJSON, predictProba, predictRaw, sigmoid,
  type GbdtModel, type LeafNode, type SplitNode, type Tree, type TreeNode,
} from './model.ts';
export { toDense, type DenseMatrix, type FeatureMatrix } from './matrix.ts';
export { exportOnnx, ONNX_INPUT, ONNX_OUTPUT_LABEL, ONNX_OUTPUT_PROBABILITIES, type OnnxExportOptions } from './onnx-export.ts';
export { applyIsotonic, fitIsotonic, isotonicFromJSON, isotonicToJSON, isotonicValue, type IsotonicCalibrator } from './calibration.ts';
export { averagePrecision, brierScore, expectedCalibrationError, f1Score, logLoss, rocAuc, type F1Average } from './metrics.ts';
export { MODEL_INVALID } from './errors.ts';
export { daysToBars, expandingWalkForward, purgedKFold, SEED_CV, type LabelSpan, type PurgedKFoldOptions, type Split, type WalkForwardOptions } from './cv.ts';
export { SEED_WATCHDOG, std, VarianceWatchdog, type WatchdogOptions } from './watchdog.ts';
