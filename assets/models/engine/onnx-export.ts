/**
 * Export of a GBDT model to ONNX as one ai.onnx.ml TreeEnsembleClassifier (opset 3).
 *
 * Input `features`: float [N, F]. Outputs `probabilities`: float [N, 2] (classes 0, 1) and `label`:
 * int64 [N]. The trees map one-to-one: splits are BRANCH_LEQ on the model's float32 thresholds, a
 * NaN takes the true (left) branch where the model's default is left
 * (nodes_missing_value_tracks_true), and each leaf votes its value for class id 0, which with two
 * class labels is ONNX's binary encoding of the positive-class score; base_values holds the base
 * score, post_transform LOGISTIC turns the sum into probabilities. `label` is the ArgMax of the
 * probabilities: onnxruntime's own label output of the ensemble thresholds the raw score at 0.5
 * instead of 0 when every leaf value is positive, so it is not used.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { invalid } from './errors.ts';
import type { GbdtModel } from './model.ts';

// onnx-proto is CommonJS without named exports for Node's ESM loader.
const { onnx } = onnxProto;
const { AttributeType } = onnx.AttributeProto;
const { DataType } = onnx.TensorProto;

export const ONNX_INPUT = 'features';
export const ONNX_OUTPUT_PROBABILITIES = 'probabilities';
export const ONNX_OUTPUT_LABEL = 'label';

const text = (s: string) => new TextEncoder().encode(s);
const ints = (name: string, values: number[]): OnnxTypes.IAttributeProto => ({ name, type: AttributeType.INTS, ints: values });
const floats = (name: string, values: number[]): OnnxTypes.IAttributeProto => ({ name, type: AttributeType.FLOATS, floats: values });

function tensorType(elemType: OnnxTypes.TensorProto.DataType, dims: Array<number | string>): OnnxTypes.ITypeProto {
  return { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } };
}

export interface OnnxExportOptions {
  /** Stored as the model's doc string. */
  description?: string;
  /** Extra metadata_props entries (feature_names is always written). */
  metadata?: Record<string, string>;
}

/** The model as ONNX bytes (ModelProto). */
export function exportOnnx(model: GbdtModel, options: OnnxExportOptions = {}): Uint8Array {
  if (model.trees.length === 0) invalid('exportOnnx: the model has no trees');
  const featureCount = model.featureNames.length;
  const nodes = { treeIds: [] as number[], nodeIds: [] as number[], featureIds: [] as number[], modes: [] as string[], values: [] as number[], trueIds: [] as number[], falseIds: [] as number[], missingTrue: [] as number[] };
  const votes = { treeIds: [] as number[], nodeIds: [] as number[], weights: [] as number[] };
  model.trees.forEach((tree, t) => {
    tree.forEach((node, k) => {
      nodes.treeIds.push(t);
      nodes.nodeIds.push(k);
      if (node.kind === 'split') {
        nodes.featureIds.push(node.feature);
        nodes.modes.push('BRANCH_LEQ');
        nodes.values.push(node.threshold);
        nodes.trueIds.push(node.left);
        nodes.falseIds.push(node.right);
        nodes.missingTrue.push(node.defaultLeft ? 1 : 0);
      } else {
        nodes.featureIds.push(0);
        nodes.modes.push('LEAF');
        nodes.values.push(0);
        nodes.trueIds.push(0);
        nodes.falseIds.push(0);
        nodes.missingTrue.push(0);
        votes.treeIds.push(t);
        votes.nodeIds.push(k);
        votes.weights.push(node.value);
      }
    });
  });

  const ensemble: OnnxTypes.INodeProto = {
    name: 'gbdt',
    opType: 'TreeEnsembleClassifier',
    domain: 'ai.onnx.ml',
    input: [ONNX_INPUT],
    output: ['ensemble_label', ONNX_OUTPUT_PROBABILITIES],
    attribute: [
      ints('nodes_treeids', nodes.treeIds),
      ints('nodes_nodeids', nodes.nodeIds),
      ints('nodes_featureids', nodes.featureIds),
      { name: 'nodes_modes', type: AttributeType.STRINGS, strings: nodes.modes.map(text) },
      floats('nodes_values', nodes.values),
      ints('nodes_truenodeids', nodes.trueIds),
      ints('nodes_falsenodeids', nodes.falseIds),
      ints('nodes_missing_value_tracks_true', nodes.missingTrue),
      ints('class_treeids', votes.treeIds),
      ints('class_nodeids', votes.nodeIds),
      ints('class_ids', votes.weights.map(() => 0)),
      floats('class_weights', votes.weights),
      floats('base_values', [model.baseScore]),
      ints('classlabels_int64s', [0, 1]),
      { name: 'post_transform', type: AttributeType.STRING, s: text('LOGISTIC') },
    ],
  };
  const argMax: OnnxTypes.INodeProto = {
    name: 'label',
    opType: 'ArgMax',
    input: [ONNX_OUTPUT_PROBABILITIES],
    output: [ONNX_OUTPUT_LABEL],
    attribute: [
      { name: 'axis', type: AttributeType.INT, i: 1 },
      { name: 'keepdims', type: AttributeType.INT, i: 0 },
    ],
  };
  const metadata = { ...options.metadata, feature_names: JSON.stringify(model.featureNames) };
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'ai.onnx.ml', version: 3 },
    ],
    producerName: 'orrery',
    producerVersion: '1',
    docString: options.description ?? '',
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: 'gbdt_binary_classifier',
      node: [ensemble, argMax],
      input: [{ name: ONNX_INPUT, type: tensorType(DataType.FLOAT, ['N', featureCount]) }],
      output: [
        { name: ONNX_OUTPUT_LABEL, type: tensorType(DataType.INT64, ['N']) },
        { name: ONNX_OUTPUT_PROBABILITIES, type: tensorType(DataType.FLOAT, ['N', 2]) },
      ],
    },
  });
  return onnx.ModelProto.encode(proto).finish();
}
