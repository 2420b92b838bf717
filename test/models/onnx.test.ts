/** ONNX export: onnxruntime reproduces the TypeScript model's probabilities, NaNs and split boundaries included. */
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import {
  exportOnnx, predictProba, predictRaw, trainGbdt, type DenseMatrix, type GbdtModel, type SplitNode,
} from '../../assets/models/engine/index.ts';
import { SYNTHETIC_FEATURES, seededRandom, syntheticData } from './synthetic.ts';

const { onnx } = onnxProto;

const { model } = trainGbdt(syntheticData(3000, 11), {
  numRounds: 120, learningRate: 0.1, maxDepth: 5, numLeaves: 20, minDataInLeaf: 10, minSumHessian: 1e-3,
  lambdaL2: 1, maxBins: 255, featureFraction: 0.9, baggingFraction: 0.9, seed: 3,
}, { featureNames: SYNTHETIC_FEATURES });

/**
 * 1,500 held-out rows with NaNs in every feature, plus rows whose values sit exactly on a split
 * threshold and one float32 step above it (where `<=` versus `<` or float64 versus float32 differ).
 */
function evaluationRows(): DenseMatrix {
  const base = syntheticData(1500, 12).features;
  const random = seededRandom(99);
  const values = Array.from(base.values, (v) => (random() < 0.05 ? NaN : v));
  const splits = model.trees.flatMap((tree) => tree.filter((n): n is SplitNode => n.kind === 'split'));
  for (const split of splits.slice(0, 300)) {
    const up = new Float32Array([split.threshold]);
    new Uint32Array(up.buffer)[0] += split.threshold >= 0 ? 1 : -1;
    for (const x of [split.threshold, up[0]]) {
      const row = Array.from({ length: 6 }, () => 2 * random() - 1);
      row[split.feature] = x;
      values.push(...row);
    }
  }
  return { values: Float64Array.from(values), rows: values.length / 6, cols: 6 };
}

async function runOnnx(bytes: Uint8Array, x: DenseMatrix, threads?: number) {
  const session = await ort.InferenceSession.create(bytes, threads === undefined ? {} : { intraOpNumThreads: threads });
  const out = await session.run({ features: new ort.Tensor('float32', Float32Array.from(x.values), [x.rows, x.cols]) });
  return { label: out.label, probabilities: out.probabilities };
}

describe('exportOnnx', () => {
  const x = evaluationRows();

  it('gives the TypeScript probabilities to 1e-6 on rows with NaNs and threshold values', async () => {
    expect(x.rows).toBeGreaterThanOrEqual(1000);
    const { label, probabilities } = await runOnnx(exportOnnx(model), x);
    expect(probabilities.dims).toEqual([x.rows, 2]);
    expect(label.dims).toEqual([x.rows]);
    const probs = probabilities.data as Float32Array;
    const labels = label.data as BigInt64Array;
    const expected = predictProba(model, x);
    let worst = 0;
    for (let i = 0; i < x.rows; i++) {
      worst = Math.max(worst, Math.abs(probs[2 * i + 1] - expected[i]), Math.abs(probs[2 * i] - (1 - expected[i])));
      if (Math.abs(expected[i] - 0.5) > 1e-6) expect(labels[i]).toBe(expected[i] > 0.5 ? 1n : 0n);
    }
    expect(worst).toBeLessThan(1e-6);
  });

  it('sums the trees exactly like predictRaw when onnxruntime runs single-threaded', async () => {
    // Without the logistic, ONNX's binary score column 1 is the raw score; one thread keeps tree order.
    const proto = onnx.ModelProto.decode(exportOnnx(model));
    proto.graph!.node![0].attribute!.find((a) => a.name === 'post_transform')!.s = new TextEncoder().encode('NONE');
    const { probabilities } = await runOnnx(onnx.ModelProto.encode(proto).finish(), x, 1);
    const raw = probabilities.data as Float32Array;
    const expected = predictRaw(model, x);
    for (let i = 0; i < x.rows; i++) if (raw[2 * i + 1] !== expected[i]) expect([i, raw[2 * i + 1]]).toEqual([i, expected[i]]);
  });

  it('labels by probability even when every leaf value is positive', async () => {
    // onnxruntime's own ensemble label would threshold the raw score at 0.5 here.
    const allPositive: GbdtModel = {
      format: 'orrery-gbdt', version: 1, featureNames: ['a', 'b'], baseScore: Math.fround(-0.4),
      trees: [[
        { kind: 'split', feature: 1, threshold: 0, defaultLeft: false, left: 1, right: 2, gain: 1 },
        { kind: 'leaf', value: Math.fround(0.3) },
        { kind: 'leaf', value: Math.fround(0.7) },
      ]],
    };
    const rows = { values: Float64Array.from([0, -1, 0, 1, 0, NaN]), rows: 3, cols: 2 };
    const { label, probabilities } = await runOnnx(exportOnnx(allPositive), rows);
    const expected = predictProba(allPositive, rows);
    expect(expected[0]).toBeLessThan(0.5);
    expect(expected[1]).toBeGreaterThan(0.5);
    expect(Array.from(label.data as BigInt64Array)).toEqual([0n, 1n, 1n]);
    const probs = probabilities.data as Float32Array;
    expected.forEach((p, i) => expect(probs[2 * i + 1]).toBeCloseTo(p, 6));
  });

  it('declares the opsets, shapes and feature names', () => {
    const proto = onnx.ModelProto.decode(exportOnnx(model, { metadata: { run_id: 'r1' } }));
    expect(proto.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17], ['ai.onnx.ml', 3]]);
    const input = proto.graph!.input![0];
    expect(input.name).toBe('features');
    expect(input.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['N', 6]);
    expect(proto.graph!.output!.map((o) => o.name)).toEqual(['label', 'probabilities']);
    const metadata = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(metadata.feature_names!)).toEqual(SYNTHETIC_FEATURES);
    expect(metadata.run_id).toBe('r1');
  });
});
