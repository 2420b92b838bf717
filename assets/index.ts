import type { AssetDefinition } from '../core/definitions/asset.ts';
import type { IOManager } from '../core/definitions/io.ts';
import type { CanonicalBar } from '../core/market-data.ts';
import { canonicalBarsAsset } from './canonical_bars/asset.ts';
import { pairFeaturesAsset, type PairFeatures } from './features/asset.ts';
import { pairLabelsAsset, type PairLabels } from './labels/asset.ts';
import { modelsAsset, trainingSetsAsset } from './models/asset.ts';
import { torchModelsAsset } from './models/torch.ts';
import { thetaAsset } from './theta/asset.ts';
import { backtestsAsset } from './backtests/asset.ts';
import { publishedModelsAsset } from './published_models/asset.ts';
import { pipelinePartitions, type PipelinePartitions } from './canonical_bars/partitions.ts';
import type { Policies } from './policies/index.ts';

export interface CodeLocation {
  partitions: PipelinePartitions;
  assets: AssetDefinition<any, any, any>[];
}

/** Where the library's tables live; the entry point picks the adapters (ClickHouse in practice). */
export interface LibraryStorage {
  bars?: IOManager<CanonicalBar[]>;
  features?: IOManager<PairFeatures>;
  labels?: IOManager<PairLabels>;
}

/** The pair-trading asset library, built from the validated policies. */
export function codeLocation(policies: Policies, storage: LibraryStorage = {}): CodeLocation {
  const partitions = pipelinePartitions(policies);
  const bars = canonicalBarsAsset(policies, partitions, storage.bars);
  const features = pairFeaturesAsset(policies, partitions, bars, storage.features);
  const labels = pairLabelsAsset(policies, partitions, features, storage.labels);
  const trainingSets = trainingSetsAsset(policies, partitions, features, labels);
  const models = modelsAsset(policies, partitions, trainingSets);
  const torchModels = torchModelsAsset(partitions.modelWindows, trainingSets);
  const theta = thetaAsset(policies, partitions, models);
  const backtests = backtestsAsset(policies, partitions, models, theta);
  const published = publishedModelsAsset(policies, partitions, { models, theta, backtests });
  return { partitions, assets: [bars, features, labels, trainingSets, models, torchModels, theta, backtests, published] };
}
