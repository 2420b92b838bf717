/**
 * Error ids of the inference server (`{DOMAIN}_{CATEGORY}_{CODE}`, seed 002 naming rule). A refused
 * request answers `{ error_id, message, details }` with the HTTP status below; a bundle that does
 * not verify keeps the publish ids (`ML_BUNDLE_*`, `assets/published_models/engine/errors.ts`).
 */
import { OrreryError } from '../core/errors.ts';

export const ServeErrorIds = {
  /** 400: the body is not JSON, or a row misses/adds a feature or carries a non-finite value. Nothing was computed. */
  INPUT_INVALID: 'SERVE_INPUT_INVALID',
  /** 413: the body or the number of rows is over the limit. */
  INPUT_TOO_LARGE: 'SERVE_INPUT_TOOLARGE',
  /** 404: no such endpoint. */
  HTTP_NOT_FOUND: 'SERVE_HTTP_NOTFOUND',
  /** 405: the endpoint exists but not with this method. */
  HTTP_METHOD: 'SERVE_HTTP_METHOD',
  /** 503: the bundle is not loaded and verified yet, or the server is draining. */
  STATE_NOT_READY: 'SERVE_STATE_NOTREADY',
  /** The published bundle verifies but its parts are not a servable model (schema, normaliser, calibration, ONNX I/O). */
  MODEL_INVALID: 'SERVE_MODEL_INVALID',
  /** The version is registered for another group than the one asked to serve. */
  MODEL_GROUP_MISMATCH: 'SERVE_MODEL_GROUPMISMATCH',
  /** 500: onnxruntime failed on valid input. */
  INFER_FAILED: 'SERVE_INFER_FAILED',
} as const;

export type ServeErrorId = (typeof ServeErrorIds)[keyof typeof ServeErrorIds];

export function serveError(id: ServeErrorId, message: string, details: Record<string, unknown> = {}, cause?: unknown): OrreryError {
  return new OrreryError(id, message, details, cause === undefined ? undefined : { cause });
}
