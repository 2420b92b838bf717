import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { stringify as toYaml } from 'yaml';
import { z } from 'zod';
import { defineAsset, input, type AssetDefinition } from '../../core/definitions/asset.ts';
import type { AssetCheck } from '../../core/definitions/checks.ts';
import type { JsonObject } from '../../core/event-log/port.ts';
import { dimensions, identity, lookup, timeWindow } from '../../core/partitions/mappings.ts';
import { pairsOfGroup, type PipelinePartitions } from '../canonical_bars/partitions.ts';
import type { PairFeatures } from '../features/asset.ts';
import type { FeatureSchema } from '../features/engine/index.ts';
import type { NormalizerParams } from '../features/engine/normalizer.ts';
import type { PairLabels } from '../labels/asset.ts';
import { classWeights } from '../labels/engine/weights.ts';
import type { Policies } from '../policies/index.ts';
import { buildGroupDataset, type GroupDataset, type PairMaterial } from './dataset.ts';
import { exportOnnx, isotonicToJSON, modelToJSON, predictProba, type IsotonicCalibrator } from './engine/index.ts';
import { defaultTrainingParams, featureMatrix, fitRowsNormalizer, TASKS, trainGroupModels, type OosRow, type TrainedGroup, type TrainingParams } from './training.ts';

/** What a trainer in another language reads: normalised matrices of the final training window. */
export interface TrainerTaskData {
  X: (number | null)[][];
  y: (0 | 1)[];
  w: number[];
  /** Rows from here on are the later-in-time validation split. */
  validFrom: number;
}

export interface TrainingSet extends GroupDataset {
  featureSchema: FeatureSchema;
  seed: number;
  /** Fitted on every bar up to the cutoff (the final models' training window). */
  normalizer: NormalizerParams;
  tasks: Record<'ai1' | 'ai2', TrainerTaskData>;
}

export interface ModelArtifact {
  key: string;
  uri: string;
  sha256: string;
  bytes: number;
}

/** A group's trained AI1/AI2 models: where their artifacts are, how they score, and the walk-forward OOS predictions. */
export interface TrainedModels {
  modelVersion: string;
  group: string;
  timeframe: string;
  cutoff: string;
  featureNames: string[];
  schemaHash: string;
  normalizer: NormalizerParams;
  calibrators: Record<'ai1' | 'ai2', IsotonicCalibrator>;
  artifacts: Record<string, ModelArtifact>;
  metrics: TrainedGroup['metrics'] & { onnx_max_abs_diff: number; best_iteration: Record<'ai1' | 'ai2', number>; stop_reason: Record<'ai1' | 'ai2', string> };
  oos: OosRow[];
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/**
 * Every month of a group's pairs' features and labels up to the model month (a fan-in: a
 * quarantined month only leaves a gap), joined on one time axis with the labels a model at that
 * cutoff may know.
 */
export function trainingSetsAsset(policies: Policies, partitions: PipelinePartitions, features: AssetDefinition<PairFeatures, any, any>, labels: AssetDefinition<PairLabels, any, any>) {
  const upTo = { ...dimensions({ timeframe: identity(), pair: { from: 'group', mapping: lookup('group_pairs', pairsOfGroup(policies)) }, month: timeWindow({ startOffset: -1200, endOffset: 0 }) }), fanIn: true };
  const zEntry = policies.core.z_entry;
  return defineAsset({
    key: 'training_sets',
    description: 'The labelled training material of one pair group up to the end of a month: every bar of its pairs with raw features, prices and the labels known by then.',
    group: 'models',
    kinds: ['dataset'],
    partitions: partitions.modelWindows,
    codeVersion: '1',
    ins: { features: input(features, { mapping: upTo }), labels: input(labels, { mapping: upTo }) },
    config: z.strictObject({}),
    async compute(ctx, ins) {
      const byPair = new Map<string, PairMaterial>();
      const at = (key: string) => {
        const pair = key.split('|')[1];
        let m = byPair.get(pair);
        if (!m) byPair.set(pair, (m = { pair, features: [], labels: [] }));
        return m;
      };
      let schema: FeatureSchema | undefined, schemaHash = '';
      for (const p of (await ins.features.loadAll()).sort((a, b) => (a.partitionKey < b.partitionKey ? -1 : 1))) {
        at(p.partitionKey).features.push(...p.value.rows);
        schema = p.value.schema;
        schemaHash = p.value.schema_hash;
      }
      for (const p of (await ins.labels.loadAll()).sort((a, b) => (a.partitionKey < b.partitionKey ? -1 : 1))) at(p.partitionKey).labels.push(...p.value.rows);
      if (!schema) throw new Error('no feature partitions up to this month');
      const ds = buildGroupDataset({ group: ctx.dimensions.group, timeframe: ctx.dimensions.timeframe, cutoff: ctx.window!.end, schemaNames: schema.names, schemaHash, pairs: [...byPair.values()] });
      const normalizer = fitRowsNormalizer(ds.rows, ds.featureNames);
      const task = (name: 'ai1' | 'ai2'): TrainerTaskData => {
        const rows = ds.rows.filter((r) => r[name] && (name === 'ai2' || (r.z !== null && Math.abs(r.z) >= zEntry)));
        const y = rows.map((r) => r[name]!.label);
        const weights = classWeights(y, policies.core.class_weight_max_ratio);
        const m = featureMatrix(rows, ds.featureNames, normalizer);
        const X = rows.map((_, i) => Array.from(m.values.subarray(i * m.cols, (i + 1) * m.cols), (v) => (Number.isNaN(v) ? null : v)));
        return { X, y, w: y.map((v) => weights[v]), validFrom: Math.floor(rows.length * 0.8) };
      };
      const value: TrainingSet = { ...ds, featureSchema: schema, seed: ctx.seed, normalizer, tasks: { ai1: task('ai1'), ai2: task('ai2') } };
      return {
        value,
        metadata: { bars: ds.rows.length, pairs: ds.pairs as never, ai1_samples: value.tasks.ai1.y.length, ai2_samples: value.tasks.ai2.y.length, labels_after_cutoff: ds.labelsAfterCutoff, from: ds.times[0] ?? null, to: ds.times.at(-1) ?? null },
      };
    },
  });
}

const onnxParity: AssetCheck<TrainedModels> = {
  name: 'onnx_parity',
  description: 'The exported ONNX models give the TypeScript models\' probabilities to 1e-6.',
  severity: 'ERROR',
  evaluate: (v) => ({ passed: v.metrics.onnx_max_abs_diff <= 1e-6, metadata: { max_abs_diff: v.metrics.onnx_max_abs_diff } }),
};

const noCollapse: AssetCheck<TrainedModels> = {
  name: 'no_variance_collapse',
  description: 'Training was not stopped by the variance watchdog (seed 004 §7.1).',
  severity: 'ERROR',
  evaluate: (v) => ({ passed: !Object.values(v.metrics.stop_reason).includes('variance_collapse'), metadata: { stop_reason: v.metrics.stop_reason } }),
};

const oosAucFloor: AssetCheck<TrainedModels> = {
  name: 'oos_auc_above_chance',
  description: 'Walk-forward AI1 AUC beats a coin (0.5).',
  severity: 'WARN',
  evaluate: (v) => ({ passed: (v.metrics.oos.ai1.auc ?? 0) > 0.5, metadata: { auc: v.metrics.oos.ai1.auc } }),
};

async function onnxProbabilities(bytes: Uint8Array, values: ArrayLike<number>, rows: number, cols: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ features: new ort.Tensor('float32', Float32Array.from(values), [rows, cols]) });
    const p = out.probabilities.data as Float32Array;
    return Float32Array.from({ length: rows }, (_, i) => p[2 * i + 1]);
  } finally {
    await session.release();
  }
}

const gbdtConfig = z.strictObject({
  numRounds: z.number().int().min(1).max(5000).optional(),
  learningRate: z.number().positive().max(1).optional(),
  maxDepth: z.number().int().min(1).max(16).optional(),
  numLeaves: z.number().int().min(2).max(4096).optional(),
  minDataInLeaf: z.number().int().min(1).optional(),
}).optional();

/**
 * A group's AI1/AI2 GBDT models trained on everything known at the end of the month, with the
 * walk-forward OOS predictions θ and the backtest evaluate. Artifacts (ONNX models, feature schema,
 * params, metrics, normalisation and calibration, checksums) go to `models/<version>/` in the
 * object store; the experiment (params and metrics) is recorded in the registry when there is one.
 */
export function modelsAsset(policies: Policies, partitions: PipelinePartitions, trainingSets: AssetDefinition<TrainingSet, any, any>) {
  return defineAsset({
    key: 'models',
    description: 'AI1 (return probability) and AI2 (risk) GBDT models of a pair group trained up to the end of the month: purged K-fold CV, walk-forward OOS, isotonic calibration, ONNX artifacts.',
    group: 'models',
    kinds: ['model', 'onnx'],
    partitions: partitions.modelWindows,
    codeVersion: '1',
    ins: { dataset: input(trainingSets, { mapping: identity() }) },
    config: z.strictObject({ gbdt: gbdtConfig }),
    checks: [onnxParity, noCollapse, oosAucFloor],
    retry: { maxAttempts: 1 },
    async compute(ctx, ins) {
      const [{ value: ds }] = await ins.dataset.loadAll();
      const params: TrainingParams = defaultTrainingParams({
        zEntry: policies.core.z_entry,
        riskThreshold: policies.core.theta2_initial,
        classWeightMaxRatio: policies.core.class_weight_max_ratio,
      });
      params.gbdt = { ...params.gbdt, ...(ctx.config.gbdt ?? {}), seed: ctx.seed };
      const trained = trainGroupModels(ds, params, (done, total, message) => ctx.progress(done, total, message));

      // Artifacts, content-addressed: the version names the bytes.
      const onnx = { ai1: exportOnnx(trained.ai1.model, { description: `AI1 return probability, ${ds.group} ${ds.timeframe} up to ${ds.cutoff}` }), ai2: exportOnnx(trained.ai2.model, { description: `AI2 risk score, ${ds.group} ${ds.timeframe} up to ${ds.cutoff}` }) };
      const modelVersion = `${ds.group}.${ds.timeframe}.${ctx.dimensions.month}.${sha256(Buffer.concat([onnx.ai1, onnx.ai2])).slice(0, 10)}`;

      // ONNX parity on the latest 2,000 bars (the scores published downstream come from the TS model).
      let maxDiff = 0;
      const m = featureMatrix(ds.rows.slice(-2000), ds.featureNames, trained.normalizer);
      for (const task of TASKS) {
        const ts = predictProba(trained[task].model, m);
        const ox = await onnxProbabilities(onnx[task], m.values, m.rows, m.cols);
        for (let i = 0; i < m.rows; i++) maxDiff = Math.max(maxDiff, Math.abs(ts[i] - ox[i]));
      }
      const metrics = {
        ...trained.metrics,
        onnx_max_abs_diff: maxDiff,
        best_iteration: { ai1: trained.ai1.bestIteration, ai2: trained.ai2.bestIteration },
        stop_reason: { ai1: trained.ai1.stopReason, ai2: trained.ai2.stopReason },
      };
      const runParams = {
        model_version: modelVersion, group: ds.group, timeframe: ds.timeframe, cutoff: ds.cutoff, seed: ctx.seed,
        gbdt: params.gbdt, cv: params.cv, validation_share: params.validationShare,
        labels: { z_entry: policies.core.z_entry, z_exit: policies.core.z_exit, horizon_bars: policies.core.horizon_bars },
        theta_initial: { theta1: policies.core.theta1_initial, theta2: policies.core.theta2_initial },
        feature_schema_hash: ds.schemaHash,
      };
      const files: Record<string, Uint8Array | string> = {
        'model_ai1.onnx': onnx.ai1,
        'model_ai2.onnx': onnx.ai2,
        'feature_schema.json': JSON.stringify({ ...ds.featureSchema, model_inputs: ds.featureNames, schema_hash: ds.schemaHash, normalization_params: trained.normalizer }, null, 2),
        'params.yaml': toYaml(runParams),
        'metrics.json': JSON.stringify(metrics, null, 2),
        'calibration_ai1.json': isotonicToJSON(trained.ai1.calibrator),
        'calibration_ai2.json': isotonicToJSON(trained.ai2.calibrator),
        'model_ai1.json': modelToJSON(trained.ai1.model),
        'model_ai2.json': modelToJSON(trained.ai2.model),
      };
      const artifacts: Record<string, ModelArtifact> = {};
      for (const [name, bytes] of Object.entries(files)) {
        const key = `models/${modelVersion}/${name}`;
        const { uri, size } = await ctx.resources.objectStore.put(key, bytes);
        artifacts[name] = { key, uri, sha256: sha256(bytes), bytes: size };
      }
      const checksums = Object.entries(artifacts).map(([name, a]) => `${a.sha256}  ${name}\n`).join('');
      const sums = await ctx.resources.objectStore.put(`models/${modelVersion}/checksums.sha256`, checksums);
      artifacts['checksums.sha256'] = { key: `models/${modelVersion}/checksums.sha256`, uri: sums.uri, sha256: sha256(checksums), bytes: sums.size };

      const registry = ctx.resources.modelRegistry as { recordExperiment?(e: { runId: string; assetKey: string; partitionKey: string; modelVersion: string; params: JsonObject; metrics: JsonObject }): Promise<unknown> } | undefined;
      await registry?.recordExperiment?.({ runId: ctx.runId, assetKey: ctx.assetKey, partitionKey: ctx.partitionKey, modelVersion, params: runParams as unknown as JsonObject, metrics: metrics as unknown as JsonObject });

      const value: TrainedModels = {
        modelVersion, group: ds.group, timeframe: ds.timeframe, cutoff: ds.cutoff, featureNames: ds.featureNames, schemaHash: ds.schemaHash,
        normalizer: trained.normalizer, calibrators: { ai1: trained.ai1.calibrator, ai2: trained.ai2.calibrator }, artifacts, metrics, oos: trained.oos,
      };
      const round = (x: number | null | undefined) => (x === null || x === undefined ? null : Math.round(x * 1e4) / 1e4);
      return {
        value,
        metadata: {
          model_version: modelVersion,
          ai1_samples: metrics.samples.ai1, ai2_samples: metrics.samples.ai2,
          ai1_oos_auc: round(metrics.oos.ai1.auc), ai1_oos_brier: round(metrics.oos.ai1.brier), ai1_oos_ece: round(metrics.oos.ai1.ece), ai1_oos_pr_auc: round(metrics.oos.ai1.pr_auc),
          ai1_cv_auc: round(metrics.cv.ai1.auc),
          ai2_oos_f1_weighted: round(metrics.oos.ai2.f1_weighted), ai2_oos_pr_auc: round(metrics.oos.ai2.pr_auc), ai2_oos_recall_low_risk: round(metrics.oos.ai2.recall_low_risk),
          ai2_cv_pr_auc: round(metrics.cv.ai2.pr_auc),
          walk_forward_steps: metrics.oos.steps, oos_from: metrics.oos.from, oos_to: metrics.oos.to,
          onnx_max_abs_diff: maxDiff,
          artifacts: `models/${modelVersion}/`,
        },
      };
    },
  });
}
