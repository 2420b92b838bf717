/**
 * The feature schema saved with a model: which columns, in which order, computed how. Its hash
 * (sha256 of canonical JSON) tells whether a model and a feature table were built alike.
 */
import { createHash } from 'node:crypto';
import {
  type FeatureConfig, ENGINE_VERSION, outputHalfLives, outputWindows, resolveFeatureConfig, warmupBars,
} from './config.ts';
import { checkSelection } from './engine.ts';
import { DEFAULT_NORMALIZER_OPTIONS, NORMALIZATION_METHOD, type NormalizerOptions } from './normalizer.ts';

export interface FeatureSchema {
  engine_version: string;
  names: string[];
  dtypes: Record<string, 'float64'>;
  windows: Record<string, number>;
  half_lives: Record<string, number>;
  warmup_bars: Record<string, number>;
  normalization: { method: string; lower_quantile: number; upper_quantile: number; center: 'median'; scale: 'mad*1.4826'; clip: [number, number] };
  config: FeatureConfig;
}

export function featureSchema(config: Partial<FeatureConfig>, names: readonly string[], normalizer: Partial<NormalizerOptions> = {}): FeatureSchema {
  const c = resolveFeatureConfig(config);
  const selected = checkSelection(names);
  const n = { ...DEFAULT_NORMALIZER_OPTIONS, ...normalizer };
  const windows = outputWindows(c), halfLives = outputHalfLives(c), warm = warmupBars(c);
  const pick = <T>(all: Partial<Record<string, T>>) => Object.fromEntries(selected.filter((k) => all[k] !== undefined).map((k) => [k, all[k] as T]));
  return {
    engine_version: ENGINE_VERSION,
    names: [...selected],
    dtypes: Object.fromEntries(selected.map((k) => [k, 'float64' as const])),
    windows: pick(windows),
    half_lives: pick(halfLives),
    warmup_bars: pick(warm),
    normalization: { method: NORMALIZATION_METHOD, lower_quantile: n.lowerQuantile, upper_quantile: n.upperQuantile, center: 'median', scale: 'mad*1.4826', clip: [-n.clip, n.clip] },
    config: c,
  };
}

/** JSON with object keys sorted at every level (arrays keep their order: column order matters). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError('canonical JSON has no NaN/Infinity');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function schemaHash(schema: FeatureSchema): string {
  return createHash('sha256').update(canonicalJson(schema)).digest('hex');
}
