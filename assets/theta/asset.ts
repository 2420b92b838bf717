import { z } from 'zod';
import { defineAsset, input, type AssetDefinition } from '../../core/definitions/asset.ts';
import type { JsonObject } from '../../core/event-log/port.ts';
import { identity } from '../../core/partitions/mappings.ts';
import { improvementCI } from '../backtests/engine/index.ts';
import { GroupBacktester, type PortfolioKpis, type Theta } from '../backtests/portfolio.ts';
import { pairsOfGroup, type PipelinePartitions } from '../canonical_bars/partitions.ts';
import type { TrainedModels } from '../models/asset.ts';
import type { Policies } from '../policies/index.ts';
import type { ModelRegistry } from '../published_models/engine/index.ts';
import { applyHysteresis, optimizeTheta, thetaSettings, type HysteresisResult, type ThetaEvaluation, type ThetaTrial } from './engine/index.ts';

export interface ThetaDecision {
  group: string;
  timeframe: string;
  modelVersion: string;
  /** θ in force before (the champion's, else core_policy's initial θ). */
  old: Theta;
  /** The optimiser's top-1 (null when no θ met the hard constraints). */
  proposed: Theta | null;
  /** What the rules let through: smoothed, clamped, or held at `old`. */
  applied: Theta;
  held: string | null;
  hysteresis: HysteresisResult | null;
  improvementCi: { lower: number; upper: number; estimate: number } | null;
  outcome: 'optimal' | 'no_feasible';
  pareto: Theta[];
  trials: Array<Pick<ThetaTrial, 'index' | 'phase' | 'theta1' | 'theta2' | 'score' | 'feasible' | 'violations'> & { kpis: ThetaEvaluation | null }>;
  kpisAtApplied: PortfolioKpis;
}

function evaluation(k: PortfolioKpis): ThetaEvaluation {
  return { annReturn: k.annReturn, maxDD: k.maxDd, tradesPerYear: k.tradesPerYear, fpRateAi2: k.ai2FalseStopRate, sharpe: k.sharpe, trades: k.trades, ePerTrade: k.ePerTrade, winRate: k.winRate };
}

/**
 * θ1/θ2 of a pair group for a model (seed 002 閾値最適化 v1): grid then TPE over backtests of the
 * model's walk-forward OOS predictions, the seed's score and hard constraints, then hysteresis
 * against the θ in force — held when OOS trades are too few or the bootstrap CI of the improvement
 * crosses 0. Every trial is kept in the value and recorded as an experiment.
 */
export function thetaAsset(policies: Policies, partitions: PipelinePartitions, models: AssetDefinition<TrainedModels, any, any>) {
  const settings = thetaSettings(policies.core);
  return defineAsset({
    key: 'theta',
    description: 'θ1 (return probability) and θ2 (risk) entry thresholds of a pair group: grid + TPE on walk-forward OOS backtests, with the seed\'s hysteresis against the θ in force.',
    group: 'models',
    kinds: ['theta'],
    partitions: partitions.modelWindows,
    codeVersion: '1',
    ins: { models: input(models, { mapping: identity() }) },
    config: z.strictObject({}),
    async compute(ctx, ins) {
      const [{ value: m }] = await ins.models.loadAll();
      const bt = new GroupBacktester(policies, m.oos, pairsOfGroup(policies)(m.group));
      const registry = ctx.resources.modelRegistry as ModelRegistry | undefined;
      const champion = await registry?.champion(m.group, m.timeframe);
      const old: Theta = champion?.theta ?? settings.initial;

      let evaluations = 0;
      const steps = (r: readonly [number, number]) => Math.floor((r[1] - r[0]) / settings.search.gridStep + 1e-9) + 2;
      const gridPoints = steps(settings.range.theta1) * steps(settings.range.theta2);
      const opt = optimizeTheta((theta1, theta2) => {
        ctx.progress(++evaluations, gridPoints + settings.search.tpeMaxTrials, `θ trial ${evaluations}`);
        return evaluation(bt.run({ theta1, theta2 }).kpis);
      }, settings);
      const best = opt.best ? { theta1: opt.best.theta1, theta2: opt.best.theta2 } : null;

      let applied = old, held: string | null = null, hysteresis: HysteresisResult | null = null, ci: ThetaDecision['improvementCi'] = null;
      if (!best) held = `no θ met the hard constraints (${opt.reason ?? 'no feasible trial'})`;
      else {
        const atNew = bt.run(best), atOld = bt.run(old);
        const c = improvementCI(atNew.dailyReturns, atOld.dailyReturns, { statistic: 'mean', seed: ctx.seed });
        ci = { lower: c.lower, upper: c.upper, estimate: c.estimate };
        hysteresis = applyHysteresis({ old, proposed: best, oosTrades: atNew.kpis.trades, tradesMin: settings.score.tradesMin, improvementCi: [c.lower, c.upper] }, settings.hysteresis);
        // On the search's resolution, so registry and bundles hold 0.706, not 0.7059999999999999.
        const r = settings.search.resolution;
        applied = { theta1: Math.round(hysteresis.applied.theta1 / r) * r, theta2: Math.round(hysteresis.applied.theta2 / r) * r };
        applied = { theta1: Number(applied.theta1.toFixed(6)), theta2: Number(applied.theta2.toFixed(6)) };
        held = hysteresis.held?.message ?? null;
      }

      for (const t of opt.trials) {
        await registry?.recordExperiment({
          runId: ctx.runId, assetKey: ctx.assetKey, partitionKey: ctx.partitionKey, trial: t.index, group: m.group, modelVersion: m.modelVersion,
          params: { theta1: t.theta1, theta2: t.theta2, phase: t.phase },
          metrics: { score: t.score, feasible: t.feasible, ...(t.evaluation ?? {}) } as JsonObject,
        });
      }
      const atApplied = bt.run(applied).kpis;
      const value: ThetaDecision = {
        group: m.group, timeframe: m.timeframe, modelVersion: m.modelVersion,
        old, proposed: best, applied, held, hysteresis, improvementCi: ci, outcome: opt.outcome,
        pareto: opt.pareto.map((t) => ({ theta1: t.theta1, theta2: t.theta2 })),
        trials: opt.trials.map((t) => ({ index: t.index, phase: t.phase, theta1: t.theta1, theta2: t.theta2, score: t.score, feasible: t.feasible, violations: t.violations, kpis: t.evaluation })),
        kpisAtApplied: atApplied,
      };
      return {
        value,
        metadata: {
          model_version: m.modelVersion,
          theta1: applied.theta1, theta2: applied.theta2,
          proposed_theta1: best?.theta1 ?? null, proposed_theta2: best?.theta2 ?? null,
          old_theta1: old.theta1, old_theta2: old.theta2,
          held, outcome: opt.outcome, trials: opt.trials.length, feasible_trials: opt.counts.feasible, pareto: value.pareto.length,
          sharpe: atApplied.sharpe, max_dd: atApplied.maxDd, trades_per_year: atApplied.tradesPerYear,
        },
      };
    },
  });
}
