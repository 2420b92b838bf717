import { createHash } from 'node:crypto';
import type { AssetDefinition } from '../definitions/asset.ts';

/** A hash of what the step runs: the compute's source (or container spec) and the code version. */
export function codeHash(def: AssetDefinition): string {
  const body = typeof def.compute === 'function' ? def.compute.toString() : JSON.stringify(def.compute);
  return createHash('sha256').update(def.codeVersion).update('\0').update(body).digest('hex').slice(0, 16);
}

/**
 * The seed a step gets: derived from the asset and partition (not the run), so a rerun of the
 * same partition reproduces the same result.
 */
export function stepSeed(assetKey: string, partitionKey: string): number {
  return createHash('sha256').update(assetKey).update('\0').update(partitionKey).digest().readUInt32BE(0);
}
