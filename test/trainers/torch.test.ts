/**
 * The PyTorch trainer (`trainers/torch/train.py`) as the `torch_models` container step, run for
 * real: the runtime on PGlite, the subprocess launcher, a python with torch. The trained ONNX
 * models are then scored with onnxruntime-node.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { defineAsset } from '../../core/definitions/asset.ts';
import { StaticPartitions } from '../../core/partitions/definitions.ts';
import { mulberry32 } from '../../core/random.ts';
import { rocAuc } from '../../assets/models/engine/metrics.ts';
import {
  loadTorchModel, TorchTrainerErrors, torchModelsAsset, torchModelsIO,
  type TorchModels, type TorchTaskData, type TorchTrainerConfig, type TorchTrainingSet,
} from '../../assets/models/torch.ts';
import { testRuntime, type TestRuntime } from '../support/runtime.ts';

const hasModule = (python: string, module: string) => spawnSync(python, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
/** A python that has torch: $ORRERY_PYTHON, python3 on the PATH, or Debian's /usr/bin/python3 (python3-torch). */
const torchPython = [process.env.ORRERY_PYTHON, 'python3', '/usr/bin/python3'].find((p): p is string => !!p && hasModule(p, 'torch'));
const anyPython = ['python3', '/usr/bin/python3'].find((p) => hasModule(p, 'json'));
if (!torchPython) console.warn('test/trainers: no python with torch here (apt install python3-torch, or pip install torch): training tests skipped.');

const FEATURES = ['z', 'delta_z', 'rho_rolling', 'vol_ratio_spread', 'half_life', 'atr_ratio_A'];
const F = FEATURES.length;

function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Rows with a known signal (linear plus an interaction for AI1, |x| terms for AI2), ~5 % missing. */
function taskData(task: 'ai1' | 'ai2', rows: number, seed: number, validShare = 0.2): TorchTaskData {
  const random = mulberry32(seed);
  const X: (number | null)[][] = [];
  const y: (0 | 1)[] = [];
  for (let i = 0; i < rows; i++) {
    const x = Array.from({ length: F }, () => Math.max(-5, Math.min(5, gaussian(random))));
    const logit = task === 'ai1'
      ? 1.8 * x[0] - 1.2 * x[1] + 0.9 * x[2] * x[3] - 1.0
      : 1.5 * Math.abs(x[4]) - 1.0 * x[5] + 0.6 * x[0] - 2.0;
    y.push(random() < 1 / (1 + Math.exp(-logit)) ? 1 : 0);
    X.push(x.map((v) => (random() < 0.05 ? null : Math.round(v * 1e6) / 1e6)));
  }
  const positives = y.filter((v) => v === 1).length;
  const wPos = Math.min(5, Math.max(1, (rows - positives) / Math.max(positives, 1)));
  return { X, y, w: y.map((v) => (v === 1 ? wPos : 1)), validFrom: Math.floor(rows * (1 - validShare)) };
}

function trainingSet(rows = 1500, seed = 1): TorchTrainingSet {
  return { featureNames: FEATURES, schemaHash: 'test-schema', seed: 42, tasks: { ai1: taskData('ai1', rows, seed), ai2: taskData('ai2', rows, seed + 100) } };
}

const groups = new StaticPartitions(['g1']);
const trainingSetsAsset = (make: () => TorchTrainingSet) => defineAsset<TorchTrainingSet>({ key: 'training_sets', partitions: groups, codeVersion: '1', compute: () => ({ value: make() }) });
/** Small and quick on two shared CPU cores. */
const FAST: Partial<TorchTrainerConfig> = { hidden: [32, 16], maxEpochs: 60, patience: 10, batchSize: 128, threads: 1, lr: 3e-3 };

async function onnxRun(bytes: Uint8Array, rows: (number | null)[][]): Promise<{ p1: number[]; probabilities: Float32Array; labels: BigInt64Array; dims: readonly number[]; session: ort.InferenceSession }> {
  const session = await ort.InferenceSession.create(bytes);
  const values = Float32Array.from(rows.flat(), (v) => (v === null ? NaN : v));
  const out = await session.run({ features: new ort.Tensor('float32', values, [rows.length, F]) });
  const probabilities = out.probabilities.data as Float32Array;
  return {
    p1: Array.from({ length: rows.length }, (_, i) => probabilities[2 * i + 1]),
    probabilities, labels: out.label.data as BigInt64Array, dims: out.probabilities.dims, session,
  };
}

let t: TestRuntime | undefined;
const scratch: string[] = [];
afterEach(async () => {
  await t?.close();
  t = undefined;
});
afterAll(() => { for (const d of scratch) rmSync(d, { recursive: true, force: true }); });

describe.skipIf(!torchPython)('torch trainer: torch_models through the runtime and a subprocess', () => {
  it('learns the signal; ONNX equals the torch forward pass; metadata, checks and progress reach the event log; reruns reproduce', async () => {
    const sets = trainingSetsAsset(() => trainingSet());
    const torch = torchModelsAsset(groups, sets, { python: torchPython });
    expect(torch.pool).toBe('gpu');
    expect(torch.compute).toMatchObject({ kind: 'container', image: expect.stringMatching(/^orrery\/trainer-torch:/), command: [torchPython, 'trainers/torch/train.py'], resources: { gpu: 1 } });
    t = await testRuntime([sets, torch]);
    const r = await t.runtime.launch({ selection: '+torch_models', partitions: { kind: 'all' }, skipUpToDate: true, config: { torch_models: FAST } });
    expect(r.failures).toEqual([]);
    expect(r.status).toBe('success');

    const io = torchModelsIO();
    const ctx = { assetKey: 'torch_models', partitionKey: 'g1', resources: { objectStore: t.objectStore } as never };
    const models: TorchModels = await io.read(ctx);
    expect(models.format).toBe('orrery.torch-models/1');
    expect(models.featureNames).toEqual(FEATURES);
    expect(models.onnx).toEqual({ input: 'features', outputs: ['probabilities', 'label'], opset: 13 });
    expect(models.modelVersion).toMatch(/^torch\.g1\.[0-9a-f]{10}$/);
    expect(Object.keys(models.artifacts).sort()).toEqual(['metrics.json', 'model_ai1.onnx', 'model_ai2.onnx']);
    expect(models.artifacts['model_ai1.onnx'].key).toBe(`models/${models.modelVersion}/model_ai1.onnx`);
    expect(JSON.parse(Buffer.from(await t.objectStore.get(models.artifacts['metrics.json'].key)).toString())).toEqual(models.metrics);
    // The step's scratch output was adopted, not left behind.
    expect(readdirSync(join(t.objectStore.root, '.tmp'))).toEqual([]);

    const heldOut = { ai1: taskData('ai1', 1000, 777, 0), ai2: taskData('ai2', 1000, 877, 0) };
    for (const task of ['ai1', 'ai2'] as const) {
      const m = models.metrics.tasks[task];
      expect(m.device).toBe('cpu');
      expect(m.gpuUtilization).toBeNull();
      expect(m.bestEpoch).toBeGreaterThanOrEqual(1);
      expect(m.bestEpoch).toBeLessThanOrEqual(m.epochs);
      expect(m.history.valid).toHaveLength(m.epochs);
      expect(m.trainRows).toBe(1200);
      expect(m.validRows).toBe(300);
      const bytes = await loadTorchModel(t.objectStore, models, task);
      expect(m.onnxSha256).toBe(models.artifacts[`model_${task}.onnx`].sha256);

      // The signal was learned: AUC on rows the trainer never saw, scored by onnxruntime.
      const { p1, probabilities, labels, dims, session } = await onnxRun(bytes, heldOut[task].X);
      expect(session.inputNames).toEqual(['features']);
      expect(session.outputNames).toEqual(['probabilities', 'label']);
      expect(dims).toEqual([1000, 2]);
      const auc = rocAuc(heldOut[task].y, p1);
      expect(auc).toBeGreaterThan(task === 'ai1' ? 0.8 : 0.7);
      expect(m.auc).toBeGreaterThan(task === 'ai1' ? 0.8 : 0.7);
      for (let i = 0; i < 1000; i++) {
        expect(probabilities[2 * i] + probabilities[2 * i + 1]).toBeCloseTo(1, 6);
        expect(Number(labels[i])).toBe(probabilities[2 * i + 1] > probabilities[2 * i] ? 1 : 0);
      }
      await session.release();

      // ONNX equals the torch forward pass on the reference rows.
      expect(m.reference.rows).toHaveLength(8);
      const ref = await onnxRun(bytes, m.reference.rows);
      const maxDiff = Math.max(...ref.p1.map((p, i) => Math.abs(p - m.reference.probabilities[i])));
      expect(maxDiff).toBeLessThanOrEqual(1e-5);
      await ref.session.release();
    }

    // The manifest's metadata and check are in the event log.
    const state = (await t.eventLog.partitionStates('torch_models')).get('g1')!;
    expect(state.dataVersion).toMatch(/^[0-9a-f]{64}$/);
    expect(models.modelVersion.endsWith(state.dataVersion!.slice(0, 10))).toBe(true);
    expect(state.metadata).toMatchObject({
      format: 'orrery.torch-models/1', device: 'cpu', features: F, seed_source: 'ORRERY_SEED', schema_hash: 'test-schema',
      ai1_auc: models.metrics.tasks.ai1.auc, ai2_auc: models.metrics.tasks.ai2.auc,
      ai1_best_epoch: models.metrics.tasks.ai1.bestEpoch, ai2_epochs: models.metrics.tasks.ai2.epochs,
      model_version: models.modelVersion,
    });
    const events = await t.eventLog.listEvents(r.runId);
    const materialization = events.find((e) => e.type === 'MATERIALIZATION' && e.assetKey === 'torch_models')!;
    expect(materialization.payload.metadata).toMatchObject({ ai1_log_loss: models.metrics.tasks.ai1.logLoss, ai2_brier: models.metrics.tasks.ai2.brier });
    expect(events.some((e) => e.type === 'PROGRESS' && e.assetKey === 'torch_models')).toBe(true);
    expect(await t.eventLog.latestCheckResults('torch_models')).toEqual([
      expect.objectContaining({ checkName: 'auc_floor', passed: true, severity: 'ERROR', metadata: expect.objectContaining({ floor: 0.5 }) }),
    ]);

    // Same seed, same data: the same models and metrics (timings aside) and the same data version.
    const again = await t.runtime.launch({ selection: 'torch_models', partitions: { kind: 'all' }, skipUpToDate: false, config: { torch_models: FAST } });
    expect(again.status).toBe('success');
    const second: TorchModels = await io.read(ctx);
    const stable = (x: TorchModels) => Object.fromEntries((['ai1', 'ai2'] as const).map((k) => {
      const { seconds: _s, ...rest } = x.metrics.tasks[k];
      return [k, rest];
    }));
    expect(stable(second)).toEqual(stable(models));
    expect(second.modelVersion).toBe(models.modelVersion);
    expect((await t.eventLog.partitionStates('torch_models')).get('g1')!.dataVersion).toBe(state.dataVersion);
  });

  it('a training set it cannot use fails the step with ML_MODEL_INVALID and writes nothing', async () => {
    const bad = (): TorchTrainingSet => {
      const s = trainingSet(200);
      s.tasks.ai2.validFrom = s.tasks.ai2.y.length; // no validation rows
      return s;
    };
    const sets = trainingSetsAsset(bad);
    t = await testRuntime([sets, torchModelsAsset(groups, sets, { python: torchPython })]);
    const r = await t.runtime.launch({ selection: '+torch_models', partitions: { kind: 'all' }, skipUpToDate: true, config: { torch_models: FAST } });
    expect(r.status).toBe('failed');
    expect(r.failures).toEqual([expect.objectContaining({ assetKey: 'torch_models', errorId: TorchTrainerErrors.INVALID, message: expect.stringContaining('validFrom') })]);
    expect((await t.eventLog.partitionStates('torch_models')).get('g1')).toMatchObject({ status: 'failed', dataVersion: null });
  });

  it('standalone, with a file:// input and a directory output, writes model_ai1.onnx, model_ai2.onnx and metrics.json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-torch-standalone-'));
    scratch.push(dir);
    writeFileSync(join(dir, 'ts.json'), JSON.stringify(trainingSet(300)));
    const run = spawnSync(torchPython!, ['trainers/torch/train.py'], {
      encoding: 'utf8',
      env: {
        ...process.env,
        ORRERY_INPUTS: JSON.stringify({ training_set: [{ partitionKey: 'g1', uri: `file://${join(dir, 'ts.json')}` }] }),
        ORRERY_OUTPUT_URI: join(dir, 'out') + '/',
        ORRERY_RESULT_PATH: join(dir, 'result.json'),
        ORRERY_CONFIG: JSON.stringify({ ...FAST, maxEpochs: 5 }),
      },
    });
    expect(run.status).toBe(0);
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(['metrics.json', 'model_ai1.onnx', 'model_ai2.onnx']);
    const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
    expect(result).toMatchObject({ status: 'success', dataVersion: expect.stringMatching(/^[0-9a-f]{64}$/), metadata: { seed_source: 'training_set', seed: 42 } });
    const metrics = JSON.parse(readFileSync(join(dir, 'out', 'metrics.json'), 'utf8'));
    expect(metrics.tasks.ai1).toMatchObject({ epochs: 5, device: 'cpu' });
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1)).toEqual({ orrery: 'progress', done: 10, total: 10, message: 'done' });
    const ai2 = await onnxRun(readFileSync(join(dir, 'out', 'model_ai2.onnx')), metrics.tasks.ai2.reference.rows);
    expect(Math.max(...ai2.p1.map((p, i) => Math.abs(p - metrics.tasks.ai2.reference.probabilities[i])))).toBeLessThanOrEqual(1e-5);
    await ai2.session.release();
  });
});

describe.skipIf(!anyPython)('torch trainer: without torch', () => {
  it('a python without torch (ORRERY_PYTHON) fails with ML_ENV_NOTORCH saying what to install', async () => {
    // A python that cannot see any site-packages, so torch is not importable whatever is installed.
    const dir = mkdtempSync(join(tmpdir(), 'orrery-notorch-'));
    scratch.push(dir);
    const wrapper = join(dir, 'python-without-torch');
    writeFileSync(wrapper, `#!/bin/sh\nunset PYTHONPATH\nexec ${anyPython} -S "$@"\n`);
    chmodSync(wrapper, 0o755);
    const before = process.env.ORRERY_PYTHON;
    process.env.ORRERY_PYTHON = wrapper;
    let torch;
    try {
      const sets = trainingSetsAsset(() => trainingSet(100));
      torch = torchModelsAsset(groups, sets);
      t = await testRuntime([sets, torch]);
    } finally {
      if (before === undefined) delete process.env.ORRERY_PYTHON;
      else process.env.ORRERY_PYTHON = before;
    }
    expect((torch.compute as { command: string[] }).command[0]).toBe(wrapper);
    const r = await t.runtime.launch({ selection: '+torch_models', partitions: { kind: 'all' }, skipUpToDate: true });
    expect(r.status).toBe('failed');
    const [failure] = r.failures;
    expect(failure.errorId).toBe(TorchTrainerErrors.NO_TORCH);
    expect(failure.message).toContain('PyTorch is not importable');
    expect(failure.message).toContain('apt install python3-torch');
    expect(failure.message).toContain('pip install torch');
    expect(failure.message).toContain('ORRERY_PYTHON');
    expect((await t.eventLog.partitionStates('torch_models')).get('g1')).toMatchObject({ status: 'failed', dataVersion: null });
  });

  it('a python that does not exist fails with CORE_STEP_FAILED naming the command', async () => {
    const sets = trainingSetsAsset(() => trainingSet(100));
    t = await testRuntime([sets, torchModelsAsset(groups, sets, { python: '/nonexistent/python3' })]);
    const r = await t.runtime.launch({ selection: '+torch_models', partitions: { kind: 'all' }, skipUpToDate: true });
    expect(r.failures).toEqual([expect.objectContaining({ errorId: 'CORE_STEP_FAILED', message: expect.stringContaining('Cannot start step command "/nonexistent/python3"') })]);
  });
});
