import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineAsset, input, type AssetDefinition } from '../../core/definitions/asset.ts';
import type { AssetCheck } from '../../core/definitions/checks.ts';
import { identity } from '../../core/partitions/mappings.ts';
import { pairsOfGroup, type PipelinePartitions } from '../canonical_bars/partitions.ts';
import type { TrainedModels } from '../models/asset.ts';
import type { Policies } from '../policies/index.ts';
import type { ThetaDecision } from '../theta/asset.ts';
import {
  dateOf, evaluateAcceptance, kpiConfidenceIntervals, runStressScenarios,
  type AcceptanceResult, type BtDailyEquity, type BtStressRow, type BtTrade, type ConfidenceInterval,
} from './engine/index.ts';
import { GroupBacktester, type PortfolioKpis, type Theta } from './portfolio.ts';

/** The columns every backtest output carries (seed: すべてに付与). */
export interface BtProvenance {
  model_version: string;
  feature_schema_hash: string;
  code_hash: string;
  seed: number;
  run_id: string;
}

export interface BtSummaryRow {
  pair_id: string;
  period: string;
  trades: number;
  win_rate: number;
  e_per_trade: number;
  ann_return: number;
  sharpe: number;
  max_dd: number;
  calmar: number;
  trades_per_year: number;
  halt_rate: number;
  ai2_false_stop_rate: number;
  theta1: number;
  theta2: number;
  params_hash: string;
  data_hash: string;
}

export interface GroupBacktestResult {
  provenance: BtProvenance;
  theta: Theta;
  /** The group portfolio first (`pair_id` = the group), then each pair. */
  bt_summary: Array<BtSummaryRow & BtProvenance>;
  bt_trades: Array<Omit<BtTrade, 'ts_entry' | 'ts_exit'> & { ts_entry: string; ts_exit: string } & BtProvenance>;
  bt_daily_equity: Array<BtDailyEquity & BtProvenance>;
  bt_stress_results: Array<BtStressRow & BtProvenance>;
  kpis: PortfolioKpis;
  ci95: { sharpe: ConfidenceInterval; annReturn: ConfidenceInterval; ePerTrade: ConfidenceInterval };
  acceptance: AcceptanceResult;
  /** Portfolio daily returns (for the publishing gate's improvement CI). */
  daily: Array<{ date: string; ret: number }>;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** The backtest engine's source, hashed: `code_hash` changes exactly when the simulation code does. */
const CODE_HASH = (() => {
  const dir = join(import.meta.dirname, 'engine');
  return sha(readdirSync(dir).filter((f) => f.endsWith('.ts')).sort().map((f) => `${f}\n${readFileSync(join(dir, f), 'utf8')}`).join('\n')).slice(0, 16);
})();

function acceptanceCheck(policies: Policies): AssetCheck<GroupBacktestResult> {
  const { severity, blocking } = policies.backtest.acceptance_check;
  const a = policies.backtest.acceptance;
  return {
    name: 'acceptance_gate',
    description: `Sharpe > ${a.sharpe_min} AND MaxDD < ${a.max_dd_max} AND trades/yr ≥ ${a.trades_per_year_min} (backtest_policy.acceptance).`,
    severity,
    blocking,
    evaluate: (v) => ({ passed: v.acceptance.passed, metadata: { reasons: v.acceptance.reasons, warnings: v.acceptance.warnings, sharpe: v.kpis.sharpe, max_dd: v.kpis.maxDd, trades_per_year: v.kpis.tradesPerYear } }),
  };
}

/**
 * The group's backtest at the applied θ over the model's walk-forward OOS period, with full costs,
 * per-pair and portfolio KPIs, 95 % block-bootstrap CIs, the stress scenarios, and the acceptance
 * gate as a check whose severity and blocking come from `backtest_policy.acceptance_check`.
 */
export function backtestsAsset(policies: Policies, partitions: PipelinePartitions, models: AssetDefinition<TrainedModels, any, any>, theta: AssetDefinition<ThetaDecision, any, any>) {
  return defineAsset({
    key: 'backtests',
    description: 'Backtest of a pair group at the applied θ over the walk-forward OOS predictions: trades, daily equity, KPIs with 95 % CIs, stress scenarios and the acceptance gate.',
    group: 'models',
    kinds: ['backtest'],
    partitions: partitions.modelWindows,
    codeVersion: `1-${CODE_HASH}`,
    ins: { models: input(models, { mapping: identity() }), theta: input(theta, { mapping: identity() }) },
    config: z.strictObject({}),
    checks: [acceptanceCheck(policies)],
    async compute(ctx, ins) {
      const [{ value: m }] = await ins.models.loadAll();
      const [{ value: th }] = await ins.theta.loadAll();
      const pairs = pairsOfGroup(policies)(m.group);
      const bt = new GroupBacktester(policies, m.oos, pairs);
      const result = bt.run(th.applied);
      const provenance: BtProvenance = { model_version: m.modelVersion, feature_schema_hash: m.schemaHash, code_hash: CODE_HASH, seed: ctx.seed, run_id: ctx.runId };
      const period = `${m.metrics.oos.from?.slice(0, 10) ?? '-'}:${m.metrics.oos.to?.slice(0, 10) ?? '-'}`;
      const dataHash = sha(JSON.stringify(m.oos.map((r) => [r.pair, r.ts, r.close_A, r.close_B, r.return_prob, r.risk_score]))).slice(0, 16);

      const summary = (pairId: string, k: PortfolioKpis, params: unknown): BtSummaryRow & BtProvenance => ({
        pair_id: pairId, period, trades: k.trades, win_rate: k.winRate, e_per_trade: k.ePerTrade, ann_return: k.annReturn, sharpe: k.sharpe, max_dd: k.maxDd, calmar: k.calmar,
        trades_per_year: k.tradesPerYear, halt_rate: k.haltRate, ai2_false_stop_rate: k.ai2FalseStopRate, theta1: th.applied.theta1, theta2: th.applied.theta2,
        params_hash: sha(JSON.stringify(params)).slice(0, 16), data_hash: dataHash, ...provenance,
      });
      const rows: GroupBacktestResult = {
        provenance, theta: th.applied,
        bt_summary: [summary(m.group, result.kpis, pairs.map((p) => bt.paramsOf(p, th.applied)))],
        bt_trades: [], bt_daily_equity: [], bt_stress_results: [],
        kpis: result.kpis,
        ci95: kpiConfidenceIntervals({ dailyReturns: result.dailyReturns, tradePnls: Float64Array.from([...result.runs.values()].flatMap((r) => [...r.tradePnls])), years: result.kpis.years }, { seed: ctx.seed }),
        acceptance: evaluateAcceptance(result.kpis, policies.backtest.acceptance),
        daily: result.days.map((d, i) => ({ date: dateOf(d), ret: result.dailyReturns[i] })),
      };
      let done = 0;
      for (const [pair, run] of result.runs) {
        const params = bt.paramsOf(pair, th.applied);
        rows.bt_summary.push(summary(pair, { ...run.kpis, ai2FalseStopRate: run.kpis.ai2FalseStopRate }, params));
        for (const t of run.trades) rows.bt_trades.push({ ...t, ts_entry: new Date(t.ts_entry).toISOString(), ts_exit: new Date(t.ts_exit).toISOString(), ...provenance });
        for (const d of run.daily) rows.bt_daily_equity.push({ ...d, ...provenance });
        for (const s of runStressScenarios(bt.seriesOf(pair), params, policies.backtest.stress, { seed: ctx.seed })) rows.bt_stress_results.push({ ...s, ...provenance });
        ctx.progress(++done, result.runs.size, pair);
      }
      const k = result.kpis;
      // The portfolio's daily equity (initial = 1), for the lineage UI's chart: one point a day stays small.
      let equity = 1;
      const equityCurve = rows.daily.map((d) => ({ date: d.date, equity: Number((equity *= 1 + d.ret).toFixed(6)) }));
      return {
        value: rows,
        metadata: {
          model_version: m.modelVersion, period, theta1: th.applied.theta1, theta2: th.applied.theta2,
          trades: k.trades, trades_per_year: k.tradesPerYear, ann_return: k.annReturn, sharpe: k.sharpe, sharpe_ci95: [rows.ci95.sharpe.lower, rows.ci95.sharpe.upper],
          max_dd: k.maxDd, calmar: k.calmar, e_per_trade: k.ePerTrade, win_rate: k.winRate, halt_rate: k.haltRate, ai2_false_stop_rate: k.ai2FalseStopRate,
          acceptance: rows.acceptance.passed, acceptance_reasons: rows.acceptance.reasons, stress_scenarios: rows.bt_stress_results.length, code_hash: CODE_HASH,
          equity_curve: equityCurve,
        },
      };
    },
  });
}
