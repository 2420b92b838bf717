import { z } from 'zod';
import { defineAsset, input, type AssetDefinition } from '../../core/definitions/asset.ts';
import type { AssetCheck } from '../../core/definitions/checks.ts';
import type { IOManager } from '../../core/definitions/io.ts';
import { identity, timeWindow, dimensions } from '../../core/partitions/mappings.ts';
import type { PipelinePartitions } from '../canonical_bars/partitions.ts';
import type { PairFeatures, FeatureRow } from '../features/asset.ts';
import type { Policies } from '../policies/index.ts';
import { classWeights, labelConfigFromPolicy, labelReversion, labelRisk, type ClassWeights, type LabelConfig } from './engine/index.ts';

/** One bar of a pair-month with its AI1 event (if one starts here) and its AI2 risk label. */
export interface LabelRow {
  ts_utc: string;
  z: number | null;
  /** AI1: the event starting at this bar (null: none), its 0/1 label, how and where it closed. */
  ai1_direction: 'short_spread' | 'long_spread' | null;
  ai1_label: 0 | 1 | null;
  ai1_closed_by: 'exit' | 'timeout' | 'reversal' | null;
  /** Last bar whose data decided the label (for purging overlaps in training). */
  ai1_last_ts: string | null;
  /** Why a candidate (|z| ≥ z_entry) at this bar was not an event. */
  ai1_excluded: string | null;
  /** AI2: 1 when a risk trigger fires within the next H bars; null when the horizon is not yet observed. */
  ai2_label: 0 | 1 | null;
  ai2_last_ts: string | null;
  ai2_triggers: string | null;
}

export interface PairLabels {
  config: LabelConfig;
  rows: LabelRow[];
  class_weights: { ai1: ClassWeights; ai2: ClassWeights };
}

const noLookahead: AssetCheck<PairLabels> = {
  name: 'labels_within_horizon',
  description: 'No label looks past t + M (AI1) or t + H (AI2) bars.',
  severity: 'ERROR',
  evaluate(value) {
    const index = new Map(value.rows.map((r, i) => [r.ts_utc, i]));
    let bad = 0;
    for (const [i, r] of value.rows.entries()) {
      for (const last of [r.ai1_last_ts, r.ai2_last_ts]) {
        if (last === null) continue;
        const j = index.get(last);
        // Beyond this month the check trusts the ordering of ts text (canonical UTC).
        if (last < r.ts_utc || (j !== undefined && j - i > value.config.horizonBars)) bad++;
      }
    }
    return { passed: bad === 0, metadata: { violations: bad } };
  },
};

/**
 * The seed's AI1 (mean-reversion success) and AI2 (risk) labels of one pair × timeframe × month
 * (seed 002 ラベリング仕様 v1), from the pair's features. Labels look up to M bars ahead, into the
 * next month; the months around (three before for the 60-business-day drawdown and the speed
 * window, one after for the horizon) are read through a fan-in mapping, so a quarantined month
 * there only shortens the context.
 */
export function pairLabelsAsset(policies: Policies, partitions: PipelinePartitions, features: AssetDefinition<PairFeatures, any, any>, io?: IOManager<PairLabels>) {
  const config = labelConfigFromPolicy(policies.core);
  return defineAsset({
    key: 'labels',
    description: 'AI1 (reverts to |z| ≤ z_exit within M bars of |z| ≥ z_entry) and AI2 (a risk trigger within the next H bars) labels of one pair × timeframe × month, with class weights.',
    group: 'labels',
    kinds: ['labels'],
    partitions: partitions.pairBars,
    codeVersion: '2',
    ins: {
      month: input(features, { mapping: identity() }),
      context: input(features, { mapping: { ...dimensions({ timeframe: identity(), pair: identity(), month: timeWindow({ startOffset: -3, endOffset: 1 }) }), fanIn: true } }),
    },
    config: z.strictObject({}),
    checks: [noLookahead],
    async compute(ctx, ins) {
      const parts = new Map<string, FeatureRow[]>();
      for (const p of [...(await ins.context.loadAll()), ...(await ins.month.loadAll())]) parts.set(p.partitionKey, p.value.rows);
      const rows = [...parts.keys()].sort().flatMap((k) => parts.get(k)!);
      const from = ctx.window!.start.getTime();
      const to = ctx.window!.end.getTime();

      const z = rows.map((r) => r.z);
      const deltaZ = rows.map((r) => r.delta_z);
      const ret = (leg: 'close_A' | 'close_B') => rows.map((r, i) => (i === 0 ? null : Math.log(r[leg] / rows[i - 1][leg])));
      // Bars per business day as the data has them (24 for 1h FX on 24/5 sessions).
      const days = new Set(rows.map((r) => r.ts_utc.slice(0, 10))).size;
      const barsPerBusinessDay = days ? Math.max(1, Math.round(rows.length / days)) : 1;

      // The spread is long 1 A, short β B in price units; in returns that hedge is β·P_B/P_A.
      const returnHedge = rows.map((r) => (r.beta === null ? null : (r.beta * r.close_B) / r.close_A));
      const ai1 = labelReversion(z, deltaZ, config);
      const ai2 = labelRisk({ corrStability: rows.map((r) => r.corr_stability), volRatio: rows.map((r) => r.vol_ratio_spread), deltaZ, rA: ret('close_A'), rB: ret('close_B'), beta: returnHedge, barsPerBusinessDay }, config);

      const out: LabelRow[] = [];
      const at = new Map<number, LabelRow>();
      rows.forEach((r, i) => {
        const t = Date.parse(r.ts_utc);
        if (t < from || t >= to) return;
        const row: LabelRow = { ts_utc: r.ts_utc, z: r.z, ai1_direction: null, ai1_label: null, ai1_closed_by: null, ai1_last_ts: null, ai1_excluded: null, ai2_label: null, ai2_last_ts: null, ai2_triggers: null };
        out.push(row);
        at.set(i, row);
      });
      for (const e of ai1.labels) {
        const row = at.get(e.t);
        if (row) Object.assign(row, { ai1_direction: e.direction, ai1_label: e.label, ai1_closed_by: e.closedBy, ai1_last_ts: rows[e.lastBarLooked].ts_utc });
      }
      for (const x of ai1.excluded) {
        const row = at.get(x.t);
        if (row) row.ai1_excluded = x.reason;
      }
      for (const l of ai2) {
        const row = at.get(l.t);
        if (row) Object.assign(row, { ai2_label: l.label, ai2_last_ts: rows[l.lastBarLooked].ts_utc, ai2_triggers: l.triggers.join('+') || null });
      }
      const ai1Labels = out.flatMap((r) => (r.ai1_label === null ? [] : [r.ai1_label]));
      const ai2Labels = out.flatMap((r) => (r.ai2_label === null ? [] : [r.ai2_label]));
      const weights = { ai1: classWeights(ai1Labels, config.classWeightMaxRatio), ai2: classWeights(ai2Labels, config.classWeightMaxRatio) };
      const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
      return {
        value: { config, rows: out, class_weights: weights },
        metadata: {
          rows: out.length,
          ai1_events: ai1Labels.length,
          ai1_positive_rate: mean(ai1Labels),
          ai1_excluded: out.filter((r) => r.ai1_excluded).length,
          ai2_labelled: ai2Labels.length,
          ai2_positive_rate: mean(ai2Labels),
          bars_per_business_day: barsPerBusinessDay,
          class_weights: weights as never,
        },
      };
    },
  });
}
