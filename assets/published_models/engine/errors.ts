/**
 * Error ids of published models (`{DOMAIN}_{CATEGORY}_{CODE}`): bundles, signing keys, the adoption
 * gate and the model registry. Every refusal says what is wrong and what to do about it.
 */
import { OrreryError } from '../../../core/errors.ts';

export const PublishErrorIds = {
  /** The bundle (or the object-store prefix) carries no signature. */
  BUNDLE_UNSIGNED: 'ML_BUNDLE_UNSIGNED',
  /** The signature does not verify with the trusted key: the manifest was changed or re-signed. */
  BUNDLE_BAD_SIGNATURE: 'ML_BUNDLE_BADSIG',
  /** Signed by another key than the trusted one. */
  BUNDLE_WRONG_KEY: 'ML_BUNDLE_WRONGKEY',
  /** A file's bytes differ from the manifest's checksum or size. */
  BUNDLE_CHECKSUM: 'ML_BUNDLE_CHECKSUM',
  /** A file named in the manifest is absent. */
  BUNDLE_MISSING_FILE: 'ML_BUNDLE_MISSING',
  /** A file the manifest does not name is present. */
  BUNDLE_EXTRA_FILE: 'ML_BUNDLE_EXTRA',
  /** The signed manifest is for another version/group/timeframe than the one asked for. */
  BUNDLE_MISMATCH: 'ML_BUNDLE_MISMATCH',
  /** A malformed manifest, signature document, file name or bundle input. */
  BUNDLE_INVALID: 'ML_BUNDLE_INVALID',
  /** Nothing is stored under the bundle's location. */
  BUNDLE_NOT_FOUND: 'ML_BUNDLE_NOTFOUND',
  /** Another bundle is already published under this version. */
  BUNDLE_EXISTS: 'ML_BUNDLE_EXISTS',
  /** No signing/verification key could be found (no reference set, no embedded key pair). */
  KEY_UNRESOLVED: 'ML_KEY_UNRESOLVED',
  /** A key that is not an Ed25519 PEM key, or a key file readable by others. */
  KEY_INVALID: 'ML_KEY_INVALID',
  /** KPIs the adoption gate cannot judge (negative drawdown, rate outside [0, 1]). */
  GATE_INVALID: 'ML_GATE_INVALID',
  /** A promotion to production whose adoption gate did not pass. */
  GATE_REJECTED: 'ML_GATE_REJECTED',
  REGISTRY_NOT_FOUND: 'ML_REGISTRY_NOTFOUND',
  /** The version exists with other contents, or a concurrent promotion won. */
  REGISTRY_CONFLICT: 'ML_REGISTRY_CONFLICT',
  /** Rollback with no production version, or none before it. */
  REGISTRY_NO_ROLLBACK: 'ML_REGISTRY_NOROLLBACK',
  REGISTRY_INVALID: 'ML_REGISTRY_INVALID',
} as const;

export type PublishErrorId = (typeof PublishErrorIds)[keyof typeof PublishErrorIds];

export function publishError(id: PublishErrorId, message: string, details: Record<string, unknown> = {}, cause?: unknown): OrreryError {
  return new OrreryError(id, message, details, cause === undefined ? undefined : { cause });
}
