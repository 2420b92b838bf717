/**
 * A real small published model for the serving tests: AI1/AI2 GBDTs trained by the product's own
 * training path (`trainGroupModels`: walk-forward, purged CV, final models, isotonic calibration,
 * normaliser fitted on the training rows) on a synthetic one-pair dataset, exported to ONNX
 * (`exportOnnx`), and published the way the `published_models` asset does it: `modelBundleFiles`
 * (model_ai1/model_ai2 ONNX, calibration {ai1, ai2}, the feature schema with `model_inputs`,
 * θ, normalisation) → `createBundle` → `signBundle` with the embedded key → `publishBundle` → registry.
 */
import { createHash } from 'node:crypto';
import type { DatasetRow, GroupDataset } from '../../assets/models/dataset.ts';
import { exportOnnx } from '../../assets/models/engine/index.ts';
import { DEFAULT_GBDT, defaultTrainingParams, trainGroupModels, type TrainedGroup } from '../../assets/models/training.ts';
import {
  createBundle, embeddedKeyPair, modelBundleFiles, publishBundle, signBundle, type ModelRegistry, type SigningKeyPair, type Theta,
} from '../../assets/published_models/engine/index.ts';
import type { ObjectStore } from '../../core/ports.ts';
import { mulberry32 } from '../../core/random.ts';

export const GROUP = 'metals';
export const TF = '1h';
export const PAIR = 'XAUUSD_XAGUSD';
/** z first, as `modelFeatureNames` orders the model inputs. */
export const FEATURES = ['z', 'delta_z', 'rho_rolling', 'vol_ratio_spread', 'half_life', 'atr_ratio_A'];
export const THETA: Theta = { theta1: 0.45, theta2: 0.3 };
export const Z_ENTRY = 2;

const HOUR = 3_600_000;
const gauss = (r: () => number) => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());

/** Hourly weekday bars of one pair: an OU z with divergence episodes and raw features on their own scales. */
export function syntheticDataset(seed = 7, from = '2025-01-01T00:00:00Z', to = '2025-06-01T00:00:00Z'): GroupDataset {
  const r = mulberry32(seed);
  const times: string[] = [];
  for (let t = Date.parse(from); t < Date.parse(to); t += HOUR) {
    const d = new Date(t).getUTCDay();
    if (d !== 0 && d !== 6) times.push(new Date(t).toISOString());
  }
  const n = times.length, phi = Math.exp(-Math.LN2 / 4), sd = 1.8 * Math.sqrt(1 - phi * phi);
  const z: number[] = [];
  let x = 0, mean = 0, episode = 0, drift = 0;
  for (let i = 0; i < n; i++) {
    x = phi * x + sd * gauss(r);
    if (episode === 0 && r() < 0.01) { episode = 60; drift = r() < 0.5 ? -1 : 1; }
    if (episode > 0) { mean += drift * 0.06; episode--; } else mean *= 0.95;
    z.push(x + mean);
  }
  const rows: DatasetRow[] = [];
  for (let i = 0; i < n; i++) {
    const rho = Math.min(0.99, Math.max(0.2, 0.8 + 0.1 * gauss(r) - 0.3 * Math.abs(mean) / 3));
    const features = {
      z: z[i],
      delta_z: i > 0 ? z[i] - z[i - 1] : null,
      rho_rolling: rho,
      vol_ratio_spread: 1 + 0.3 * Math.abs(gauss(r)) + 0.2 * Math.abs(mean),
      half_life: i < 30 ? null : 4 + 30 * r() + 10 * Math.abs(mean),
      atr_ratio_A: 0.004 + 0.002 * Math.abs(gauss(r)),
    };
    // AI1: from |z| ≥ 2, does z come back to |z| ≤ 0.5 within 10 bars?
    let ai1: DatasetRow['ai1'] = null;
    if (Math.abs(z[i]) >= Z_ENTRY && i + 48 < n) {
      let j = i + 1;
      while (j - i <= 10 && Math.abs(z[j]) > 0.5) j++;
      ai1 = { label: j - i <= 10 ? 1 : 0, last: Math.min(j, i + 10) };
    }
    // AI2: does |z| widen by 2.5 within 24 bars?
    let ai2: DatasetRow['ai2'] = null;
    if (i + 24 < n) {
      let hit = 0;
      for (let j = i + 1; j <= i + 24; j++) if (Math.abs(z[j]) - Math.abs(z[i]) > 2.5) { hit = 1; break; }
      ai2 = { label: hit as 0 | 1, last: i + 24 };
    }
    rows.push({
      pair: PAIR, ts: times[i], t: i, close_A: 2000, close_B: 23, z: z[i], beta: 85,
      x: FEATURES.map((f) => features[f as keyof typeof features]),
      ai1, ai2,
    });
  }
  return { group: GROUP, timeframe: TF, cutoff: to, pairs: [PAIR], featureNames: FEATURES, schemaHash: sha256(JSON.stringify(FEATURES)), times, rows, labelsAfterCutoff: 0 };
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

export interface TrainedFixture {
  ds: GroupDataset;
  trained: TrainedGroup;
  onnx: { ai1: Uint8Array; ai2: Uint8Array };
  modelVersion: string;
  featureSchema: Record<string, unknown>;
}

/** Trains the fixture's models with the product's training path (small GBDTs, short walk-forward). */
export function trainFixture(seed = 7): TrainedFixture {
  const ds = syntheticDataset(seed);
  const params = defaultTrainingParams({
    gbdt: { ...DEFAULT_GBDT, numRounds: 25, learningRate: 0.2, maxDepth: 3, numLeaves: 8, maxBins: 32, earlyStoppingRounds: 10, seed },
    cv: { k: 3, purgeBars: 48, embargoBars: 24, minBlockLenBars: 200, wfStepDays: 30, wfMinTrainDays: 90 },
    zEntry: Z_ENTRY,
  });
  const trained = trainGroupModels(ds, params);
  const onnx = { ai1: exportOnnx(trained.ai1.model), ai2: exportOnnx(trained.ai2.model) };
  const modelVersion = `${GROUP}.${TF}.2025-05.${sha256(Buffer.concat([onnx.ai1, onnx.ai2])).slice(0, 10)}`;
  // As the models asset writes feature_schema.json: the feature schema, model_inputs, its hash, the normaliser.
  const featureSchema = { names: FEATURES.slice(1), model_inputs: ds.featureNames, schema_hash: ds.schemaHash, normalization_params: trained.normalizer };
  return { ds, trained, onnx, modelVersion, featureSchema };
}

export interface PublishedFixture {
  version: string;
  bundleKey: string;
  keys: SigningKeyPair;
}

/** Publishes the trained models as a signed bundle under `home`'s embedded key and registers the version. */
export async function publishFixture(f: TrainedFixture, o: { store: ObjectStore; registry: ModelRegistry; home: string; theta?: Theta; version?: string }): Promise<PublishedFixture> {
  const keys = await embeddedKeyPair(o.home, { generate: true });
  const theta = o.theta ?? THETA;
  const files = modelBundleFiles({
    onnx: { model_ai1: f.onnx.ai1, model_ai2: f.onnx.ai2 },
    calibration: { ai1: f.trained.ai1.calibrator, ai2: f.trained.ai2.calibrator } as never,
    featureSchema: f.featureSchema as never,
    theta,
    normalisation: f.trained.normalizer as never,
  });
  const version = o.version ?? `${f.modelVersion}.${sha256(JSON.stringify(theta)).slice(0, 8)}`;
  const bundle = signBundle(createBundle({ version, group: GROUP, timeframe: TF, files, createdAt: new Date(f.ds.cutoff), metadata: { model_version: f.modelVersion, theta: theta as never } }), keys.privateKey);
  const published = await publishBundle(o.store, bundle, keys.publicKey);
  await o.registry.register(version, GROUP, TF, published.key, { model_version: f.modelVersion, feature_schema_hash: f.ds.schemaHash }, theta, { actor: 'test' });
  return { version, bundleKey: published.key, keys };
}

/** Raw feature rows of the dataset as /predict rows (the last `count` bars, with every |z| band). */
export function predictRows(ds: GroupDataset, count = 400): Array<{ ts: string; pair: string; features: Record<string, number | null> }> {
  return ds.rows.slice(-count).map((r) => ({ ts: r.ts, pair: r.pair, features: Object.fromEntries(ds.featureNames.map((n, j) => [n, r.x[j]])) }));
}

