/**
 * Published-model bundles: a set of named files (ONNX models, calibration, feature schema, θ,
 * normalisation parameters) and a manifest with each file's SHA-256 and size, the manifest signed
 * with Ed25519. Only a bundle whose signature verifies with the trusted key and whose files are
 * exactly the manifest's, byte for byte, is published or loaded; anything else is refused with an
 * error id (`errors.ts`):
 *
 *   no signature                      ML_BUNDLE_UNSIGNED
 *   signed by another key             ML_BUNDLE_WRONGKEY
 *   manifest (or signature) changed   ML_BUNDLE_BADSIG
 *   a file changed                    ML_BUNDLE_CHECKSUM
 *   a file missing                    ML_BUNDLE_MISSING
 *   a file the manifest does not name ML_BUNDLE_EXTRA
 *   another version's bundle          ML_BUNDLE_MISMATCH
 *
 * In the object store a bundle is a prefix (`published_models/GROUP/TIMEFRAME/VERSION`, see
 * `bundleKey`) holding `files/NAME`, `manifest.json` and `signature.json`. Each object is written
 * atomically by the store, and the signature is written last: it is the bundle's commit mark, so a
 * publish cut short leaves an unsigned prefix that loads refuse and the next publish replaces.
 *
 * Pure apart from hashing and signing; storage goes through the `ObjectStore` port.
 */
import { createHash, type KeyObject } from 'node:crypto';
import type { JsonObject, JsonValue } from '../../../core/event-log/port.ts';
import type { ObjectStore } from '../../../core/ports.ts';
import { canonicalJson } from '../../features/engine/schema.ts';
import { PublishErrorIds, publishError } from './errors.ts';
import { NAME_PATTERN, validateTheta, type Theta } from './registry.ts';
import { keyIdOf, signBytes, verifyBytes, type BundleSignature } from './signing.ts';

export const BUNDLE_FORMAT = 'orrery.model-bundle/v1';
export const MANIFEST_OBJECT = 'manifest.json';
export const SIGNATURE_OBJECT = 'signature.json';
export const FILES_FOLDER = 'files';
/** Object-store prefix of all published bundles. */
export const BUNDLES_PREFIX = 'published_models';

/** File names are flat: letters, digits, `_ . -`, starting with a letter or digit. */
export const FILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export interface BundleFileEntry {
  name: string;
  /** Lower-case hex SHA-256 of the file's bytes. */
  sha256: string;
  size: number;
}

export interface BundleIdentity {
  version: string;
  group: string;
  timeframe: string;
}

export interface BundleManifest extends BundleIdentity {
  format: typeof BUNDLE_FORMAT;
  /** ISO-8601 UTC. */
  createdAt: string;
  /** Sorted by name. */
  files: BundleFileEntry[];
  /** Free provenance: run id, data/code hashes, metrics… */
  metadata: JsonObject;
}

export interface Bundle {
  /** The exact bytes that are signed; verification always re-reads the manifest from them. */
  manifestBytes: Uint8Array;
  /** The manifest parsed from `manifestBytes` when the bundle was built or read (informational). */
  manifest: BundleManifest;
  signature: BundleSignature | null;
  files: ReadonlyMap<string, Uint8Array>;
}

/** A bundle whose signature and files were checked against the trusted key. */
export interface VerifiedBundle extends Bundle {
  signature: BundleSignature;
  keyId: string;
}

export interface NewBundle extends BundleIdentity {
  files: Record<string, Uint8Array | string> | ReadonlyMap<string, Uint8Array | string>;
  metadata?: JsonObject;
  createdAt?: Date;
}

const encoder = new TextEncoder();
const bytesOf = (v: Uint8Array | string): Uint8Array => (typeof v === 'string' ? encoder.encode(v) : v);
export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function invalid(message: string, details: Record<string, unknown> = {}, cause?: unknown): never {
  throw publishError(PublishErrorIds.BUNDLE_INVALID, message, details, cause);
}

function requireIdentity(id: BundleIdentity): void {
  for (const field of ['version', 'group', 'timeframe'] as const) {
    const v = id[field];
    if (typeof v !== 'string' || !NAME_PATTERN.test(v)) invalid(`The bundle's ${field} ${JSON.stringify(v)} is not a valid name (letters, digits, '_', '.', '-').`, { [field]: v ?? null });
  }
}

function requireFileName(name: string): void {
  if (!FILE_NAME_PATTERN.test(name)) invalid(`Bundle file name ${JSON.stringify(name)} is not allowed: use a flat name of letters, digits, '_', '.', '-'.`, { name });
}

/** The manifest document, keys in a fixed order (snake_case on disk). */
function manifestText(m: BundleManifest): string {
  const doc = {
    format: m.format,
    version: m.version,
    group: m.group,
    timeframe: m.timeframe,
    created_at: m.createdAt,
    files: m.files.map((f) => ({ name: f.name, sha256: f.sha256, size: f.size })),
    metadata: m.metadata,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Parses and validates manifest bytes; `ML_BUNDLE_INVALID` when malformed. */
export function parseManifest(bytes: Uint8Array): BundleManifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as Record<string, unknown>;
  } catch (e) {
    invalid('The bundle manifest is not JSON text.', {}, e);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) invalid('The bundle manifest is not a JSON object.');
  if (doc.format !== BUNDLE_FORMAT) invalid(`The bundle manifest's format is ${JSON.stringify(doc.format)}; this version reads ${BUNDLE_FORMAT}.`, { format: (doc.format ?? null) as never });
  const id = { version: doc.version, group: doc.group, timeframe: doc.timeframe } as BundleIdentity;
  requireIdentity(id);
  if (typeof doc.created_at !== 'string' || Number.isNaN(Date.parse(doc.created_at))) invalid('The bundle manifest has no valid created_at.');
  if (!Array.isArray(doc.files)) invalid('The bundle manifest has no files list.');
  const seen = new Set<string>();
  const files = (doc.files as unknown[]).map((f) => {
    const e = f as Partial<BundleFileEntry> | null;
    if (e === null || typeof e !== 'object' || typeof e.name !== 'string') invalid('A file entry of the bundle manifest has no name.');
    requireFileName(e.name);
    if (seen.has(e.name)) invalid(`The bundle manifest names ${e.name} twice.`, { name: e.name });
    seen.add(e.name);
    if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) invalid(`The bundle manifest's checksum of ${e.name} is not a SHA-256 hex digest.`, { name: e.name });
    if (typeof e.size !== 'number' || !Number.isSafeInteger(e.size) || e.size < 0) invalid(`The bundle manifest's size of ${e.name} is not a byte count.`, { name: e.name });
    return { name: e.name, sha256: e.sha256, size: e.size };
  });
  const metadata = doc.metadata ?? {};
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) invalid("The bundle manifest's metadata is not an object.");
  return { format: BUNDLE_FORMAT, ...id, createdAt: doc.created_at, files, metadata: metadata as JsonObject };
}

function parseSignature(bytes: Uint8Array): BundleSignature {
  let doc: Partial<BundleSignature> & { key_id?: unknown };
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw publishError(PublishErrorIds.BUNDLE_BAD_SIGNATURE, 'The bundle signature document is not JSON: the bundle was damaged or tampered with. Publish it again.', {}, e);
  }
  if (doc === null || typeof doc !== 'object' || typeof doc.algorithm !== 'string' || typeof doc.key_id !== 'string' || typeof doc.signature !== 'string') {
    throw publishError(PublishErrorIds.BUNDLE_BAD_SIGNATURE, 'The bundle signature document is malformed (algorithm, key_id, signature): the bundle was damaged or tampered with. Publish it again.');
  }
  return { algorithm: doc.algorithm as BundleSignature['algorithm'], keyId: doc.key_id, signature: doc.signature };
}

function signatureText(s: BundleSignature): string {
  return `${JSON.stringify({ algorithm: s.algorithm, key_id: s.keyId, signature: s.signature }, null, 2)}\n`;
}

/** An unsigned bundle of `files`, with their checksums in a fresh manifest. */
export function createBundle(input: NewBundle): Bundle {
  requireIdentity(input);
  const entries = input.files instanceof Map ? [...input.files.entries()] : Object.entries(input.files);
  if (entries.length === 0) invalid('A bundle needs at least one file.');
  const files = new Map<string, Uint8Array>();
  for (const [name, value] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    requireFileName(name);
    if (typeof value !== 'string' && !(value instanceof Uint8Array)) invalid(`Bundle file ${name} must be bytes or text.`, { name });
    files.set(name, bytesOf(value));
  }
  const createdAt = input.createdAt ?? new Date();
  if (Number.isNaN(createdAt.getTime())) invalid('The bundle createdAt is not a valid date.');
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    version: input.version,
    group: input.group,
    timeframe: input.timeframe,
    createdAt: createdAt.toISOString(),
    files: [...files].map(([name, bytes]) => ({ name, sha256: sha256Hex(bytes), size: bytes.byteLength })),
    metadata: input.metadata ?? {},
  };
  const manifestBytes = encoder.encode(manifestText(manifest));
  return { manifestBytes, manifest: parseManifest(manifestBytes), signature: null, files };
}

/** The bundle signed with `privateKey` (PKCS#8 Ed25519). */
export function signBundle(bundle: Bundle, privateKey: KeyObject): Bundle {
  return { ...bundle, signature: signBytes(bundle.manifestBytes, privateKey) };
}

function unsigned(where: string): never {
  throw publishError(PublishErrorIds.BUNDLE_UNSIGNED, `${where} is not signed: unsigned model bundles are refused. Sign it with the publishing key (signBundle) and publish it again.`, { where });
}

/**
 * Checks the signature with the trusted `publicKey`, then that the files are exactly the manifest's
 * (none missing, none extra, each with its SHA-256 and size), and, with `expect`, that the manifest
 * is for that version/group/timeframe. Returns the bundle with the manifest read from its signed bytes.
 */
export function verifyBundle(bundle: Bundle, publicKey: KeyObject, expect?: Partial<BundleIdentity>, where = 'The bundle'): VerifiedBundle {
  if (!bundle.signature) unsigned(where);
  verifyBytes(bundle.manifestBytes, bundle.signature, publicKey, where.charAt(0).toLowerCase() + where.slice(1));
  const manifest = parseManifest(bundle.manifestBytes);
  for (const field of ['version', 'group', 'timeframe'] as const) {
    const want = expect?.[field];
    if (want !== undefined && manifest[field] !== want) {
      throw publishError(PublishErrorIds.BUNDLE_MISMATCH, `${where} is signed for ${field} ${manifest[field]}, not ${want}: it is another model's bundle. Publish the right bundle for ${want}.`, { field, expected: want, actual: manifest[field] });
    }
  }
  const named = new Set(manifest.files.map((f) => f.name));
  const missing = manifest.files.filter((f) => !bundle.files.has(f.name)).map((f) => f.name);
  if (missing.length) {
    throw publishError(PublishErrorIds.BUNDLE_MISSING_FILE, `${where} lacks ${missing.join(', ')}, named in its signed manifest. Publish it again.`, { missing });
  }
  const extra = [...bundle.files.keys()].filter((n) => !named.has(n));
  if (extra.length) {
    throw publishError(PublishErrorIds.BUNDLE_EXTRA_FILE, `${where} holds ${extra.join(', ')}, which its signed manifest does not name. Remove it or publish a bundle that includes it.`, { extra });
  }
  for (const f of manifest.files) {
    const bytes = bundle.files.get(f.name)!;
    const actual = sha256Hex(bytes);
    if (actual !== f.sha256 || bytes.byteLength !== f.size) {
      throw publishError(PublishErrorIds.BUNDLE_CHECKSUM, `${where}: ${f.name} does not match its signed checksum (sha256 ${actual.slice(0, 12)}…, ${bytes.byteLength} bytes; expected ${f.sha256.slice(0, 12)}…, ${f.size} bytes). It was changed or damaged; publish it again.`, { name: f.name, expected: f.sha256, actual });
    }
  }
  return { manifestBytes: bundle.manifestBytes, manifest, signature: bundle.signature, files: bundle.files, keyId: keyIdOf(publicKey) };
}

/** The object-store prefix of a bundle. */
export function bundleKey(id: BundleIdentity): string {
  requireIdentity(id);
  return `${BUNDLES_PREFIX}/${id.group}/${id.timeframe}/${id.version}`;
}

/** The objects under a prefix (`key/…`), as paths relative to it. */
async function objectsUnder(store: ObjectStore, key: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of store.list(`${key}/`)) out.push(k.slice(key.length + 1));
  return out.sort();
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

export interface PublishedBundle {
  /** The bundle's object-store key (prefix): what the registry keeps as `bundleUri`. */
  key: string;
  /** Where the store puts it (a path, a URL). */
  uri: string;
  manifest: BundleManifest;
  keyId: string;
  /** The same bundle was already there (an idempotent re-publish). */
  alreadyPublished: boolean;
}

/**
 * Verifies `bundle` against the trusted key and writes it under `key` (default `bundleKey`):
 * files, manifest, then the signature. Publishing the same bundle again is a no-op; another bundle
 * under a key that holds a signed one is refused (`ML_BUNDLE_EXISTS`); what a publish cut short
 * left (no signature) is replaced.
 */
export async function publishBundle(store: ObjectStore, bundle: Bundle, publicKey: KeyObject, options: { key?: string } = {}): Promise<PublishedBundle> {
  const verified = verifyBundle(bundle, publicKey, undefined, 'The bundle to publish');
  const key = options.key ?? bundleKey(verified.manifest);
  const existing = await objectsUnder(store, key);
  if (existing.includes(SIGNATURE_OBJECT)) {
    const stored = existing.includes(MANIFEST_OBJECT) ? await store.get(`${key}/${MANIFEST_OBJECT}`) : undefined;
    if (!stored || !sameBytes(stored, verified.manifestBytes)) {
      throw publishError(PublishErrorIds.BUNDLE_EXISTS, `Another bundle is already published under ${key}; a published version is never overwritten. Publish under a new version.`, { key });
    }
    // The same manifest: make sure what is stored is intact, then it is already published.
    await loadBundle(store, key, publicKey, verified.manifest);
    return { key, uri: store.uri(key), manifest: verified.manifest, keyId: verified.keyId, alreadyPublished: true };
  }
  for (const rel of existing) await store.delete(`${key}/${rel}`);
  for (const [name, bytes] of verified.files) await store.put(`${key}/${FILES_FOLDER}/${name}`, bytes);
  await store.put(`${key}/${MANIFEST_OBJECT}`, verified.manifestBytes);
  await store.put(`${key}/${SIGNATURE_OBJECT}`, signatureText(verified.signature));
  return { key, uri: store.uri(key), manifest: verified.manifest, keyId: verified.keyId, alreadyPublished: false };
}

interface RawBundle {
  manifestBytes: Uint8Array;
  signature: BundleSignature | null;
  files: Map<string, Uint8Array>;
  /** Objects under the key that are neither the manifest, the signature nor a file. */
  strays: string[];
}

async function readRaw(store: ObjectStore, key: string): Promise<RawBundle> {
  const objects = await objectsUnder(store, key);
  if (objects.length === 0) {
    throw publishError(PublishErrorIds.BUNDLE_NOT_FOUND, `No bundle is stored under ${key}. Check the version (orrery models list) or publish it.`, { key });
  }
  if (!objects.includes(MANIFEST_OBJECT)) {
    if (!objects.includes(SIGNATURE_OBJECT)) unsigned(`The bundle under ${key}`);
    throw publishError(PublishErrorIds.BUNDLE_MISSING_FILE, `The bundle under ${key} has no ${MANIFEST_OBJECT}: it is incomplete or damaged. Publish it again.`, { key, missing: [MANIFEST_OBJECT] });
  }
  const manifestBytes = await store.get(`${key}/${MANIFEST_OBJECT}`);
  const signature = objects.includes(SIGNATURE_OBJECT) ? parseSignature(await store.get(`${key}/${SIGNATURE_OBJECT}`)) : null;
  const files = new Map<string, Uint8Array>();
  const strays: string[] = [];
  const prefix = `${FILES_FOLDER}/`;
  for (const rel of objects) {
    if (rel === MANIFEST_OBJECT || rel === SIGNATURE_OBJECT) continue;
    const name = rel.slice(prefix.length);
    if (rel.startsWith(prefix) && FILE_NAME_PATTERN.test(name)) files.set(name, await store.get(`${key}/${rel}`));
    else strays.push(rel);
  }
  return { manifestBytes, signature, files, strays };
}

/** Reads a stored bundle as it is, without verifying it (use `loadBundle` for anything you run). */
export async function readBundle(store: ObjectStore, key: string): Promise<{ bundle: Bundle; strays: string[] }> {
  const raw = await readRaw(store, key);
  return { bundle: { manifestBytes: raw.manifestBytes, manifest: parseManifest(raw.manifestBytes), signature: raw.signature, files: raw.files }, strays: raw.strays };
}

/**
 * Loads the bundle under `key` and verifies it like `verifyBundle` (the signature before anything
 * else, so a changed manifest is reported as such); objects under the key that are neither the
 * manifest, the signature nor a file are refused too (`ML_BUNDLE_EXTRA`).
 */
export async function loadBundle(store: ObjectStore, key: string, publicKey: KeyObject, expect?: Partial<BundleIdentity>): Promise<VerifiedBundle> {
  const where = `The bundle under ${key}`;
  const raw = await readRaw(store, key);
  if (!raw.signature) unsigned(where);
  verifyBytes(raw.manifestBytes, raw.signature, publicKey, where.charAt(0).toLowerCase() + where.slice(1));
  if (raw.strays.length) {
    throw publishError(PublishErrorIds.BUNDLE_EXTRA_FILE, `${where} holds ${raw.strays.join(', ')}, which its signed manifest does not name. Remove it or publish the bundle again.`, { key, extra: raw.strays });
  }
  const bundle: Bundle = { manifestBytes: raw.manifestBytes, manifest: parseManifest(raw.manifestBytes), signature: raw.signature, files: raw.files };
  return verifyBundle(bundle, publicKey, expect, where);
}

// --- the published model's parts --------------------------------------------------------

/** File names of a published model's parts (its ONNX models are `NAME.onnx`). */
export const MODEL_BUNDLE_FILES = {
  calibration: 'calibration.json',
  featureSchema: 'feature_schema.json',
  theta: 'theta.json',
  normalisation: 'normalisation.json',
} as const;

export interface ModelBundleParts {
  /** ONNX models by name (`{ ai1, ai2 }` → `ai1.onnx`, `ai2.onnx`). */
  onnx: Record<string, Uint8Array>;
  /** Isotonic calibrators (e.g. `{ ai1: …, ai2: … }`). */
  calibration: JsonValue;
  featureSchema: JsonValue;
  theta: Theta;
  /** Normalisation parameters of the features (robust z: median, MAD, clip). */
  normalisation: JsonValue;
}

/** The files of a published model: `NAME.onnx` per model and canonical JSON for the rest. */
export function modelBundleFiles(parts: ModelBundleParts): Record<string, Uint8Array> {
  const names = Object.keys(parts.onnx);
  if (names.length === 0) invalid('A published model needs at least one ONNX model.');
  const files: Record<string, Uint8Array> = {};
  for (const name of names) {
    const file = `${name}.onnx`;
    requireFileName(file);
    if (Object.values(MODEL_BUNDLE_FILES).includes(file as never)) invalid(`ONNX model name ${name} collides with a bundle file.`, { name });
    files[file] = parts.onnx[name];
  }
  const json = (v: unknown) => encoder.encode(`${canonicalJson(v)}\n`);
  files[MODEL_BUNDLE_FILES.calibration] = json(parts.calibration);
  files[MODEL_BUNDLE_FILES.featureSchema] = json(parts.featureSchema);
  files[MODEL_BUNDLE_FILES.theta] = json(validateTheta(parts.theta));
  files[MODEL_BUNDLE_FILES.normalisation] = json(parts.normalisation);
  return files;
}

/** The parts of a verified published model; `ML_BUNDLE_INVALID` when one is missing or malformed. */
export function readModelBundle(bundle: VerifiedBundle): ModelBundleParts {
  const text = (name: string): JsonValue => {
    const bytes = bundle.files.get(name);
    if (!bytes) invalid(`The bundle has no ${name}: it is not a published model.`, { name });
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as JsonValue;
    } catch (e) {
      return invalid(`The bundle's ${name} is not JSON.`, { name }, e);
    }
  };
  const onnx: Record<string, Uint8Array> = {};
  for (const [name, bytes] of bundle.files) if (name.endsWith('.onnx')) onnx[name.slice(0, -'.onnx'.length)] = bytes;
  if (Object.keys(onnx).length === 0) invalid('The bundle holds no ONNX model.');
  return {
    onnx,
    calibration: text(MODEL_BUNDLE_FILES.calibration),
    featureSchema: text(MODEL_BUNDLE_FILES.featureSchema),
    theta: validateTheta(text(MODEL_BUNDLE_FILES.theta)),
    normalisation: text(MODEL_BUNDLE_FILES.normalisation),
  };
}
