/** Pure engine of published models: signed bundles, signing keys, the adoption gate, the registry port. */
export {
  BUNDLE_FORMAT, BUNDLES_PREFIX, FILE_NAME_PATTERN, FILES_FOLDER, MANIFEST_OBJECT, MODEL_BUNDLE_FILES, SIGNATURE_OBJECT,
  bundleKey, createBundle, loadBundle, modelBundleFiles, parseManifest, publishBundle, readBundle, readModelBundle, sha256Hex, signBundle, verifyBundle,
  type Bundle, type BundleFileEntry, type BundleIdentity, type BundleManifest, type ModelBundleParts, type NewBundle, type PublishedBundle, type VerifiedBundle,
} from './bundle.ts';
export {
  SIGNATURE_ALGORITHM, generateSigningKeyPem, keyIdOf, keyPairFromPrivate, parsePrivateKey, parsePublicKey, signBytes, verifyBytes,
  type BundleSignature, type SigningKeyPair,
} from './signing.ts';
export {
  KEYS_DIR, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, SIGNING_KEY_REF_ENV, VERIFY_KEY_REF_ENV, embeddedKeyPair, resolveSigningKeys, resolveVerifyKey,
  type KeySourceOptions,
} from './keys.ts';
export {
  KPI_METRIC_KEYS, SEED_ADOPTION, SEED_ROLLBACK, adoptionGate, kpisFromMetrics, kpisToMetrics, rollbackTriggered,
  type AdoptionCheck, type RollbackLimits, type AdoptionCriterion, type AdoptionDecision, type AdoptionInput, type AdoptionThresholds, type ConfidenceInterval, type ModelKpis,
} from './gate.ts';
export {
  MODEL_STAGES, NAME_PATTERN, isModelStage, requireName, validateTheta,
  type AuditAction, type AuditField, type AuditFilter, type AuditRecord, type ChangeOptions, type ExperimentFilter, type ExperimentRun, type ModelFilter,
  type ModelRecord, type ModelRegistry, type ModelStage, type NewExperimentRun, type PromoteOptions, type RegisterOptions, type RollbackResult, type Theta,
} from './registry.ts';
export { PublishErrorIds, publishError, type PublishErrorId } from './errors.ts';
