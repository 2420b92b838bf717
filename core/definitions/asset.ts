import type { Logger } from 'pino';
import type { ZodType } from 'zod';
import type { JsonObject, PartitionStatus } from '../event-log/port.ts';
import type { PartitionMapping } from '../partitions/mappings.ts';
import type { PartitionsDefinition } from '../partitions/definitions.ts';
import type { IOManager } from './io.ts';
import type { AssetCheck } from './checks.ts';
import type { Resources } from './resources.ts';

/** How often and how long to retry a failing step: exponential backoff with jitter. */
export interface RetryPolicy {
  maxAttempts: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
}

/** Resources a container step asks for; `gpu` becomes `nvidia.com/gpu` on Kubernetes. */
export interface ContainerResources {
  cpu?: string;
  memory?: string;
  gpu?: number;
}

/**
 * A step run in its own process: a subprocess embedded, a Kubernetes Job in cluster mode. It
 * speaks the step protocol (see README): inputs/outputs by URI in its environment, a JSON result
 * manifest at the end.
 */
export interface ContainerCompute {
  kind: 'container';
  image: string;
  command: string[];
  resources?: ContainerResources;
  env?: Record<string, string>;
  nodeSelector?: Record<string, string>;
  /** How the output file the step writes is read back as the asset's value. */
  outputFormat?: 'json' | 'binary';
}

export function container(spec: Omit<ContainerCompute, 'kind'>): ContainerCompute {
  return { kind: 'container', ...spec };
}

/** The upstream partitions a step reads from one input, loaded lazily. */
export interface UpstreamPartitions<T> {
  readonly assetKey: string;
  readonly partitionKeys: readonly string[];
  load(partitionKey: string): Promise<T>;
  loadAll(): Promise<Array<{ partitionKey: string; value: T }>>;
}

export interface StepContext<TConfig> {
  runId: string;
  assetKey: string;
  /** NO_PARTITION ('') for an unpartitioned asset. */
  partitionKey: string;
  /** The partition's dimension keys (`{ timeframe, symbol, month }`) for multi partitions. */
  dimensions: Record<string, string>;
  /** The time window of a time partition (or of its time dimension). */
  window?: { start: Date; end: Date };
  config: TConfig;
  seed: number;
  log: Logger;
  resources: Resources;
  signal: AbortSignal;
  progress(done: number, total: number, message?: string): void;
  /**
   * This partition's state before the step (undefined when never materialized), with a reader of
   * the value last stored for it — what an incremental asset extends instead of recomputing.
   * Looked up only when asked, so other steps pay nothing for it.
   */
  previous(): Promise<{ status: PartitionStatus; metadata: JsonObject; load(): Promise<unknown> } | undefined>;
}

export interface AssetResult<T> {
  value: T;
  metadata?: JsonObject;
  /**
   * Data-quality verdict: the value is stored (for inspection) but the partition is quarantined
   * and excluded downstream until a later materialization passes.
   */
  quarantine?: { reasons: string[]; details?: JsonObject };
}

// An input names a typed upstream definition, or a key string (untyped) for graphs built from data.
export interface AssetInput<T> {
  asset: AssetDefinition<T> | string;
  mapping?: PartitionMapping;
}

export type InputsSpec = Record<string, AssetInput<any>>;

export type InputValues<TIns extends InputsSpec> = {
  [K in keyof TIns]: TIns[K] extends AssetInput<infer T> ? UpstreamPartitions<T> : never;
};

export type InProcessCompute<TOut, TIns extends InputsSpec, TConfig> = (
  ctx: StepContext<TConfig>,
  inputs: InputValues<TIns>,
) => Promise<AssetResult<TOut>> | AssetResult<TOut>;

export interface AssetSpec<TOut, TIns extends InputsSpec, TConfig> {
  key: string;
  description?: string;
  group?: string;
  kinds?: string[];
  partitions?: PartitionsDefinition;
  ins?: TIns;
  /** Order-only dependencies by key (no data read). */
  deps?: string[];
  /** Run config, validated before a run starts; unknown keys are rejected. */
  config?: ZodType<TConfig>;
  compute: InProcessCompute<TOut, TIns, TConfig> | ContainerCompute;
  checks?: AssetCheck<TOut>[];
  /** Bump when the compute changes meaning: materializations of another version are stale. */
  codeVersion: string;
  retry?: RetryPolicy;
  /** Concurrency pool (`cpu`, `gpu`, or user-defined); defaults to `cpu`, or `gpu` for a GPU container. */
  pool?: string;
  io?: IOManager<TOut>;
  metadata?: JsonObject;
}

export interface AssetDefinition<TOut = unknown, TIns extends InputsSpec = InputsSpec, TConfig = any> extends Required<Pick<AssetSpec<TOut, TIns, TConfig>, 'key' | 'compute' | 'codeVersion'>> {
  readonly description: string;
  readonly group: string;
  readonly kinds: string[];
  readonly partitions: PartitionsDefinition | undefined;
  readonly ins: TIns;
  readonly deps: string[];
  readonly config: ZodType<TConfig> | undefined;
  readonly checks: AssetCheck<TOut>[];
  readonly retry: RetryPolicy;
  readonly pool: string;
  readonly io: IOManager<TOut> | undefined;
  readonly metadata: JsonObject;
  /** Phantom field carrying the output type for `input()`. */
  readonly __output?: TOut;
}

const KEY_PATTERN = /^[a-z][a-z0-9_]*(\/[a-z][a-z0-9_]*)*$/;

export function defineAsset<TOut, TIns extends InputsSpec = {}, TConfig = Record<string, never>>(
  spec: AssetSpec<TOut, TIns, TConfig>,
): AssetDefinition<TOut, TIns, TConfig> {
  if (!KEY_PATTERN.test(spec.key)) {
    throw new Error(`Asset key "${spec.key}" must be lower_snake_case segments separated by "/".`);
  }
  const isGpu = typeof spec.compute === 'object' && (spec.compute.resources?.gpu ?? 0) > 0;
  return {
    key: spec.key,
    description: spec.description ?? '',
    group: spec.group ?? 'default',
    kinds: spec.kinds ?? [],
    partitions: spec.partitions,
    ins: (spec.ins ?? {}) as TIns,
    deps: spec.deps ?? [],
    config: spec.config,
    compute: spec.compute,
    checks: spec.checks ?? [],
    codeVersion: spec.codeVersion,
    retry: spec.retry ?? { maxAttempts: 1 },
    pool: spec.pool ?? (isGpu ? 'gpu' : 'cpu'),
    io: spec.io,
    metadata: spec.metadata ?? {},
  };
}

/** An input reading `asset`, typed by its output. */
export function input<T>(asset: AssetDefinition<T, any, any>, options: { mapping?: PartitionMapping } = {}): AssetInput<T> {
  return { asset, mapping: options.mapping };
}

export function inputKey(i: AssetInput<unknown>): string {
  return typeof i.asset === 'string' ? i.asset : i.asset.key;
}
