/**
 * Every error a user can see carries an id `{DOMAIN}_{CATEGORY}_{CODE}` (seed 002 naming rule)
 * and a message that says what to do about it.
 */
export const ErrorIds = {
  CONFIG_MISSING: 'CORE_CONFIG_MISSING',
  CONFIG_UNKNOWN: 'CORE_CONFIG_UNKNOWN',
  CONFIG_INVALID: 'CORE_CONFIG_INVALID',
  CONFIG_SECRET: 'CORE_CONFIG_SECRET',
  SELECT_UNKNOWN: 'CORE_SELECT_UNKNOWN',
  SELECT_SYNTAX: 'CORE_SELECT_SYNTAX',
  PARTITION_UNKNOWN: 'CORE_PART_UNKNOWN',
  PARTITION_INVALID: 'CORE_PART_INVALID',
  GRAPH_CYCLE: 'CORE_GRAPH_CYCLE',
  GRAPH_MISSING: 'CORE_GRAPH_MISSING',
  GRAPH_MAPPING: 'CORE_GRAPH_MAPPING',
  GRAPH_DUPLICATE: 'CORE_GRAPH_DUPKEY',
  RUN_NOT_FOUND: 'CORE_RUN_NOTFOUND',
  RUN_NOT_RESUMABLE: 'CORE_RUN_NORESUME',
  RUN_CANCELED: 'CORE_RUN_CANCEL',
  STEP_FAILED: 'CORE_STEP_FAILED',
  STEP_PROTOCOL: 'CORE_STEP_PROTOCOL',
  CHECK_FAILED: 'CORE_CHECK_FAILED',
  /** A partition failed data-quality thresholds (seed 002 DATA_DQ_THRESHOLD): kept, excluded downstream. */
  QUARANTINED: 'DATA_DQ_THRESHOLD',
  STORAGE_WRITE: 'CORE_STORAGE_WRITE',
  STORAGE_READ: 'CORE_STORAGE_READ',
  STORAGE_CONN: 'CORE_STORAGE_CONNFAIL',
  CLI_USAGE: 'CORE_CLI_USAGE',
} as const;

/** `{DOMAIN}_{CATEGORY}_{CODE}`; the kernel's own are in ErrorIds, other domains add theirs. */
export type ErrorId = string;

export class OrreryError extends Error {
  readonly errorId: ErrorId;
  readonly details: Record<string, unknown>;

  constructor(errorId: ErrorId, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OrreryError';
    this.errorId = errorId;
    this.details = details;
  }

  toJSON(): Record<string, unknown> {
    return { error_id: this.errorId, message: this.message, details: this.details };
  }
}

export function isOrreryError(e: unknown): e is OrreryError {
  return e instanceof OrreryError;
}

/** Wraps an unknown thrown value so logs and events always get an id and a message. */
export function describeError(e: unknown, fallbackId: ErrorId = ErrorIds.STEP_FAILED): { errorId: ErrorId; message: string; details: Record<string, unknown> } {
  if (isOrreryError(e)) return { errorId: e.errorId, message: e.message, details: e.details };
  if (e instanceof Error) return { errorId: fallbackId, message: e.message, details: { name: e.name, stack: e.stack?.split('\n').slice(0, 6).join('\n') } };
  return { errorId: fallbackId, message: String(e), details: {} };
}
