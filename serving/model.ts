/**
 * A published model version made servable: looked up in the model registry, its signed bundle loaded
 * and verified from the object store (`loadBundle`: signature with the trusted key first, then every
 * file's checksum — a bundle that does not verify is refused with its `ML_BUNDLE_*` id), its parts
 * checked, and its two ONNX models opened in onnxruntime.
 *
 * Scoring is the training path's, step for step (`assets/models/training.ts` featureMatrix →
 * predictProba → applyIsotonic, and the parity check of `assets/models/asset.ts`):
 *   raw features → the saved normaliser (`applyNormalizer`: winsorise, robust z, clip; null stays
 *   missing = NaN) → float32 matrix in `model_inputs` order → ONNX `probabilities[:, 1]` → the saved
 *   isotonic calibrator of each task.
 * AI1 scores only bars with |z| ≥ z_entry (its training samples); elsewhere return_prob is null.
 * AI2 scores every bar. The signal is `entrySignal` with the version's θ.
 */
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { applyNormalizer, NORMALIZATION_METHOD, type NormalizerParams } from '../assets/features/engine/normalizer.ts';
import { isotonicFromJSON, isotonicValue, ONNX_INPUT, ONNX_OUTPUT_PROBABILITIES, type IsotonicCalibrator } from '../assets/models/engine/index.ts';
import {
  loadBundle, PublishErrorIds, publishError, readModelBundle, validateTheta,
  type ModelBundleParts, type ModelRecord, type ModelRegistry, type Theta, type VerifiedBundle,
} from '../assets/published_models/engine/index.ts';
import type { ObjectStore } from '../core/ports.ts';
import { entrySignal, type EntrySignal, type SignalReason } from './signal.ts';
import { ServeErrorIds, serveError } from './errors.ts';
import type { KeyObject } from 'node:crypto';

/** The ONNX models a published bundle holds (`model_ai1.onnx`, `model_ai2.onnx`). */
export const SERVED_ONNX = { ai1: 'model_ai1', ai2: 'model_ai2' } as const;

/** One validated input row: raw features by name (null = missing, as in a warm-up window). */
export interface ServeRow {
  ts?: string;
  pair?: string;
  beta?: number;
  features: Record<string, number | null>;
}

export interface Prediction {
  ts?: string;
  pair?: string;
  /** Calibrated AI1 probability of a profitable reversion; null where AI1 does not score (|z| < z_entry). */
  return_prob: number | null;
  /** Calibrated AI2 risk probability. */
  risk_score: number;
  signal: EntrySignal;
  reason: SignalReason;
  theta1: number;
  theta2: number;
}

export interface ModelIdentity {
  version: string;
  group: string;
  timeframe: string;
  /** The trained models' version (`models` asset) the bundle publishes. */
  model_version: string | null;
  stage: string | null;
  bundle_uri: string;
  key_id: string;
  created_at: string;
  feature_schema_hash: string;
  feature_names: string[];
  z_entry: number;
  /** θ in force: the registry's (audited `setTheta` changes included). */
  theta: Theta;
  /** θ signed into the bundle at publish. */
  bundle_theta: Theta;
  files: Array<{ name: string; sha256: string; size: number }>;
}

export interface ServedModel {
  identity: ModelIdentity;
  featureNames: readonly string[];
  theta: Theta;
  zEntry: number;
  normalizer: NormalizerParams;
  calibrators: Record<'ai1' | 'ai2', IsotonicCalibrator>;
  predict(rows: readonly ServeRow[]): Promise<Prediction[]>;
  release(): Promise<void>;
}

const finite = z.number().refine(Number.isFinite, 'must be finite');
const normalizerSchema = z.object({
  method: z.literal(NORMALIZATION_METHOD),
  lowerQuantile: finite,
  upperQuantile: finite,
  clip: finite.refine((v) => v > 0, 'must be > 0'),
  features: z.record(z.string(), z.object({ lower: finite, upper: finite, median: finite, scale: finite.refine((v) => v > 0, 'must be > 0'), count: finite })),
});
const schemaSchema = z.object({ model_inputs: z.array(z.string().min(1)).min(1), schema_hash: z.string().min(1) }).loose();

function invalidModel(what: string, problem: string, cause?: unknown): never {
  throw serveError(ServeErrorIds.MODEL_INVALID, `The published bundle's ${what} is not servable: ${problem}. Republish the model from a current \`models\` materialization.`, { part: what }, cause);
}

const issues = (e: z.ZodError) => e.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');

/** The registry record of `version`, which must belong to `group`. */
export async function lookupServedVersion(registry: Pick<ModelRegistry, 'get'>, group: string, version: string): Promise<ModelRecord> {
  const record = await registry.get(version);
  if (!record) {
    throw publishError(PublishErrorIds.REGISTRY_NOT_FOUND, `Model version ${version} is not in the model registry, so it cannot be served; list the versions of ${group} with \`orrery models list --group ${group}\`.`, { version, group });
  }
  if (record.group !== group) {
    throw serveError(ServeErrorIds.MODEL_GROUP_MISMATCH, `Model version ${version} belongs to group ${record.group}, not ${group}; fix the ModelDeployment's group or version.`, { version, group, actual: record.group });
  }
  return record;
}

async function openSession(name: string, bytes: Uint8Array, cols: number): Promise<ort.InferenceSession> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes);
  } catch (e) {
    return invalidModel(`${name}.onnx`, `onnxruntime cannot load it (${(e as Error).message})`, e);
  }
  if (!session.inputNames.includes(ONNX_INPUT) || !session.outputNames.includes(ONNX_OUTPUT_PROBABILITIES)) {
    await session.release();
    invalidModel(`${name}.onnx`, `it takes [${session.inputNames.join(', ')}] → [${session.outputNames.join(', ')}], not ${ONNX_INPUT} → ${ONNX_OUTPUT_PROBABILITIES}`);
  }
  // One row of zeros: the model must accept the schema's width and answer two class probabilities.
  try {
    const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', new Float32Array(cols), [1, cols]) });
    const dims = out[ONNX_OUTPUT_PROBABILITIES].dims;
    if (dims.length !== 2 || dims[0] !== 1 || dims[1] !== 2) throw new Error(`probabilities have shape [${dims.join(', ')}], not [1, 2]`);
  } catch (e) {
    await session.release();
    invalidModel(`${name}.onnx`, `it does not score ${cols} features (${(e as Error).message})`, e);
  }
  return session;
}

async function positiveClass(session: ort.InferenceSession, values: Float32Array, rows: number, cols: number): Promise<Float32Array> {
  const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', values, [rows, cols]) });
  const p = out[ONNX_OUTPUT_PROBABILITIES].data as Float32Array;
  return Float32Array.from({ length: rows }, (_, i) => p[2 * i + 1]);
}

/** Checks the parts of a verified bundle and opens its ONNX models. */
export async function prepareModel(bundle: VerifiedBundle, parts: ModelBundleParts, o: { record: ModelRecord; zEntry: number }): Promise<ServedModel> {
  if (!(Number.isFinite(o.zEntry) && o.zEntry > 0)) invalidModel('z_entry', `${o.zEntry} is not a positive number`);
  const schema = schemaSchema.safeParse(parts.featureSchema);
  if (!schema.success) invalidModel('feature_schema.json', issues(schema.error));
  const names = schema.data.model_inputs;
  if (new Set(names).size !== names.length) invalidModel('feature_schema.json', 'model_inputs names a feature twice');
  if (!names.includes('z')) invalidModel('feature_schema.json', 'model_inputs has no z (the signal direction and AI1 gate need it)');
  const norm = normalizerSchema.safeParse(parts.normalisation);
  if (!norm.success) invalidModel('normalisation.json', issues(norm.error));
  const normalizer = norm.data as NormalizerParams;
  const fitted = Object.keys(normalizer.features).sort();
  if (fitted.join('\0') !== [...names].sort().join('\0')) invalidModel('normalisation.json', `it is fitted on [${fitted.join(', ')}], the model takes [${names.join(', ')}]`);
  const cal = parts.calibration as Record<string, unknown> | null;
  const calibrators = {} as Record<'ai1' | 'ai2', IsotonicCalibrator>;
  for (const task of ['ai1', 'ai2'] as const) {
    try {
      calibrators[task] = isotonicFromJSON(cal?.[task]);
    } catch (e) {
      invalidModel('calibration.json', `${task}: ${(e as Error).message}`, e);
    }
  }
  const theta = validateTheta(o.record.theta);
  const sessions: Partial<Record<'ai1' | 'ai2', ort.InferenceSession>> = {};
  try {
    for (const task of ['ai1', 'ai2'] as const) {
      const bytes = parts.onnx[SERVED_ONNX[task]];
      if (!bytes) invalidModel('ONNX models', `there is no ${SERVED_ONNX[task]}.onnx (found ${Object.keys(parts.onnx).map((n) => `${n}.onnx`).join(', ')})`);
      sessions[task] = await openSession(SERVED_ONNX[task], bytes, names.length);
    }
  } catch (e) {
    await Promise.all(Object.values(sessions).map((s) => s.release()));
    throw e;
  }
  const { ai1, ai2 } = sessions as Record<'ai1' | 'ai2', ort.InferenceSession>;
  const m = bundle.manifest;
  const identity: ModelIdentity = {
    version: m.version, group: m.group, timeframe: m.timeframe,
    model_version: typeof m.metadata.model_version === 'string' ? m.metadata.model_version : null,
    stage: o.record.stage, bundle_uri: o.record.bundleUri, key_id: bundle.keyId, created_at: m.createdAt,
    feature_schema_hash: schema.data.schema_hash, feature_names: [...names], z_entry: o.zEntry,
    theta, bundle_theta: parts.theta,
    files: m.files.map((f) => ({ name: f.name, sha256: f.sha256, size: f.size })),
  };
  const cols = names.length;
  const zAt = names.indexOf('z');
  let released = false;
  return {
    identity, featureNames: names, theta, zEntry: o.zEntry, normalizer, calibrators,
    async predict(rows) {
      const n = rows.length;
      if (n === 0) return [];
      // Normalised in float64, rounded once to float32: the matrix the parity check fed onnxruntime.
      const values = new Float32Array(n * cols);
      rows.forEach((r, i) => {
        const x = applyNormalizer(normalizer, r.features);
        for (let j = 0; j < cols; j++) values[i * cols + j] = x[names[j]] ?? Number.NaN;
      });
      const [p1, p2] = await Promise.all([positiveClass(ai1, values, n, cols), positiveClass(ai2, values, n, cols)]);
      return rows.map((r, i) => {
        const zRaw = r.features[names[zAt]];
        const scored = zRaw !== null && Number.isFinite(zRaw) && Math.abs(zRaw) >= o.zEntry;
        const returnProb = scored ? isotonicValue(calibrators.ai1, p1[i]) : null;
        const riskScore = isotonicValue(calibrators.ai2, p2[i]);
        const { signal, reason } = entrySignal({ returnProb, riskScore, z: zRaw, beta: r.beta }, theta);
        return {
          ...(r.ts === undefined ? {} : { ts: r.ts }), ...(r.pair === undefined ? {} : { pair: r.pair }),
          return_prob: returnProb, risk_score: riskScore, signal, reason, theta1: theta.theta1, theta2: theta.theta2,
        };
      });
    },
    async release() {
      if (released) return;
      released = true;
      await Promise.all([ai1.release(), ai2.release()]);
    },
  };
}

export interface LoadOptions {
  store: ObjectStore;
  registry: Pick<ModelRegistry, 'get'>;
  /** The trusted verification key (`resolveVerifyKey`). */
  publicKey: KeyObject;
  group: string;
  version: string;
  /** core_policy.z_entry: where AI1 scores. */
  zEntry: number;
}

/** Registry → verified bundle → servable model. Refuses an unknown version, another group's version, and any bundle that does not verify. */
export async function loadServedModel(o: LoadOptions): Promise<ServedModel> {
  const record = await lookupServedVersion(o.registry, o.group, o.version);
  const bundle = await loadBundle(o.store, record.bundleUri, o.publicKey, { version: record.version, group: record.group, timeframe: record.timeframe });
  return prepareModel(bundle, readModelBundle(bundle), { record, zEntry: o.zEntry });
}
