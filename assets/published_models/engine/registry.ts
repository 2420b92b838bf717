/**
 * The model registry port (seed 002 `model_registry`, `audit.config_changes`; seed 004 §13: staging
 * → production, promoted only when the gates pass). The Postgres adapter is
 * `adapters/postgres/model-registry.ts`.
 *
 * - A version is registered in `staging`; `promote` moves it to `staging`, `production` or
 *   `archived`. There is at most one `production` version per group (a pair group, e.g. `metals`) ×
 *   timeframe — the database enforces it — and promoting one to production archives the previous one
 *   in the same transaction.
 * - `rollback` restores the production version that the current one replaced.
 * - Every registration, stage change and θ change writes an audit row (who, what, before/after,
 *   when, why, request/run id) in the same transaction as the change.
 * - Experiment runs keep the params and metrics of each trial of a step (θ candidates, folds).
 */
import type { JsonObject } from '../../../core/event-log/port.ts';
import type { AdoptionDecision } from './gate.ts';
import { PublishErrorIds, publishError } from './errors.ts';

export const MODEL_STAGES = ['staging', 'production', 'archived'] as const;
export type ModelStage = (typeof MODEL_STAGES)[number];

/** The decision thresholds of a model (seed 002 θ1: entry probability of AI1, θ2: stop risk of AI2). */
export interface Theta {
  theta1: number;
  theta2: number;
}

export interface ModelRecord {
  version: string;
  /** The pair group (`metals`, `fx_majors`, …). */
  group: string;
  timeframe: string;
  stage: ModelStage;
  /** Where the signed bundle lies: its object-store key (see `bundleKey`). */
  bundleUri: string;
  metrics: JsonObject;
  theta: Theta;
  /** The production version this one replaced when it was last promoted to production. */
  previousVersion: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** When it last became production. */
  promotedAt: Date | null;
}

/** Who asked, and under which request or run (`request_id` of the audit row). */
export interface ChangeOptions {
  requestId?: string;
}

export interface RegisterOptions extends ChangeOptions {
  /** Who registers it (audit); default `system`. */
  actor?: string;
}

export interface PromoteOptions extends ChangeOptions {
  /**
   * The adoption gate's decision for this version: a promotion to production whose gate did not
   * pass is refused (`ML_GATE_REJECTED`); the decision is kept in the audit row.
   */
  gate?: AdoptionDecision;
}

export type AuditField = 'registration' | 'stage' | 'theta';
export type AuditAction = 'register' | 'promote' | 'demote' | 'rollback' | 'theta';

export interface AuditRecord {
  id: number;
  changedAt: Date;
  changedBy: string;
  /** `model` for registry changes. */
  entity: string;
  /** The model version. */
  entityId: string;
  group: string | null;
  timeframe: string | null;
  field: AuditField;
  action: AuditAction;
  before: JsonObject | null;
  after: JsonObject | null;
  reason: string | null;
  requestId: string | null;
}

export interface AuditFilter {
  version?: string;
  group?: string;
  timeframe?: string;
  field?: AuditField;
  /** Newest first; default 100. */
  limit?: number;
}

export interface NewExperimentRun {
  runId: string;
  assetKey: string;
  partitionKey: string;
  /** Trial number within the step (θ candidate, fold); default 0. A rerun overwrites its own trials. */
  trial?: number;
  group?: string | null;
  modelVersion?: string | null;
  params: JsonObject;
  metrics: JsonObject;
}

export interface ExperimentRun {
  runId: string;
  assetKey: string;
  partitionKey: string;
  trial: number;
  group: string | null;
  modelVersion: string | null;
  params: JsonObject;
  metrics: JsonObject;
  createdAt: Date;
}

export interface ExperimentFilter {
  group?: string;
  assetKey?: string;
  partitionKey?: string;
  modelVersion?: string;
  runId?: string;
  /** Newest first; default 100. */
  limit?: number;
}

export interface ModelFilter {
  group?: string;
  timeframe?: string;
  stage?: ModelStage;
  /** Newest first; default 100. */
  limit?: number;
}

export interface RollbackResult {
  /** The version that was production, now archived. */
  from: ModelRecord;
  /** The version restored to production. */
  to: ModelRecord;
}

export interface ModelRegistry {
  /** Registers a version in `staging`. Registering the same version again with the same contents is a no-op. */
  register(version: string, group: string, timeframe: string, bundleUri: string, metrics: JsonObject, theta: Theta, options?: RegisterOptions): Promise<ModelRecord>;
  /** Moves a version to `stage`; to production, archiving the current production in the same transaction. */
  promote(version: string, stage: ModelStage, actor: string, reason: string, options?: PromoteOptions): Promise<ModelRecord>;
  /** Changes a version's θ (audited). */
  setTheta(version: string, theta: Theta, actor: string, reason: string, options?: ChangeOptions): Promise<ModelRecord>;
  get(version: string): Promise<ModelRecord | undefined>;
  list(filter?: ModelFilter): Promise<ModelRecord[]>;
  /** The production version of a group × timeframe. */
  champion(group: string, timeframe: string): Promise<ModelRecord | undefined>;
  /** Every version of a group × timeframe, newest first. */
  history(group: string, timeframe: string, options?: { limit?: number }): Promise<ModelRecord[]>;
  /** Archives the production version and restores the one it replaced, in one transaction. */
  rollback(group: string, timeframe: string, actor: string, reason: string, options?: ChangeOptions): Promise<RollbackResult>;
  recordExperiment(run: NewExperimentRun): Promise<ExperimentRun>;
  experiments(filter?: ExperimentFilter): Promise<ExperimentRun[]>;
  audit(filter?: AuditFilter): Promise<AuditRecord[]>;
}

/** Version, group and timeframe names: they become object-store path segments. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function requireName(what: string, value: unknown): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw publishError(PublishErrorIds.REGISTRY_INVALID, `${what} ${JSON.stringify(value)} is not a valid name: use letters, digits, '_', '.', '-' (starting with a letter or digit, at most 128).`, { [what]: value ?? null });
  }
  return value;
}

export function isModelStage(value: unknown): value is ModelStage {
  return typeof value === 'string' && (MODEL_STAGES as readonly string[]).includes(value);
}

/** θ1 and θ2 are probabilities; anything else is refused (`ML_REGISTRY_INVALID`). */
export function validateTheta(theta: unknown): Theta {
  const t = theta as Partial<Theta> | null;
  const ok = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
  if (t === null || typeof t !== 'object' || !ok(t.theta1) || !ok(t.theta2)) {
    throw publishError(PublishErrorIds.REGISTRY_INVALID, `θ must be { theta1, theta2 } with both in [0, 1]; got ${JSON.stringify(theta)}.`, { theta: (theta ?? null) as never });
  }
  return { theta1: t.theta1!, theta2: t.theta2! };
}
