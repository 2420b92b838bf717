/**
 * `torch_models`: a group's AI1/AI2 classifiers as small PyTorch MLPs, trained by a container step
 * (`trainers/torch/train.py`, image `orrery/trainer-torch`) on a GPU pod in a cluster and as a
 * subprocess embedded. The step reads the `training_sets` partition (normalised matrices, class
 * weights, a time-ordered validation split) and hands back one bundle: both ONNX models, their
 * metrics and reference predictions. Adopting it stores the ONNX files and metrics.json under
 * `models/<modelVersion>/` (like the GBDT's artifacts) and the bundle, without the model bytes, as
 * the partition's value.
 *
 * ONNX interface (the GBDT's): input `features` float32 [N, F] (NaN = missing, read as 0, the
 * robust median), outputs `probabilities` float32 [N, 2] = [P(y=0), P(y=1)] (sigmoid in the graph)
 * and `label` int64 [N]; the batch axis is dynamic.
 */
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { z } from 'zod';
import { container, defineAsset, input, type AssetDefinition, type ContainerResources } from '../../core/definitions/asset.ts';
import { contentHash, objectKeyFor, type IOContext, type IOManager } from '../../core/definitions/io.ts';
import { ErrorIds, OrreryError } from '../../core/errors.ts';
import type { PartitionsDefinition } from '../../core/partitions/definitions.ts';
import { identity } from '../../core/partitions/mappings.ts';
import type { ObjectStore } from '../../core/ports.ts';

export const TORCH_TRAINER_IMAGE = 'orrery/trainer-torch:1';
/** Relative to the working directory: the repository root embedded, /app in the image. */
export const TORCH_TRAINER_SCRIPT = 'trainers/torch/train.py';
export const TORCH_MODELS_FORMAT = 'orrery.torch-models/1';

/** Error ids the trainer reports in its failure manifest. */
export const TorchTrainerErrors = {
  /** The python running the step cannot import torch: the message says what to install. */
  NO_TORCH: 'ML_ENV_NOTORCH',
  /** The training set or the config is unusable (shapes, labels, an empty split, one class only). */
  INVALID: 'ML_MODEL_INVALID',
  /** Training diverged (non-finite loss) or crashed. */
  TRAIN_FAILED: 'ML_TRAIN_FAILED',
} as const;

type TaskName = 'ai1' | 'ai2';
const TASK_NAMES: readonly TaskName[] = ['ai1', 'ai2'];

/** One task's matrices, as `training_sets` writes them (its `TrainerTaskData`). */
export interface TorchTaskData {
  /** Normalised features; null = missing (fed as 0, the robust median). */
  X: (number | null)[][];
  y: (0 | 1)[];
  /** Per-row class weights. */
  w: number[];
  /** Rows from here on are the later-in-time validation split. */
  validFrom: number;
}

/** What the trainer reads from its `training_set` input (extra fields are ignored). */
export interface TorchTrainingSet {
  featureNames: string[];
  schemaHash: string;
  seed: number;
  tasks: Record<TaskName, TorchTaskData>;
}

/** Run config (`--config '{"torch_models": {...}}'`), passed to the step as ORRERY_CONFIG. */
export const torchTrainerConfig = z.strictObject({
  /** Hidden layer widths (ReLU, dropout after each). */
  hidden: z.array(z.number().int().min(1).max(8192)).min(1).max(6).default([64, 32]),
  dropout: z.number().min(0).lt(1).default(0.1),
  /** AdamW learning rate and weight decay. */
  lr: z.number().positive().max(1).default(1e-3),
  weightDecay: z.number().min(0).default(1e-4),
  batchSize: z.number().int().min(1).default(512),
  maxEpochs: z.number().int().min(1).max(100_000).default(200),
  /** Early stopping: epochs without a better validation weighted log loss. */
  patience: z.number().int().min(1).default(20),
  /** The `auc_floor` check: both tasks' validation AUC must reach it. */
  aucFloor: z.number().min(0).max(1).default(0.5),
  /** Overrides ORRERY_SEED (which is derived from asset and partition). */
  seed: z.number().int().min(0).optional(),
  /** torch.set_num_threads on CPU. */
  threads: z.number().int().min(1).optional(),
  /** Mixed precision (bf16, else fp16 with loss scaling) on CUDA; CPU always trains in float32. */
  amp: z.boolean().default(true),
});
export type TorchTrainerConfig = z.infer<typeof torchTrainerConfig>;

export interface TorchTaskMetrics {
  /** Validation split, the best epoch's model (float32, CPU: what the ONNX graph computes). */
  auc: number | null;
  brier: number;
  logLoss: number;
  weightedLogLoss: number;
  trainRows: number;
  validRows: number;
  validPositiveRate: number;
  epochs: number;
  /** 1-based epoch whose weights were kept. */
  bestEpoch: number;
  stopReason: 'early_stopping' | 'max_epochs';
  device: string;
  seconds: number;
  seed: number;
  /** Sampled while training on CUDA (torch.cuda.utilization, else nvidia-smi); null on CPU. */
  gpuUtilization: { source: string; samples: number; mean: number | null; max: number | null } | null;
  history: { train: number[]; valid: number[] };
  onnxSha256: string;
  onnxBytes: number;
  /** A torch forward pass on the first validation rows (float32 inputs, nulls as 0). */
  reference: { rows: number[][]; probabilities: number[] };
}

export interface TorchTrainingMetrics {
  format: string;
  featureNames: string[];
  schemaHash: string | null;
  seed: number;
  seedSource: 'config' | 'ORRERY_SEED' | 'training_set' | 'default';
  torch: string;
  device: string;
  deviceName: string;
  amp: string | null;
  config: Record<string, unknown>;
  seconds: number;
  tasks: Record<TaskName, TorchTaskMetrics>;
}

export interface TorchModelArtifact {
  key: string;
  uri: string;
  sha256: string;
  bytes: number;
}

/** The stored value of a `torch_models` partition. */
export interface TorchModels {
  format: typeof TORCH_MODELS_FORMAT;
  /** `torch.<partition>.<10 hex of the models' content>`; artifacts live under `models/<modelVersion>/`. */
  modelVersion: string;
  featureNames: string[];
  schemaHash: string | null;
  seed: number;
  onnx: { input: string; outputs: string[]; opset: number };
  artifacts: Record<'model_ai1.onnx' | 'model_ai2.onnx' | 'metrics.json', TorchModelArtifact>;
  metrics: TorchTrainingMetrics;
}

/** The file the step writes to ORRERY_OUTPUT_URI. */
const Bundle = z.object({
  format: z.literal(TORCH_MODELS_FORMAT),
  contentVersion: z.string().regex(/^[0-9a-f]{64}$/),
  featureNames: z.array(z.string()),
  schemaHash: z.string().nullable(),
  seed: z.number(),
  onnx: z.object({ input: z.string(), outputs: z.array(z.string()), opset: z.number() }).loose(),
  models: z.object({
    ai1: z.object({ onnx_base64: z.string(), sha256: z.string(), bytes: z.number() }),
    ai2: z.object({ onnx_base64: z.string(), sha256: z.string(), bytes: z.number() }),
  }),
  metrics: z.record(z.string(), z.unknown()),
});

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/**
 * Stores a `torch_models` partition: adopting the step's bundle writes the two ONNX models and
 * metrics.json as objects under `models/<modelVersion>/` (content-versioned, so a rerun never
 * changes files a recorded materialization points to), then the value (the bundle without the
 * model bytes, with the artifacts' keys and checksums) in one atomic write.
 */
export function torchModelsIO(): IOManager<TorchModels> {
  const key = (ctx: IOContext) => objectKeyFor(ctx.assetKey, ctx.partitionKey, 'json');
  const store = async (ctx: IOContext, value: TorchModels) => {
    const bytes = JSON.stringify(value);
    const { uri, size } = await ctx.resources.objectStore.put(key(ctx), bytes);
    return { uri, dataVersion: contentHash(bytes), metadata: { bytes: size, model_version: value.modelVersion, artifacts: `models/${value.modelVersion}/` } };
  };
  return {
    write: store,
    async read(ctx) {
      return JSON.parse(Buffer.from(await ctx.resources.objectStore.get(key(ctx))).toString('utf8')) as TorchModels;
    },
    uri: (ctx) => ctx.resources.objectStore.uri(key(ctx)),
    async adopt(ctx, fromUri) {
      const text = await readFile(fromUri, 'utf8');
      let raw: unknown;
      try { raw = JSON.parse(text); } catch { raw = undefined; }
      const parsed = Bundle.safeParse(raw);
      if (!parsed.success) {
        throw new OrreryError(ErrorIds.STEP_PROTOCOL, `The torch trainer's output is not a ${TORCH_MODELS_FORMAT} bundle: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}.`, {});
      }
      const b = parsed.data;
      const part = ctx.partitionKey === '' ? 'all' : ctx.partitionKey.replace(/[^A-Za-z0-9_-]+/g, '.');
      const modelVersion = `torch.${part}.${b.contentVersion.slice(0, 10)}`;
      const artifacts = {} as TorchModels['artifacts'];
      const put = async (name: keyof TorchModels['artifacts'], bytes: Uint8Array | string) => {
        const k = `models/${modelVersion}/${name}`;
        const { uri, size } = await ctx.resources.objectStore.put(k, bytes);
        artifacts[name] = { key: k, uri, sha256: sha256(bytes), bytes: size };
      };
      for (const task of TASK_NAMES) {
        const bytes = Buffer.from(b.models[task].onnx_base64, 'base64');
        if (sha256(bytes) !== b.models[task].sha256) {
          throw new OrreryError(ErrorIds.STEP_PROTOCOL, `The torch trainer's ${task} model does not match its checksum; rerun the step.`, { task });
        }
        await put(`model_${task}.onnx`, bytes);
      }
      await put('metrics.json', JSON.stringify(b.metrics, null, 1));
      const value: TorchModels = {
        format: TORCH_MODELS_FORMAT, modelVersion, featureNames: b.featureNames, schemaHash: b.schemaHash, seed: b.seed,
        onnx: { input: b.onnx.input, outputs: b.onnx.outputs, opset: b.onnx.opset },
        artifacts, metrics: b.metrics as unknown as TorchTrainingMetrics,
      };
      const written = await store(ctx, value);
      await rm(fromUri, { force: true });
      return written;
    },
  };
}

/** A stored model's ONNX bytes, checked against their checksum (for onnxruntime's InferenceSession.create). */
export async function loadTorchModel(objectStore: ObjectStore, models: TorchModels, task: TaskName): Promise<Uint8Array> {
  const artifact = models.artifacts[`model_${task}.onnx`];
  const bytes = await objectStore.get(artifact.key);
  if (sha256(bytes) !== artifact.sha256) {
    throw new OrreryError(ErrorIds.STORAGE_READ, `Model ${artifact.key} does not match its checksum; rematerialize torch_models.`, { key: artifact.key });
  }
  return bytes;
}

/** The python that runs the trainer as a subprocess: `$ORRERY_PYTHON`, else `python3`. */
export function trainerPython(): string {
  return process.env.ORRERY_PYTHON?.trim() || 'python3';
}

export interface TorchModelsOptions {
  image?: string;
  /**
   * The python that runs the trainer (the command's first word): default `$ORRERY_PYTHON`, else
   * `python3`. Embedded it must have torch (Debian `python3-torch`, or `pip install torch`); the
   * image's `python3` has. Set ORRERY_PYTHON only where steps run as subprocesses: a pod runs the
   * same command inside the image.
   */
  python?: string;
  script?: string;
  /** Default `{ cpu: '4', memory: '16Gi', gpu: 1 }`; `gpu` puts the step in the `gpu` pool. */
  resources?: ContainerResources;
  nodeSelector?: Record<string, string>;
  env?: Record<string, string>;
}

/**
 * The `torch_models` asset on the partitions of `trainingSets` (identity mapping: one model pair
 * per training set partition).
 */
export function torchModelsAsset(partitions: PartitionsDefinition | undefined, trainingSets: AssetDefinition<TorchTrainingSet, any, any>, options: TorchModelsOptions = {}) {
  const python = options.python ?? trainerPython();
  return defineAsset<TorchModels, { training_set: ReturnType<typeof input<TorchTrainingSet>> }, TorchTrainerConfig>({
    key: 'torch_models',
    description: 'A group\'s AI1/AI2 classifiers as PyTorch MLPs (class-weighted, early-stopped on the time-ordered validation split), exported to ONNX; trained in a GPU container.',
    group: 'models',
    kinds: ['model', 'pytorch', 'onnx'],
    partitions,
    codeVersion: '1',
    ins: { training_set: input(trainingSets, { mapping: identity() }) },
    config: torchTrainerConfig,
    compute: container({
      image: options.image ?? TORCH_TRAINER_IMAGE,
      command: [python, options.script ?? TORCH_TRAINER_SCRIPT],
      resources: options.resources ?? { cpu: '4', memory: '16Gi', gpu: 1 },
      ...(options.nodeSelector ? { nodeSelector: options.nodeSelector } : {}),
      ...(options.env ? { env: options.env } : {}),
    }),
    io: torchModelsIO(),
    metadata: { onnx_input: 'features float32 [N, F]', onnx_outputs: 'probabilities float32 [N, 2], label int64 [N]' },
  });
}
