/**
 * The trained model: plain JSON-friendly data, and the predictions made from it.
 *
 * Prediction mirrors the ONNX runtime's TreeEnsembleClassifier on float inputs so that the
 * exported model and this one give the same scores: features are compared as float32 against
 * float32 thresholds with `x <= threshold`, a NaN follows the node's default direction, and the
 * leaf values are summed in float32 in tree order before the base score is added.
 */
import { z } from 'zod';
import { invalid } from './errors.ts';
import { toDense, toFloat32, type FeatureMatrix } from './matrix.ts';

/** Internal node: rows with x <= threshold (float32 compare) go left, NaN goes to the default side. */
export interface SplitNode {
  kind: 'split';
  feature: number;
  /** A float32-representable value. */
  threshold: number;
  defaultLeft: boolean;
  /** Node indices within the same tree; always greater than this node's index. */
  left: number;
  right: number;
  /** Loss reduction of the split (for feature importance). */
  gain: number;
}

export interface LeafNode {
  kind: 'leaf';
  /** Contribution to the raw score (log-odds), a float32-representable value. */
  value: number;
}

export type TreeNode = SplitNode | LeafNode;

/** A tree is its nodes; the root is node 0. */
export type Tree = TreeNode[];

export interface GbdtModel {
  format: 'orrery-gbdt';
  version: 1;
  featureNames: string[];
  /** Log-odds of the weighted class prior, float32-representable. */
  baseScore: number;
  trees: Tree[];
}

/** The leaf value a row reaches; `values` holds float32 features, the row starting at `offset`. */
export function leafValue(tree: Tree, values: Float32Array, offset: number): number {
  let node = tree[0];
  while (node.kind === 'split') {
    const x = values[offset + node.feature];
    const goLeft = Number.isNaN(x) ? node.defaultLeft : x <= node.threshold;
    node = tree[goLeft ? node.left : node.right];
  }
  return node.value;
}

/** Raw scores (log-odds), accumulated in float32 like the ONNX runtime. */
export function predictRaw(model: GbdtModel, features: FeatureMatrix): Float64Array {
  const x = toDense(features, model.featureNames.length);
  const values = toFloat32(x);
  const out = new Float64Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    let sum = 0;
    // Math.fround after each double addition is exactly float32 addition (double has > 2×24+2 bits).
    for (const tree of model.trees) sum = Math.fround(sum + leafValue(tree, values, i * x.cols));
    out[i] = Math.fround(sum + model.baseScore);
  }
  return out;
}

export function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

/** Probability of class 1 per row. */
export function predictProba(model: GbdtModel, features: FeatureMatrix): Float64Array {
  return predictRaw(model, features).map(sigmoid);
}

/** Per feature (in featureNames order), the summed split gain or the number of splits. */
export function featureImportance(model: GbdtModel, kind: 'gain' | 'split' = 'gain'): Float64Array {
  const out = new Float64Array(model.featureNames.length);
  for (const tree of model.trees) {
    for (const node of tree) if (node.kind === 'split') out[node.feature] += kind === 'gain' ? node.gain : 1;
  }
  return out;
}

// ---- JSON ------------------------------------------------------------------------------------

const float32 = z.number().refine((v) => Math.fround(v) === v, 'must be float32-representable');
const index = z.number().int().nonnegative();

const nodeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('split'), feature: index, threshold: float32, defaultLeft: z.boolean(), left: index, right: index, gain: z.number() }),
  z.object({ kind: z.literal('leaf'), value: float32 }),
]);

const modelSchema = z.object({
  format: z.literal('orrery-gbdt'),
  version: z.literal(1),
  featureNames: z.array(z.string()).min(1),
  baseScore: float32,
  trees: z.array(z.array(nodeSchema).min(1)).min(1),
});

export function modelToJSON(model: GbdtModel): string {
  return JSON.stringify(model);
}

/** Parses and checks a serialised model: schema, then that every tree is a proper binary tree. */
export function modelFromJSON(json: string | unknown): GbdtModel {
  const raw = typeof json === 'string' ? (JSON.parse(json) as unknown) : json;
  const parsed = modelSchema.safeParse(raw);
  if (!parsed.success) invalid(`not a valid GBDT model: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const model = parsed.data;
  const featureCount = model.featureNames.length;
  model.trees.forEach((tree, t) => {
    // Children after their parent and each node reached once: no cycles, no orphans.
    const parents = new Uint32Array(tree.length);
    tree.forEach((node, i) => {
      if (node.kind !== 'split') return;
      if (node.feature >= featureCount) invalid(`tree ${t} node ${i}: feature ${node.feature} out of range`);
      for (const child of [node.left, node.right]) {
        if (child <= i || child >= tree.length) invalid(`tree ${t} node ${i}: child ${child} out of order or range`);
        parents[child]++;
      }
    });
    parents.forEach((count, i) => {
      if (i > 0 && count !== 1) invalid(`tree ${t} node ${i}: reached from ${count} parents`);
    });
  });
  return model;
}
