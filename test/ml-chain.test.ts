/**
 * The ML half of the pair-trading chain through the real runtime, downstream of `models`:
 * `theta` (grid + TPE over backtests of the walk-forward OOS predictions, hysteresis against the θ
 * in force, every trial an experiment in the registry) → `backtests` (GroupBacktester tables with
 * provenance, KPIs and CIs, the `acceptance_gate` check) → `published_models` (an Ed25519-signed
 * bundle, registered, promoted when the acceptance and adoption gates pass).
 *
 * Real configs (`configs/`), real partitions (`1h|metals|YYYY-MM`), PGlite event log with the
 * Postgres model registry on it, a filesystem object store, the embedded signing key under a temp
 * home. The expensive upstream (`models`) is replaced by an in-test asset of the same key whose
 * value is a `TrainedModels` over one synthetic market (XAU ≈ 2000, XAG ≈ 23, β ≈ 85, a z that
 * mean-reverts with occasional divergences) and whose ONNX artifacts are tiny real GBDTs:
 *
 * - `1h|metals|2026-10`: an informative model (return_prob high where the spread will revert with
 *   a gain, risk_score low on those), good enough for the seed's acceptance → production;
 * - `1h|metals|2026-09`: an uninformative one on the same market, judged against that champion →
 *   staging; the champion and the rollback logic are then exercised on the two versions.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryKeyValue } from '../adapters/memory/key-value.ts';
import { FilesystemObjectStore } from '../adapters/object-store/filesystem.ts';
import { openPgliteEventLog, type PostgresEventLog } from '../adapters/postgres/event-log.ts';
import { modelRegistryFor, type PostgresModelRegistry } from '../adapters/postgres/model-registry.ts';
import { SubprocessLauncher } from '../adapters/subprocess/launcher.ts';
import { backtestsAsset, type GroupBacktestResult } from '../assets/backtests/asset.ts';
import { improvementCI } from '../assets/backtests/engine/index.ts';
import { GroupBacktester } from '../assets/backtests/portfolio.ts';
import { pairsOfGroup, pipelinePartitions } from '../assets/canonical_bars/partitions.ts';
import { fitNormalizer } from '../assets/features/engine/normalizer.ts';
import type { ModelArtifact, TrainedModels } from '../assets/models/asset.ts';
import { averagePrecision, exportOnnx, fitIsotonic, predictProba, rocAuc, trainGbdt } from '../assets/models/engine/index.ts';
import type { OosRow } from '../assets/models/training.ts';
import { loadPolicies } from '../assets/policies/index.ts';
import { publishedModelsAsset, type PublishedModel } from '../assets/published_models/asset.ts';
import {
  FILES_FOLDER, PublishErrorIds, embeddedKeyPair, keyIdOf, loadBundle, readModelBundle, type SigningKeyPair,
} from '../assets/published_models/engine/index.ts';
import { thetaAsset, type ThetaDecision } from '../assets/theta/asset.ts';
import { defineAsset, type AssetDefinition } from '../core/definitions/asset.ts';
import { ioOf } from '../core/definitions/io.ts';
import { OrreryError } from '../core/errors.ts';
import { stepSeed } from '../core/execution/provenance.ts';
import { AssetGraph } from '../core/graph/asset-graph.ts';
import { systemClock } from '../core/ports.ts';
import { mulberry32 } from '../core/random.ts';
import { Runtime } from '../core/runtime.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const policies = loadPolicies(join(REPO, 'configs'));
const partitions = pipelinePartitions(policies);
const GROUP = 'metals';
const TF = '1h';
const PAIRS = pairsOfGroup(policies)(GROUP);
const PAIR = 'XAUUSD_XAGUSD';
const GOOD_MONTH = '2026-10';
const BAD_MONTH = '2026-09';
const KEY1 = `${TF}|${GROUP}|${GOOD_MONTH}`;
const KEY2 = `${TF}|${GROUP}|${BAD_MONTH}`;
const FEATURES = ['z', 'delta_z', 'rho_rolling', 'vol_ratio_spread', 'half_life', 'atr_ratio_A'];

// --- a synthetic market and the predictions of a model on it -----------------------------------

const HOUR = 3_600_000;
const gauss = (r: () => number) => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());

interface Market { ts: number[]; A: number[]; B: number[]; z: number[]; good: Array<0 | 1 | null> }

/**
 * Hourly weekday bars. z: an OU process (half-life 3 bars, σ 1.8) plus divergence episodes (the
 * spread's mean drifts away for 80 bars, then decays). S = A − 45 − 85·B moves with z (σ_S = 20)
 * and XAG carries the reversion, so a reverting trade gains both under the engine's 1 : |β|
 * notional sizing and under a qty_B = β·qty_A hedge of S. `good`: where |z| ≥ 2, whether the
 * spread reaches |z| ≤ 0.5 (the exit) within 48 bars (the horizon).
 */
function syntheticMarket(from: string, to: string, seed: number): Market {
  const r = mulberry32(seed);
  const ts: number[] = [];
  for (let t = Date.parse(from); t < Date.parse(to); t += HOUR) {
    const day = new Date(t).getUTCDay();
    if (day !== 0 && day !== 6) ts.push(t);
  }
  const n = ts.length, phi = Math.exp(-Math.LN2 / 3), sd = 1.8 * Math.sqrt(1 - phi * phi);
  const A: number[] = [], B: number[] = [], z: number[] = [];
  let x = 0, w = 0, mean = 0, episode = 0, drift = 0;
  for (let i = 0; i < n; i++) {
    x = phi * x + sd * gauss(r);
    if (episode === 0 && r() < 0.01) { episode = 80; drift = r() < 0.5 ? -1 : 1; }
    if (episode > 0) { mean += drift * 0.06; episode--; } else mean *= 0.97;
    w += 0.0005 * gauss(r);
    z.push(x + mean);
    A.push(2000 * Math.exp(w));
    B.push((A[i] - 45 - 20 * z[i]) / 85);
  }
  const good = z.map((zi, i): 0 | 1 | null => {
    if (Math.abs(zi) < 2) return null;
    let j = i + 1;
    while (j < n && j - i <= 48 && Math.abs(z[j]) > 0.5) j++;
    return j < n && Math.abs(z[j]) <= 0.5 ? 1 : 0;
  });
  return { ts, A, B, z, good };
}

/**
 * A model's walk-forward OOS rows over [from, to). Informative: return_prob ∈ [0.62, 0.98] on good
 * entries and [0.2, 0.7] on bad ones, risk_score low on good excursions (one draw per excursion)
 * and ≥ 0.3 on bad entries. Uninformative: both are noise.
 */
function oosRows(mk: Market, from: string, to: string, informative: boolean, seed: number): OosRow[] {
  const r = mulberry32(seed);
  const lo = Date.parse(from), hi = Date.parse(to);
  const rows: OosRow[] = [];
  let excursion = 0;
  mk.ts.forEach((t, i) => {
    const g = mk.good[i];
    const u = r(), v = r();
    if (g !== null && (i === 0 || mk.good[i - 1] === null)) excursion = r();
    if (t < lo || t >= hi) return;
    const returnProb = g === null ? null : informative ? (g ? 0.62 + 0.36 * u : 0.2 + 0.5 * u) : 0.3 + 0.6 * u;
    const risk = g === null ? 0.02 + 0.33 * v : informative ? (g ? 0.05 + 0.39 * excursion : 0.3 + 0.3 * v) : 0.05 + 0.4 * v;
    rows.push({
      pair: PAIR, ts: new Date(t).toISOString(),
      close_A: Math.round(mk.A[i] * 100) / 100, close_B: Math.round(mk.B[i] * 1000) / 1000,
      z: Math.round(mk.z[i] * 1e4) / 1e4, beta: 85 + 0.5 * Math.sin(i / 400),
      return_prob: returnProb === null ? null : Math.round(returnProb * 1e4) / 1e4,
      risk_score: Math.round(risk * 1e4) / 1e4,
      ai1_label: g,
      ai2_label: risk >= 0.2 ? (r() < 0.97 ? 1 : 0) : 0,
    });
  });
  return rows;
}

const MARKET = syntheticMarket('2025-10-01T00:00:00Z', '2026-11-01T00:00:00Z', 7);
const MODELS: Record<string, { informative: boolean; seed: number }> = { [GOOD_MONTH]: { informative: true, seed: 11 }, [BAD_MONTH]: { informative: false, seed: 12 } };

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** A tiny real GBDT on random rows, exported to ONNX. */
function tinyModel(seed: number) {
  const r = mulberry32(seed);
  const rows = 300, cols = FEATURES.length;
  const values = Float64Array.from({ length: rows * cols }, () => gauss(r));
  const labels = Array.from({ length: rows }, (_, i) => (values[i * cols] + 0.5 * values[i * cols + 1] + 0.5 * gauss(r) > 0 ? 1 : 0));
  const { model, bestIteration } = trainGbdt({ features: { values, rows, cols }, labels }, {
    numRounds: 12, learningRate: 0.3, maxDepth: 3, minDataInLeaf: 10, minSumHessian: 1e-3, lambdaL2: 1, maxBins: 32, seed,
  }, { featureNames: FEATURES });
  const scores = Array.from(predictProba(model, { values, rows, cols }));
  return { model, bestIteration, onnx: exportOnnx(model), values, labels, scores };
}

/** Stands in for the `models` asset: same key, partitions and value type, artifacts in the object store. */
const modelsStub: AssetDefinition<TrainedModels> = defineAsset<TrainedModels>({
  key: 'models',
  group: 'models',
  partitions: partitions.modelWindows,
  codeVersion: 'test-synthetic-1',
  async compute(ctx) {
    const { group, timeframe, month } = ctx.dimensions;
    const spec = MODELS[month];
    if (!spec) throw new Error(`no synthetic model for ${ctx.partitionKey}`);
    const cutoff = ctx.window!.end;
    const from = new Date(Date.UTC(cutoff.getUTCFullYear() - 1, cutoff.getUTCMonth(), 1));
    const oos = oosRows(MARKET, from.toISOString(), cutoff.toISOString(), spec.informative, spec.seed);

    const ai1 = tinyModel(spec.seed * 100 + 1), ai2 = tinyModel(spec.seed * 100 + 2);
    const modelVersion = `${group}.${timeframe}.${month}.${sha256(Buffer.concat([ai1.onnx, ai2.onnx])).slice(0, 10)}`;
    const schemaHash = sha256(JSON.stringify(FEATURES));
    const normalizer = fitNormalizer(Array.from({ length: 300 }, (_, i) => Object.fromEntries(FEATURES.map((f, j) => [f, ai1.values[i * FEATURES.length + j]]))), FEATURES);
    const files: Record<string, Uint8Array | string> = {
      'model_ai1.onnx': ai1.onnx,
      'model_ai2.onnx': ai2.onnx,
      'feature_schema.json': JSON.stringify({ names: FEATURES, model_inputs: FEATURES, schema_hash: schemaHash, normalization_params: normalizer }, null, 2),
    };
    const artifacts: Record<string, ModelArtifact> = {};
    for (const [name, bytes] of Object.entries(files)) {
      const key = `models/${modelVersion}/${name}`;
      const { uri, size } = await ctx.resources.objectStore.put(key, bytes);
      artifacts[name] = { key, uri, sha256: sha256(bytes), bytes: size };
    }
    const scored = oos.filter((o) => o.ai1_label !== null && o.return_prob !== null);
    const value: TrainedModels = {
      modelVersion, group, timeframe, cutoff: cutoff.toISOString(), featureNames: FEATURES, schemaHash, normalizer,
      calibrators: { ai1: fitIsotonic(ai1.scores, ai1.labels), ai2: fitIsotonic(ai2.scores, ai2.labels) },
      artifacts,
      metrics: {
        samples: { ai1: scored.length, ai2: oos.length, bars: oos.length, labels_after_cutoff: 0 },
        cv: { ai1: { auc: null, folds: 5 }, ai2: { pr_auc: null, folds: 5 } },
        oos: {
          ai1: { auc: rocAuc(scored.map((o) => o.ai1_label!), scored.map((o) => o.return_prob!)) },
          ai2: { pr_auc: averagePrecision(oos.map((o) => o.ai2_label!), oos.map((o) => o.risk_score)) },
          steps: 12, from: oos[0].ts, to: oos.at(-1)!.ts,
        },
        onnx_max_abs_diff: 0,
        best_iteration: { ai1: ai1.bestIteration, ai2: ai2.bestIteration },
        stop_reason: { ai1: 'num_rounds', ai2: 'num_rounds' },
      },
      oos,
    };
    return { value, metadata: { model_version: modelVersion } };
  },
});

const theta = thetaAsset(policies, partitions, modelsStub);
const backtests = backtestsAsset(policies, partitions, modelsStub, theta);
const published = publishedModelsAsset(policies, partitions, { models: modelsStub, theta, backtests });

// --- the instance ---------------------------------------------------------------------------------

let dir: string;
let home: string;
let eventLog: PostgresEventLog;
let objectStore: FilesystemObjectStore;
let registry: PostgresModelRegistry;
let runtime: Runtime;
let keys: SigningKeyPair;

const read = async <T>(asset: AssetDefinition<T, any, any>, partitionKey: string): Promise<T> =>
  (await ioOf(asset).read({ assetKey: asset.key, partitionKey, resources: { objectStore, keyValue: new MemoryKeyValue(), clock: systemClock } })) as T;
const stateOf = async (assetKey: string, partitionKey: string) => (await eventLog.partitionStatesFor(assetKey, [partitionKey])).get(partitionKey)!;

async function materialize(partitionKey: string, selection = '+published_models', skipUpToDate = true) {
  const r = await runtime.launch({ selection, partitions: { kind: 'keys', keys: [partitionKey] }, skipUpToDate });
  expect(r.failures).toEqual([]);
  expect(r.status).toBe('success');
  return r;
}

async function refusal(p: Promise<unknown>): Promise<OrreryError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, 'expected a refusal').toBeInstanceOf(OrreryError);
  return e as OrreryError;
}

beforeAll(async () => {
  expect(PAIRS).toEqual([PAIR]);
  expect(partitions.modelWindows.has(KEY1) && partitions.modelWindows.has(KEY2)).toBe(true);
  dir = mkdtempSync(join(tmpdir(), 'orrery-ml-chain-'));
  home = join(dir, 'home');
  eventLog = await openPgliteEventLog(undefined);
  objectStore = new FilesystemObjectStore(join(dir, 'objects'));
  registry = modelRegistryFor(eventLog);
  runtime = new Runtime({
    graph: new AssetGraph([modelsStub, theta, backtests, published]),
    eventLog,
    logger: pino({ level: 'silent' }),
    launcher: new SubprocessLauncher(),
    resources: { objectStore, keyValue: new MemoryKeyValue(), clock: systemClock, modelRegistry: registry, home },
    concurrency: 2,
    heartbeatMs: 200,
  });
  await materialize(KEY1);
  keys = await embeddedKeyPair(home);
}, 120_000);

afterAll(async () => {
  await eventLog?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('ML chain: theta → backtests → published_models on the runtime', () => {
  it('θ: grid + TPE finds a feasible θ in the seed ranges, every trial is an experiment, hysteresis from core_policy’s θ', async () => {
    const m = await read(modelsStub, KEY1);
    const th = await read(theta, KEY1);
    const state = await stateOf('theta', KEY1);
    expect(state.status).toBe('materialized');
    expect(state.seed).toBe(stepSeed('theta', KEY1));

    // No champion yet: the θ in force is core_policy's initial θ.
    expect(await registry.list({ group: GROUP })).toHaveLength(1); // the one published after θ, by this run
    expect(th.old).toEqual({ theta1: policies.core.theta1_initial, theta2: policies.core.theta2_initial });
    expect(th.old).toEqual({ theta1: 0.7, theta2: 0.3 });
    expect(th).toMatchObject({ group: GROUP, timeframe: TF, modelVersion: m.modelVersion, outcome: 'optimal' });

    // Every trial: 14 × 14 grid over the closed ranges, then 50–100 TPE trials.
    const grid = th.trials.filter((t) => t.phase === 'grid');
    const tpe = th.trials.filter((t) => t.phase === 'tpe');
    expect(grid).toHaveLength(196);
    expect(tpe.length).toBeGreaterThanOrEqual(50);
    expect(tpe.length).toBeLessThanOrEqual(100);
    expect(th.trials.map((t) => t.index)).toEqual(th.trials.map((_, i) => i));
    const [r1, r2] = [policies.core.theta_search_range.theta1, policies.core.theta_search_range.theta2];
    expect([r1[0], r1[1], r2[0], r2[1]]).toEqual([0.6, 0.85, 0.2, 0.45]);
    for (const t of th.trials) {
      expect(t.theta1).toBeGreaterThanOrEqual(r1[0]);
      expect(t.theta1).toBeLessThanOrEqual(r1[1]);
      expect(t.theta2).toBeGreaterThanOrEqual(r2[0]);
      expect(t.theta2).toBeLessThanOrEqual(r2[1]);
    }
    expect(new Set(grid.map((t) => `${t.theta1},${t.theta2}`)).size).toBe(196);
    // The signal leaves both feasible and infeasible corners.
    expect(th.trials.some((t) => t.feasible)).toBe(true);
    expect(th.trials.some((t) => !t.feasible && t.violations.length > 0)).toBe(true);

    // The proposal is the best feasible trial (first of the top score), and it is feasible.
    const feasible = th.trials.filter((t) => t.feasible);
    const top = Math.max(...feasible.map((t) => t.score!));
    const first = feasible.find((t) => t.score === top)!;
    expect(th.proposed).toEqual({ theta1: first.theta1, theta2: first.theta2 });
    expect(first.kpis!.maxDD).toBeLessThanOrEqual(policies.core.theta_constraints!.max_dd);
    expect(first.kpis!.tradesPerYear).toBeGreaterThanOrEqual(policies.core.theta_constraints!.trades_per_year_min);
    // …and its KPIs are the backtest of the models' OOS predictions at that θ.
    const bt = new GroupBacktester(policies, m.oos, PAIRS);
    const atNew = bt.run(th.proposed!), atOld = bt.run(th.old);
    expect(first.kpis!.trades).toBe(atNew.kpis.trades);
    expect(first.kpis!.sharpe).toBeCloseTo(atNew.kpis.sharpe, 12);
    expect(first.kpis!.annReturn).toBeCloseTo(atNew.kpis.annReturn, 12);

    // Hysteresis, computed here from the rules of core_policy.theta_hysteresis.
    const hy = policies.core.theta_hysteresis!;
    const ci = improvementCI(atNew.dailyReturns, atOld.dailyReturns, { statistic: 'mean', seed: state.seed! });
    expect(th.improvementCi).toEqual({ lower: ci.lower, upper: ci.upper, estimate: ci.estimate });
    const tradesMin = policies.core.theta_objective!.trades_min;
    const hold = atNew.kpis.trades < hy.min_oos_trades_ratio * tradesMin || ci.lower < 0;
    for (const k of ['theta1', 'theta2'] as const) {
      const old = th.old[k], proposed = th.proposed![k];
      const smoothed = old + hy.new_weight * (proposed - old);
      const want = hold ? old : Math.abs(smoothed - old) > hy.max_step ? old + Math.sign(smoothed - old) * hy.max_step : smoothed;
      // Applied θ is stored on the search resolution (0.001).
      expect(th.applied[k], k).toBeCloseTo(Math.round(want / 0.001) * 0.001, 9);
      expect(Math.abs(th.applied[k] - old)).toBeLessThanOrEqual(hy.max_step + 1e-9);
    }
    if (hold) {
      expect(th.held).toMatch(/θ kept/);
      expect(th.applied).toEqual(th.old);
    } else {
      expect(th.held).toBeNull();
      expect(th.hysteresis!.held).toBeNull();
    }
    // With this signal the proposal is a real improvement: it moves θ2 up by the full step.
    expect(hold).toBe(false);
    expect(th.proposed!.theta2 - th.old.theta2).toBeGreaterThan(hy.max_step / hy.new_weight);
    expect(th.applied.theta2).toBeCloseTo(th.old.theta2 + hy.max_step, 12);
    expect(th.hysteresis!.steps.theta2.clamped).toBe(true);

    // KPIs at the applied θ, and the metadata in the event log.
    const atApplied = bt.run(th.applied).kpis;
    expect(th.kpisAtApplied.trades).toBe(atApplied.trades);
    expect(state.metadata).toMatchObject({
      model_version: m.modelVersion, theta1: th.applied.theta1, theta2: th.applied.theta2,
      proposed_theta1: th.proposed!.theta1, proposed_theta2: th.proposed!.theta2, old_theta1: 0.7, old_theta2: 0.3,
      held: th.held, outcome: 'optimal', trials: th.trials.length, feasible_trials: feasible.length,
    });

    // Every trial, failed or infeasible included, is an experiment of this run and partition.
    const experiments = await registry.experiments({ assetKey: 'theta', partitionKey: KEY1, limit: 10_000 });
    expect(experiments).toHaveLength(th.trials.length);
    const byTrial = new Map(experiments.map((e) => [e.trial, e]));
    for (const t of th.trials) {
      const e = byTrial.get(t.index)!;
      expect(e, `trial ${t.index}`).toBeDefined();
      expect(e).toMatchObject({ runId: state.runId, group: GROUP, modelVersion: m.modelVersion, params: { theta1: t.theta1, theta2: t.theta2, phase: t.phase } });
      expect(e.metrics.score).toBe(t.score);
      expect(e.metrics.feasible).toBe(t.feasible);
    }
  });

  it('backtests: provenance on every row, the group portfolio first, KPIs with 95 % CIs, the acceptance check in the event log', async () => {
    const m = await read(modelsStub, KEY1);
    const th = await read(theta, KEY1);
    const v = await read(backtests, KEY1);
    const state = await stateOf('backtests', KEY1);
    expect(state.status).toBe('materialized');

    const provenance = { model_version: m.modelVersion, feature_schema_hash: m.schemaHash, seed: stepSeed('backtests', KEY1), run_id: state.runId };
    expect(v.provenance).toMatchObject(provenance);
    expect(v.provenance.code_hash).toMatch(/^[0-9a-f]{16}$/);
    expect(v.theta).toEqual(th.applied);
    expect(v.bt_trades.length).toBeGreaterThan(100);
    expect(v.bt_daily_equity.length).toBeGreaterThan(200);
    expect(v.bt_stress_results.length).toBeGreaterThan(0);
    const tables: Record<string, ReadonlyArray<object>> = { bt_summary: v.bt_summary, bt_trades: v.bt_trades, bt_daily_equity: v.bt_daily_equity, bt_stress_results: v.bt_stress_results };
    for (const [name, rows] of Object.entries(tables)) {
      for (const row of rows) {
        expect(row, name).toMatchObject({ ...provenance, code_hash: v.provenance.code_hash });
      }
    }

    // The group portfolio first, then each pair; both at the applied θ on the models' OOS rows.
    expect(v.bt_summary.map((s) => s.pair_id)).toEqual([GROUP, ...PAIRS]);
    const [group, pair] = v.bt_summary;
    const expected = new GroupBacktester(policies, m.oos, PAIRS).run(th.applied);
    expect(group).toMatchObject({ trades: expected.kpis.trades, theta1: th.applied.theta1, theta2: th.applied.theta2 });
    expect(group.sharpe).toBeCloseTo(expected.kpis.sharpe, 12);
    expect(group.max_dd).toBeCloseTo(expected.kpis.maxDd, 12);
    expect(group.trades_per_year).toBeCloseTo(expected.kpis.tradesPerYear, 12);
    expect(v.kpis.sharpe).toBe(group.sharpe);
    // One pair in the group: the portfolio is that pair.
    expect(pair.trades).toBe(group.trades);
    for (const k of ['sharpe', 'max_dd', 'ann_return', 'e_per_trade', 'win_rate', 'trades_per_year', 'calmar', 'halt_rate', 'ai2_false_stop_rate'] as const) expect(pair[k], k).toBeCloseTo(group[k], 9);
    expect(v.bt_trades).toHaveLength(group.trades);
    expect(v.bt_trades.every((t) => t.pair_id === PAIR && t.ts_exit >= t.ts_entry && Math.abs(t.pnl - (t.gross_pnl - t.cost_spread - t.cost_slippage - t.cost_commission - t.cost_swap)) < 1e-6)).toBe(true);
    expect(group.period).toBe(`${m.metrics.oos.from!.slice(0, 10)}:${m.metrics.oos.to!.slice(0, 10)}`);
    for (const k of ['sharpe', 'annReturn', 'ePerTrade'] as const) {
      const c = v.ci95[k];
      expect(c.level).toBe(0.95);
      expect(c.lower, k).toBeLessThanOrEqual(c.upper);
      expect(c.lower, k).toBeLessThanOrEqual(c.estimate + 1e-12);
      expect(c.upper, k).toBeGreaterThanOrEqual(c.estimate - 1e-12);
    }
    expect(v.daily.length).toBe(expected.days.length);

    // The signal is good enough for the seed's acceptance: Sharpe > 1.2, MaxDD < 0.12, ≥ 150 trades/yr.
    const a = policies.backtest.acceptance;
    expect(v.kpis.sharpe).toBeGreaterThan(a.sharpe_min);
    expect(v.kpis.maxDd).toBeLessThan(a.max_dd_max);
    expect(v.kpis.tradesPerYear).toBeGreaterThanOrEqual(a.trades_per_year_min);
    expect(v.acceptance).toMatchObject({ passed: true, reasons: [] });

    // The acceptance check: severity from backtest_policy.acceptance_check, result in the event log.
    const { severity, blocking } = policies.backtest.acceptance_check;
    const check = backtests.checks.find((c) => c.name === 'acceptance_gate')!;
    expect({ severity: check.severity, blocking: check.blocking }).toEqual({ severity, blocking });
    const results = await eventLog.latestCheckResults('backtests', KEY1);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ checkName: 'acceptance_gate', passed: true, severity, runId: state.runId, metadata: { sharpe: v.kpis.sharpe, max_dd: v.kpis.maxDd, reasons: [] } });
    const events = await eventLog.listEvents(state.runId, { limit: 1000 });
    expect(events.filter((e) => e.type === 'CHECK_EVALUATION' && e.assetKey === 'backtests' && e.partitionKey === KEY1).map((e) => e.payload)).toEqual([
      expect.objectContaining({ checkName: 'acceptance_gate', passed: true, severity }),
    ]);
    expect(await eventLog.checkSummary('backtests')).toEqual([expect.objectContaining({ checkName: 'acceptance_gate', severity, passed: 1, failed: 0, lastFailure: null })]);
    expect(state.metadata).toMatchObject({ acceptance: true, acceptance_reasons: [], model_version: m.modelVersion, trades: group.trades });
    // The equity curve in the metadata (the UI's chart) is the portfolio's: its drawdown is the KPI's.
    const curve = state.metadata.equity_curve as Array<{ date: string; equity: number }>;
    expect(curve.map((p) => p.date)).toEqual(v.daily.map((d) => d.date));
    let peak = 1, dd = 0;
    for (const p of curve) { peak = Math.max(peak, p.equity); dd = Math.max(dd, 1 - p.equity / peak); }
    expect(dd).toBeCloseTo(v.kpis.maxDd, 5);
  });

  it('published_models: a signed bundle that loads and verifies, refused when a file is tampered with, promoted to production', async () => {
    const m = await read(modelsStub, KEY1);
    const th = await read(theta, KEY1);
    const bt = await read(backtests, KEY1);
    const p = await read(published, KEY1);
    const state = await stateOf('published_models', KEY1);
    expect(p).toMatchObject({ modelVersion: m.modelVersion, group: GROUP, timeframe: TF, stage: 'production', champion: null, theta: th.applied, acceptance: { passed: true, reasons: [] } });
    expect(p.version.startsWith(`${m.modelVersion}.`)).toBe(true);
    expect(p.gate).toMatchObject({ passed: true, againstChampion: false, reasons: [] });
    expect(p.keyId).toBe(keys.keyId);
    expect(p.bundleKey).toBe(`published_models/${GROUP}/${TF}/${p.version}`);

    // It loads with the embedded public key; its parts are the models' artifacts and the applied θ.
    const verified = await loadBundle(objectStore, p.bundleKey, keys.publicKey, { version: p.version, group: GROUP, timeframe: TF });
    expect(verified.keyId).toBe(keyIdOf(keys.publicKey));
    const parts = readModelBundle(verified);
    expect(parts.theta).toEqual(th.applied);
    expect(Buffer.from(parts.onnx.model_ai1).equals(Buffer.from(await objectStore.get(m.artifacts['model_ai1.onnx'].key)))).toBe(true);
    expect(Buffer.from(parts.onnx.model_ai2).equals(Buffer.from(await objectStore.get(m.artifacts['model_ai2.onnx'].key)))).toBe(true);
    expect(parts.featureSchema).toMatchObject({ names: FEATURES, schema_hash: m.schemaHash });
    expect(parts.calibration).toEqual(JSON.parse(JSON.stringify(m.calibrators)));
    expect(parts.normalisation).toEqual(JSON.parse(JSON.stringify(m.normalizer)));
    // The ONNX model in the bundle runs.
    const session = await ort.InferenceSession.create(parts.onnx.model_ai1);
    try {
      const out = await session.run({ features: new ort.Tensor('float32', new Float32Array(FEATURES.length).fill(0.5), [1, FEATURES.length]) });
      const prob = (out.probabilities.data as Float32Array)[1];
      expect(prob).toBeGreaterThan(0);
      expect(prob).toBeLessThan(1);
    } finally {
      await session.release();
    }

    // One changed byte in a stored file: refused with ML_BUNDLE_CHECKSUM.
    const target = `${p.bundleKey}/${FILES_FOLDER}/theta.json`;
    const original = await objectStore.get(target);
    const tampered = Buffer.from(JSON.stringify({ theta1: 0.61, theta2: 0.44 }) + '\n');
    await objectStore.put(target, tampered);
    try {
      const e = await refusal(loadBundle(objectStore, p.bundleKey, keys.publicKey));
      expect(e.errorId).toBe(PublishErrorIds.BUNDLE_CHECKSUM);
    } finally {
      await objectStore.put(target, original);
    }
    await loadBundle(objectStore, p.bundleKey, keys.publicKey);

    // Registered and promoted: the champion, with its θ and KPIs; audited under the run id.
    const record = (await registry.get(p.version))!;
    expect(record).toMatchObject({ version: p.version, group: GROUP, timeframe: TF, stage: 'production', bundleUri: p.bundleKey, theta: th.applied, previousVersion: null });
    expect(record.metrics).toMatchObject({ sharpe: bt.kpis.sharpe, max_dd: bt.kpis.maxDd, e_per_trade: bt.kpis.ePerTrade, acceptance: true, model_version: m.modelVersion, feature_schema_hash: m.schemaHash });
    expect((await registry.champion(GROUP, TF))?.version).toBe(p.version);
    const audit = await registry.audit({ version: p.version });
    expect(audit.map((a) => [a.field, a.action, a.requestId])).toEqual([['stage', 'promote', state.runId], ['registration', 'register', state.runId]]);
    expect(audit[0].after).toMatchObject({ stage: 'production', gate: { passed: true, against_champion: false } });
    expect(state.metadata).toMatchObject({ version: p.version, stage: 'production', gate_passed: true, acceptance: true, key_id: keys.keyId });
  });

  it('a worse model is judged against the champion and stays in staging; the champion holds; rollback and reruns keep it', async () => {
    const champion = await read(published, KEY1);
    const championTheta = (await registry.champion(GROUP, TF))!.theta;
    await materialize(KEY2);
    const m2 = await read(modelsStub, KEY2);
    const th2 = await read(theta, KEY2);
    const bt2 = await read(backtests, KEY2);
    const p2 = await read(published, KEY2);
    expect(m2.modelVersion).not.toBe(champion.modelVersion);

    // θ: the θ in force is now the champion's, and the hysteresis keeps within a step of it.
    expect(th2.old).toEqual(championTheta);
    for (const k of ['theta1', 'theta2'] as const) expect(Math.abs(th2.applied[k] - championTheta[k])).toBeLessThanOrEqual(policies.core.theta_hysteresis!.max_step);
    expect(await registry.experiments({ assetKey: 'theta', partitionKey: KEY2, limit: 10_000 })).toHaveLength(th2.trials.length);

    // The backtest of the uninformative predictions is clearly worse than the champion's.
    const championBt = await read(backtests, KEY1);
    expect(bt2.kpis.sharpe).toBeLessThan(0.95 * championBt.kpis.sharpe);
    // It even passes the absolute acceptance: only the comparison with the champion keeps it out.
    expect(bt2.acceptance.passed).toBe(true);
    expect((await eventLog.latestCheckResults('backtests', KEY2))[0]).toMatchObject({ checkName: 'acceptance_gate', passed: true });

    // Judged against the champion: the gate fails (Sharpe, improvement CI) and it stays in staging.
    expect(p2).toMatchObject({ stage: 'staging', champion: champion.version, modelVersion: m2.modelVersion });
    expect(p2.gate.againstChampion).toBe(true);
    expect(p2.gate.passed).toBe(false);
    const failed = p2.gate.checks.filter((c) => !c.passed).map((c) => c.criterion);
    expect(failed).toContain('sharpe');
    expect(p2.gate.reasons.length).toBe(failed.length);
    const ci = p2.gate.checks.find((c) => c.criterion === 'improvement_ci')!;
    expect(ci.skipped).toBe(false);
    expect(ci.value).not.toBeNull(); // enough common days to pair
    expect((await registry.get(p2.version))!.stage).toBe('staging');
    expect((await registry.champion(GROUP, TF))?.version).toBe(champion.version);
    expect(await registry.audit({ version: p2.version, field: 'stage' })).toEqual([]);
    // Its bundle is published and verifies all the same.
    await loadBundle(objectStore, p2.bundleKey, keys.publicKey, { version: p2.version });

    // Rollback: the champion replaced nothing, so there is nothing to roll back to.
    expect((await refusal(registry.rollback(GROUP, TF, 'ops', 'drill'))).errorId).toBe(PublishErrorIds.REGISTRY_NO_ROLLBACK);
    expect((await registry.champion(GROUP, TF))?.version).toBe(champion.version);
    // Promoting the staging version with its failed gate is refused; the champion stays.
    expect((await refusal(registry.promote(p2.version, 'production', 'ops', 'override', { gate: p2.gate }))).errorId).toBe(PublishErrorIds.GATE_REJECTED);
    expect((await registry.champion(GROUP, TF))?.version).toBe(champion.version);
    // Forced through without a gate, then rolled back: the champion is restored with its θ.
    expect(await registry.promote(p2.version, 'production', 'ops', 'manual override')).toMatchObject({ stage: 'production', previousVersion: champion.version });
    const back = await registry.rollback(GROUP, TF, 'ops', 'worse model in production', { requestId: 'INC-7' });
    expect(back.from).toMatchObject({ version: p2.version, stage: 'archived' });
    expect(back.to).toMatchObject({ version: champion.version, stage: 'production', theta: championTheta });
    expect((await registry.champion(GROUP, TF))?.version).toBe(champion.version);

    // A forced rerun of the champion's publication is content-addressed: same version, still production, nothing new registered.
    await materialize(KEY1, 'published_models', false);
    const again = await read(published, KEY1);
    expect(again).toMatchObject({ version: champion.version, stage: 'production', bundleKey: champion.bundleKey });
    expect((await registry.list({ group: GROUP })).map((r) => [r.version, r.stage]).sort()).toEqual([[champion.version, 'production'], [p2.version, 'archived']].sort());
    await loadBundle(objectStore, champion.bundleKey, keys.publicKey, { version: champion.version });
  });
});
