import { z } from 'zod';
import { ErrorIds, OrreryError } from '../errors.ts';

/**
 * The step protocol: how a step in its own process (a subprocess embedded, a pod in a cluster)
 * talks to the orchestrator, in any language. Everything it needs comes in its environment; it
 * prints JSON lines to report logs and progress, and ends by writing a result manifest.
 */
export const PROTOCOL_VERSION = '1';

export const StepEnv = {
  PROTOCOL: 'ORRERY_PROTOCOL_VERSION',
  RUN_ID: 'ORRERY_RUN_ID',
  ASSET_KEY: 'ORRERY_ASSET_KEY',
  PARTITION_KEY: 'ORRERY_PARTITION_KEY',
  /** JSON object of the partition's dimensions. */
  DIMENSIONS: 'ORRERY_PARTITION_DIMENSIONS',
  /** JSON run config for the asset. */
  CONFIG: 'ORRERY_CONFIG',
  /** JSON `{ inputName: [{ partitionKey, uri }] }`. */
  INPUTS: 'ORRERY_INPUTS',
  /** Where the step writes its output (a path or URL). */
  OUTPUT_URI: 'ORRERY_OUTPUT_URI',
  /** Where the step writes its result manifest (a pod uses /dev/termination-log). */
  RESULT_PATH: 'ORRERY_RESULT_PATH',
  SEED: 'ORRERY_SEED',
} as const;

export interface StepInputRef {
  partitionKey: string;
  uri: string;
}

export interface StepLaunch {
  runId: string;
  assetKey: string;
  partitionKey: string;
  dimensions: Record<string, string>;
  config: unknown;
  inputs: Record<string, StepInputRef[]>;
  outputUri: string;
  seed: number;
  image: string;
  command: string[];
  env?: Record<string, string>;
  resources?: { cpu?: string; memory?: string; gpu?: number };
  nodeSelector?: Record<string, string>;
}

export function stepEnvironment(l: StepLaunch, resultPath: string): Record<string, string> {
  return {
    ...l.env,
    [StepEnv.PROTOCOL]: PROTOCOL_VERSION,
    [StepEnv.RUN_ID]: l.runId,
    [StepEnv.ASSET_KEY]: l.assetKey,
    [StepEnv.PARTITION_KEY]: l.partitionKey,
    [StepEnv.DIMENSIONS]: JSON.stringify(l.dimensions),
    [StepEnv.CONFIG]: JSON.stringify(l.config ?? {}),
    [StepEnv.INPUTS]: JSON.stringify(l.inputs),
    [StepEnv.OUTPUT_URI]: l.outputUri,
    [StepEnv.RESULT_PATH]: resultPath,
    [StepEnv.SEED]: String(l.seed),
  };
}

const jsonObject = z.record(z.string(), z.unknown());

export const ResultManifest = z.object({
  status: z.enum(['success', 'failure']),
  metadata: jsonObject.default({}),
  /** The step may name its own data version; otherwise the orchestrator hashes the output. */
  dataVersion: z.string().optional(),
  checks: z.array(z.object({ name: z.string(), passed: z.boolean(), severity: z.enum(['ERROR', 'WARN']).default('ERROR'), metadata: jsonObject.default({}) })).default([]),
  error: z.object({ errorId: z.string().optional(), message: z.string() }).optional(),
});
export type ResultManifest = z.infer<typeof ResultManifest>;

export function parseManifest(text: string): ResultManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new OrreryError(ErrorIds.STEP_PROTOCOL, `The step's result manifest is not JSON (starts with ${JSON.stringify(text.slice(0, 60))}); write one JSON object to $${StepEnv.RESULT_PATH}.`, {});
  }
  const parsed = ResultManifest.safeParse(raw);
  if (!parsed.success) {
    throw new OrreryError(ErrorIds.STEP_PROTOCOL, `The step's result manifest is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}.`, {});
  }
  return parsed.data;
}

/** A line a step printed: a protocol message (`{"orrery":"log"|"progress",...}`) or plain text. */
export type StepLine =
  | { kind: 'log'; level: string; message: string; fields: Record<string, unknown> }
  | { kind: 'progress'; done: number; total: number; message?: string }
  | { kind: 'text'; text: string };

export function parseStepLine(line: string): StepLine {
  if (line.startsWith('{')) {
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (o.orrery === 'progress' && typeof o.done === 'number' && typeof o.total === 'number') {
        return { kind: 'progress', done: o.done, total: o.total, message: typeof o.message === 'string' ? o.message : undefined };
      }
      if (o.orrery === 'log') {
        const { orrery: _, level, message, ...fields } = o;
        return { kind: 'log', level: typeof level === 'string' ? level : 'info', message: String(message ?? ''), fields };
      }
    } catch {
      // not JSON after all: plain text
    }
  }
  return { kind: 'text', text: line };
}

/** Runs a step in its own process and returns its manifest. Embedded: a subprocess; cluster: a Job. */
export interface StepLauncher {
  launch(step: StepLaunch, hooks: { signal: AbortSignal; onLine(line: StepLine): void }): Promise<ResultManifest>;
}
