/** The adoption gate (seed 002 採用判定): each criterion rejects a worse model, a better one passes. */
import { describe, expect, it } from 'vitest';
import { OrreryError } from '../../core/errors.ts';
import { PublishErrorIds, SEED_ADOPTION, SEED_ROLLBACK, adoptionGate, kpisFromMetrics, kpisToMetrics, rollbackTriggered, type ModelKpis } from '../../assets/published_models/engine/index.ts';

const champion: ModelKpis = { sharpe: 1.2, maxDrawdown: 0.1, ai2FalseStopRate: 0.05, expectancyPerTrade: 0.8 };
const better: ModelKpis = { sharpe: 1.4, maxDrawdown: 0.09, ai2FalseStopRate: 0.04, expectancyPerTrade: 1.1 };
const ci = { lower: 0.02, upper: 0.3, level: 0.95 };

const failed = (d: ReturnType<typeof adoptionGate>) => d.checks.filter((c) => !c.passed).map((c) => c.criterion);

describe('adoption gate', () => {
  it('uses the seed thresholds', () => {
    expect(SEED_ADOPTION).toEqual({ sharpeRatioMin: 0.95, maxDrawdownSlack: 0.03, ai2FalseStopRateMax: 0.1, expectancyMin: 0, ciLowerMin: 0 });
  });

  it('accepts a better model against the champion', () => {
    const d = adoptionGate({ candidate: better, champion, improvementCi: ci });
    expect(d.passed).toBe(true);
    expect(d.reasons).toEqual([]);
    expect(d.againstChampion).toBe(true);
    expect(d.checks.map((c) => c.criterion).sort()).toEqual(['ai2_false_stop_rate', 'expectancy_per_trade', 'improvement_ci', 'max_drawdown', 'sharpe']);
    expect(d.checks.every((c) => !c.skipped)).toBe(true);
  });

  it('accepts exactly at the bounds (non-inferiority)', () => {
    const d = adoptionGate({ candidate: { sharpe: 0.95 * 1.2, maxDrawdown: 0.13, ai2FalseStopRate: 0.0999, expectancyPerTrade: 0 }, champion, improvementCi: { lower: 0, upper: 0.1 } });
    expect(d.reasons).toEqual([]);
    expect(d.passed).toBe(true);
  });

  it.each<[string, Partial<ModelKpis>, string]>([
    ['Sharpe below 0.95 × the champion', { sharpe: 1.13 }, 'sharpe'],
    ['MaxDD above the champion + 3 %', { maxDrawdown: 0.1301 }, 'max_drawdown'],
    ['AI2 false-stop rate at 10 %', { ai2FalseStopRate: 0.1 }, 'ai2_false_stop_rate'],
    ['negative E/trade', { expectancyPerTrade: -0.01 }, 'expectancy_per_trade'],
    ['E/trade missing (no trades)', { expectancyPerTrade: Number.NaN }, 'expectancy_per_trade'],
  ])('rejects %s', (_label, worse, criterion) => {
    const d = adoptionGate({ candidate: { ...better, ...worse }, champion, improvementCi: ci });
    expect(d.passed).toBe(false);
    expect(failed(d)).toEqual([criterion]);
    expect(d.reasons).toHaveLength(1);
  });

  it('rejects an improvement CI whose lower bound is negative, or a missing CI', () => {
    const d = adoptionGate({ candidate: better, champion, improvementCi: { lower: -0.01, upper: 0.2 } });
    expect(failed(d)).toEqual(['improvement_ci']);
    expect(d.reasons[0]).toMatch(/lower bound < 0/);
    expect(failed(adoptionGate({ candidate: better, champion }))).toEqual(['improvement_ci']);
  });

  it('lists every failed criterion, not just the first', () => {
    const d = adoptionGate({ candidate: { sharpe: 0.5, maxDrawdown: 0.2, ai2FalseStopRate: 0.3, expectancyPerTrade: -1 }, champion, improvementCi: { lower: -0.5, upper: 0 } });
    expect(d.passed).toBe(false);
    expect(failed(d).sort()).toEqual(['ai2_false_stop_rate', 'expectancy_per_trade', 'improvement_ci', 'max_drawdown', 'sharpe']);
    expect(d.reasons).toHaveLength(5);
    expect(d.reasons.join('\n')).toMatch(/Sharpe 0\.5 < 0\.95 × 1\.2 = 1\.14/);
    expect(d.reasons.join('\n')).toMatch(/MaxDD 20 % > 10 % \+ 3 % = 13 %/);
  });

  it('with no champion applies only the absolute criteria', () => {
    const weak: ModelKpis = { sharpe: -3, maxDrawdown: 0.5, ai2FalseStopRate: 0.05, expectancyPerTrade: 0.1 };
    const d = adoptionGate({ candidate: weak, champion: null });
    expect(d.passed).toBe(true);
    expect(d.againstChampion).toBe(false);
    expect(d.checks.filter((c) => c.skipped).map((c) => c.criterion).sort()).toEqual(['improvement_ci', 'max_drawdown', 'sharpe']);
    const bad = adoptionGate({ candidate: { ...weak, ai2FalseStopRate: 0.12, expectancyPerTrade: -0.1 } });
    expect(bad.passed).toBe(false);
    expect(failed(bad).sort()).toEqual(['ai2_false_stop_rate', 'expectancy_per_trade']);
  });

  it('takes other thresholds', () => {
    expect(adoptionGate({ candidate: { ...better, sharpe: 1.0 }, champion, improvementCi: ci }, { sharpeRatioMin: 0.8 }).passed).toBe(true);
  });

  it('refuses KPIs in the wrong convention', () => {
    const idOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(OrreryError);
        return (e as OrreryError).errorId;
      }
      return 'no error';
    };
    expect(idOf(() => adoptionGate({ candidate: { ...better, maxDrawdown: -0.1 }, champion }))).toBe(PublishErrorIds.GATE_INVALID);
    expect(idOf(() => adoptionGate({ candidate: better, champion: { ...champion, maxDrawdown: -0.1 } }))).toBe(PublishErrorIds.GATE_INVALID);
    expect(idOf(() => adoptionGate({ candidate: { ...better, ai2FalseStopRate: 5 } }))).toBe(PublishErrorIds.GATE_INVALID);
  });

  it('reads a champion’s KPIs back from registry metrics', () => {
    expect(kpisFromMetrics({ ...kpisToMetrics(champion), auc: 0.7 })).toEqual(champion);
    expect(Number.isNaN(kpisFromMetrics({}).sharpe)).toBe(true);
  });

  it('rollback trigger: Sharpe −20 % or MaxDD +3 points beyond the adopted KPIs (runbook_policy)', () => {
    expect(SEED_ROLLBACK).toEqual({ sharpe_drop_limit: 0.2, maxdd_increase_limit: 0.03 });
    const adopted = { sharpe: 1.5, maxDrawdown: 0.1 };
    expect(rollbackTriggered({ sharpe: 1.2, maxDrawdown: 0.13 }, adopted)).toEqual({ rollback: false, reasons: [] });
    expect(rollbackTriggered({ sharpe: 1.19, maxDrawdown: 0.1 }, adopted).rollback).toBe(true);
    expect(rollbackTriggered({ sharpe: 1.5, maxDrawdown: 0.1301 }, adopted).rollback).toBe(true);
    expect(rollbackTriggered({ sharpe: 0.5, maxDrawdown: 0.2 }, adopted).reasons).toHaveLength(2);
    expect(rollbackTriggered({ sharpe: 1.3, maxDrawdown: 0.1 }, adopted, { sharpe_drop_limit: 0.1, maxdd_increase_limit: 0.03 }).rollback).toBe(true);
  });
});
