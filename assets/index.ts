import type { AssetDefinition } from '../core/definitions/asset.ts';
import { canonicalBarsAsset } from './canonical_bars/asset.ts';
import { pipelinePartitions, type PipelinePartitions } from './canonical_bars/partitions.ts';
import type { Policies } from './policies/index.ts';

export interface CodeLocation {
  partitions: PipelinePartitions;
  assets: AssetDefinition<any, any, any>[];
}

/** The pair-trading asset library, built from the validated policies. */
export function codeLocation(policies: Policies): CodeLocation {
  const partitions = pipelinePartitions(policies);
  return { partitions, assets: [canonicalBarsAsset(policies, partitions)] };
}
