/** Pure θ1/θ2 optimisation engine (seed 002 閾値最適化 v1): objective, grid + TPE search, hysteresis, rollback. */
export {
  SEED_THETA, thetaSettings,
  type HysteresisOptions, type RollbackOptions, type Theta, type ThetaPolicyLike, type ThetaRange, type ThetaScoreOptions, type ThetaSearchOptions, type ThetaSettings,
} from './settings.ts';
export { checkEvaluation, thetaScore, type ThetaEvaluation, type ThetaScore, type ThetaViolation } from './score.ts';
export {
  dominates, optimizeTheta, optimizeThetaAsync, paretoFront,
  type AsyncThetaEvaluator, type EvaluateContext, type ThetaEvaluator, type ThetaOptimization, type ThetaOptimizeOptions, type ThetaPhase, type ThetaTrial,
} from './optimize.ts';
export { fitParzen, goodCount, parzenLogPdf, sampleParzen, tpeCandidates, type Bounds, type Parzen, type TpeProposal } from './tpe.ts';
export {
  applyHysteresis, rollbackDecision,
  type HoldCode, type HysteresisInput, type HysteresisResult, type HysteresisStep, type KpiSnapshot, type RollbackCode, type RollbackDecision, type RollbackInput,
} from './hysteresis.ts';
export { THETA_INVALID } from './errors.ts';
