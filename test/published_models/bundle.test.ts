/**
 * Signed published-model bundles: a valid bundle round-trips through the object store; unsigned,
 * tampered (file, manifest, signature, missing file, extra file) and wrongly-keyed bundles are
 * refused at publish and at load with their error ids. Keys: env references and the embedded pair.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemObjectStore } from '../../adapters/object-store/filesystem.ts';
import { SecretResolver } from '../../adapters/providers/secrets.ts';
import { OrreryError } from '../../core/errors.ts';
import {
  MANIFEST_OBJECT, MODEL_BUNDLE_FILES, PublishErrorIds, SIGNATURE_OBJECT, bundleKey, createBundle, embeddedKeyPair, generateSigningKeyPem,
  keyIdOf, keyPairFromPrivate, loadBundle, modelBundleFiles, parsePrivateKey, publishBundle, readModelBundle, resolveSigningKeys, resolveVerifyKey,
  signBundle, verifyBundle, type Bundle, type SigningKeyPair,
} from '../../assets/published_models/engine/index.ts';

const ids = PublishErrorIds;

async function refusal(p: Promise<unknown> | (() => unknown)): Promise<OrreryError> {
  let error: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    error = e;
  }
  expect(error, 'expected a refusal').toBeInstanceOf(OrreryError);
  return error as OrreryError;
}

const newPair = (): SigningKeyPair => keyPairFromPrivate(generateKeyPairSync('ed25519').privateKey);
const onnxBytes = (seed: number) => Uint8Array.from({ length: 512 }, (_, k) => (k * 31 + seed) & 0xff);

function sampleBundle(version = 'metals-1h-20250101'): Bundle {
  return createBundle({
    version,
    group: 'metals',
    timeframe: '1h',
    createdAt: new Date('2025-01-01T00:00:00Z'),
    metadata: { run_id: 'run-1', code_hash: 'sha256:abc' },
    files: modelBundleFiles({
      onnx: { ai1: onnxBytes(1), ai2: onnxBytes(2) },
      calibration: { ai1: { x: [0, 1], y: [0.1, 0.9] }, ai2: { x: [0, 1], y: [0.2, 0.8] } },
      featureSchema: { version: 1, features: ['z', 'delta_z', 'slope_z'] },
      theta: { theta1: 0.7, theta2: 0.3 },
      normalisation: { z: { median: 0.01, mad: 1.2, clip: 5 } },
    }),
  });
}

let dir: string;
let store: FilesystemObjectStore;
let keys: SigningKeyPair;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orrery-bundle-'));
  store = new FilesystemObjectStore(join(dir, 'objects'));
  keys = newPair();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bundle in memory', () => {
  it('a signed bundle verifies and its parts read back', () => {
    const signed = signBundle(sampleBundle(), keys.privateKey);
    const v = verifyBundle(signed, keys.publicKey, { version: 'metals-1h-20250101', group: 'metals', timeframe: '1h' });
    expect(v.keyId).toBe(keys.keyId);
    expect(v.manifest.files.map((f) => f.name)).toEqual(['ai1.onnx', 'ai2.onnx', 'calibration.json', 'feature_schema.json', 'normalisation.json', 'theta.json']);
    const parts = readModelBundle(v);
    expect(parts.theta).toEqual({ theta1: 0.7, theta2: 0.3 });
    expect(parts.onnx.ai2).toEqual(onnxBytes(2));
    expect(parts.normalisation).toEqual({ z: { median: 0.01, mad: 1.2, clip: 5 } });
  });

  it('refuses an unsigned bundle', async () => {
    expect((await refusal(() => verifyBundle(sampleBundle(), keys.publicKey))).errorId).toBe(ids.BUNDLE_UNSIGNED);
  });

  it('refuses a bundle signed with another key', async () => {
    const other = newPair();
    const e = await refusal(() => verifyBundle(signBundle(sampleBundle(), other.privateKey), keys.publicKey));
    expect(e.errorId).toBe(ids.BUNDLE_WRONG_KEY);
    expect(e.details).toMatchObject({ keyId: other.keyId, trustedKeyId: keys.keyId });
  });

  it('refuses each kind of tampering', async () => {
    const signed = signBundle(sampleBundle(), keys.privateKey);
    const files = () => new Map(signed.files);

    const changed = files();
    const bytes = Uint8Array.from(changed.get('ai1.onnx')!);
    bytes[10] ^= 1;
    changed.set('ai1.onnx', bytes);
    expect((await refusal(() => verifyBundle({ ...signed, files: changed }, keys.publicKey))).errorId).toBe(ids.BUNDLE_CHECKSUM);

    const missing = files();
    missing.delete('theta.json');
    expect((await refusal(() => verifyBundle({ ...signed, files: missing }, keys.publicKey))).errorId).toBe(ids.BUNDLE_MISSING_FILE);

    const extra = files();
    extra.set('backdoor.onnx', onnxBytes(9));
    expect((await refusal(() => verifyBundle({ ...signed, files: extra }, keys.publicKey))).errorId).toBe(ids.BUNDLE_EXTRA_FILE);

    // The manifest changed to match a changed file: the signature no longer verifies.
    const text = new TextDecoder().decode(signed.manifestBytes).replace('"theta.json"', '"theta.jsoN"');
    const manifestBytes = new TextEncoder().encode(text);
    expect((await refusal(() => verifyBundle({ ...signed, manifestBytes }, keys.publicKey))).errorId).toBe(ids.BUNDLE_BAD_SIGNATURE);

    // A forged signature value under the trusted key id.
    const forged = { ...signed.signature!, signature: Buffer.alloc(64, 7).toString('base64') };
    expect((await refusal(() => verifyBundle({ ...signed, signature: forged }, keys.publicKey))).errorId).toBe(ids.BUNDLE_BAD_SIGNATURE);

    // A valid bundle of another version presented as this one.
    expect((await refusal(() => verifyBundle(signed, keys.publicKey, { version: 'metals-1h-other' }))).errorId).toBe(ids.BUNDLE_MISMATCH);
  });

  it('refuses bad file names and an empty bundle', async () => {
    expect((await refusal(() => createBundle({ version: 'v1', group: 'g', timeframe: '1h', files: { '../x': 'a' } }))).errorId).toBe(ids.BUNDLE_INVALID);
    expect((await refusal(() => createBundle({ version: 'v1', group: 'g', timeframe: '1h', files: {} }))).errorId).toBe(ids.BUNDLE_INVALID);
    expect((await refusal(() => createBundle({ version: '../v1', group: 'g', timeframe: '1h', files: { a: 'a' } }))).errorId).toBe(ids.BUNDLE_INVALID);
  });
});

describe('bundle in the object store', () => {
  it('round-trips a valid bundle, and publishing it again is a no-op', async () => {
    const signed = signBundle(sampleBundle('rt-1'), keys.privateKey);
    const pub = await publishBundle(store, signed, keys.publicKey);
    expect(pub.key).toBe('published_models/metals/1h/rt-1');
    expect(pub.alreadyPublished).toBe(false);
    const loaded = await loadBundle(store, pub.key, keys.publicKey, { version: 'rt-1', group: 'metals', timeframe: '1h' });
    expect(Buffer.from(loaded.manifestBytes).equals(Buffer.from(signed.manifestBytes))).toBe(true);
    expect([...loaded.files.keys()].sort()).toEqual([...signed.files.keys()].sort());
    for (const [name, bytes] of signed.files) expect(Buffer.from(loaded.files.get(name)!).equals(Buffer.from(bytes))).toBe(true);
    expect((await publishBundle(store, signed, keys.publicKey)).alreadyPublished).toBe(true);
    // Another bundle under the same version is never written over it.
    const other = signBundle(createBundle({ version: 'rt-1', group: 'metals', timeframe: '1h', files: { 'ai1.onnx': onnxBytes(5) } }), keys.privateKey);
    expect((await refusal(publishBundle(store, other, keys.publicKey))).errorId).toBe(ids.BUNDLE_EXISTS);
  });

  it('refuses to publish an unsigned, wrongly-keyed or tampered bundle, and writes nothing', async () => {
    const unsigned = sampleBundle('pub-refused');
    expect((await refusal(publishBundle(store, unsigned, keys.publicKey))).errorId).toBe(ids.BUNDLE_UNSIGNED);
    expect((await refusal(publishBundle(store, signBundle(unsigned, newPair().privateKey), keys.publicKey))).errorId).toBe(ids.BUNDLE_WRONG_KEY);
    const signed = signBundle(unsigned, keys.privateKey);
    const changed = new Map(signed.files);
    changed.set('theta.json', new TextEncoder().encode('{"theta1":0.99,"theta2":0.01}\n'));
    expect((await refusal(publishBundle(store, { ...signed, files: changed }, keys.publicKey))).errorId).toBe(ids.BUNDLE_CHECKSUM);
    expect(await store.exists(`${bundleKey(signed.manifest)}/${MANIFEST_OBJECT}`)).toBe(false);
  });

  describe('refuses a stored bundle tampered with after publishing', () => {
    let n = 0;
    const published = async () => {
      const signed = signBundle(sampleBundle(`tamper-${++n}`), keys.privateKey);
      return (await publishBundle(store, signed, keys.publicKey)).key;
    };

    it('a changed file', async () => {
      const key = await published();
      await store.put(`${key}/files/ai2.onnx`, onnxBytes(3));
      expect((await refusal(loadBundle(store, key, keys.publicKey))).errorId).toBe(ids.BUNDLE_CHECKSUM);
    });

    it('a changed manifest', async () => {
      const key = await published();
      const text = new TextDecoder().decode(await store.get(`${key}/${MANIFEST_OBJECT}`));
      await store.put(`${key}/${MANIFEST_OBJECT}`, text.replace('"run-1"', '"run-2"'));
      expect((await refusal(loadBundle(store, key, keys.publicKey))).errorId).toBe(ids.BUNDLE_BAD_SIGNATURE);
    });

    it('a manifest that is no longer JSON', async () => {
      const key = await published();
      await store.put(`${key}/${MANIFEST_OBJECT}`, 'garbage');
      expect((await refusal(loadBundle(store, key, keys.publicKey))).errorId).toBe(ids.BUNDLE_BAD_SIGNATURE);
    });

    it('a missing file', async () => {
      const key = await published();
      await store.delete(`${key}/files/calibration.json`);
      expect((await refusal(loadBundle(store, key, keys.publicKey))).errorId).toBe(ids.BUNDLE_MISSING_FILE);
    });

    it('an extra file, inside or outside files/', async () => {
      const key = await published();
      await store.put(`${key}/files/extra.onnx`, onnxBytes(4));
      expect((await refusal(loadBundle(store, key, keys.publicKey))).errorId).toBe(ids.BUNDLE_EXTRA_FILE);
      const key2 = await published();
      await store.put(`${key2}/README`, 'hello');
      expect((await refusal(loadBundle(store, key2, keys.publicKey))).errorId).toBe(ids.BUNDLE_EXTRA_FILE);
    });

    it('a removed signature (unsigned), a re-signature by another key, a damaged signature document', async () => {
      const key = await published();
      await store.delete(`${key}/${SIGNATURE_OBJECT}`);
      expect((await refusal(loadBundle(store, key, keys.publicKey))).errorId).toBe(ids.BUNDLE_UNSIGNED);

      const key2 = await published();
      const other = newPair();
      const resigned = signBundle(createBundle({
        version: `tamper-${n}`, group: 'metals', timeframe: '1h', createdAt: new Date('2025-01-01T00:00:00Z'), metadata: { run_id: 'run-1', code_hash: 'sha256:abc' },
        files: Object.fromEntries(sampleBundle().files),
      }), other.privateKey);
      await store.put(`${key2}/${SIGNATURE_OBJECT}`, JSON.stringify({ algorithm: 'ed25519', key_id: resigned.signature!.keyId, signature: resigned.signature!.signature }));
      expect((await refusal(loadBundle(store, key2, keys.publicKey))).errorId).toBe(ids.BUNDLE_WRONG_KEY);

      const key3 = await published();
      await store.put(`${key3}/${SIGNATURE_OBJECT}`, '{"algorithm":"ed25519"}');
      expect((await refusal(loadBundle(store, key3, keys.publicKey))).errorId).toBe(ids.BUNDLE_BAD_SIGNATURE);
    });

    it('a bundle of another version copied under this one', async () => {
      const key = await published();
      const target = 'published_models/metals/1h/victim';
      for await (const k of store.list(`${key}/`)) await store.put(`${target}/${k.slice(key.length + 1)}`, await store.get(k));
      expect((await refusal(loadBundle(store, target, keys.publicKey, { version: 'victim' }))).errorId).toBe(ids.BUNDLE_MISMATCH);
    });

    it('nothing stored', async () => {
      expect((await refusal(loadBundle(store, 'published_models/metals/1h/nothing', keys.publicKey))).errorId).toBe(ids.BUNDLE_NOT_FOUND);
    });
  });

  it('replaces what a publish cut short left (files without a signature)', async () => {
    const signed = signBundle(sampleBundle('cut-short'), keys.privateKey);
    const key = bundleKey(signed.manifest);
    await store.put(`${key}/files/ai1.onnx`, onnxBytes(7));
    await store.put(`${key}/files/leftover.bin`, 'x');
    expect((await refusal(loadBundle(store, key, keys.publicKey))).errorId).toBe(ids.BUNDLE_UNSIGNED);
    expect((await publishBundle(store, signed, keys.publicKey)).alreadyPublished).toBe(false);
    await loadBundle(store, key, keys.publicKey);
  });
});

describe('keys', () => {
  it('generates the embedded pair once, 0600, and reuses it', async () => {
    const home = join(dir, 'home');
    await expect(embeddedKeyPair(home)).rejects.toMatchObject({ errorId: ids.KEY_UNRESOLVED });
    const [a, b] = await Promise.all([embeddedKeyPair(home, { generate: true }), embeddedKeyPair(home, { generate: true })]);
    expect(a.keyId).toBe(b.keyId);
    const again = await embeddedKeyPair(home, { generate: true });
    expect(again.keyId).toBe(a.keyId);
    const mode = (await stat(join(home, 'keys', 'model-signing.key'))).mode & 0o777;
    expect(mode).toBe(0o600);
    expect(createPrivateKey(await readFile(join(home, 'keys', 'model-signing.key'), 'utf8')).asymmetricKeyType).toBe('ed25519');
    // Verification needs only the public half.
    const verify = await resolveVerifyKey({ resolveSecret: async () => '', home, env: {} });
    expect(keyIdOf(verify)).toBe(a.keyId);
    // A key file others may read is refused.
    await chmod(join(home, 'keys', 'model-signing.key'), 0o644);
    await expect(embeddedKeyPair(home)).rejects.toMatchObject({ errorId: ids.KEY_INVALID });
    await chmod(join(home, 'keys', 'model-signing.key'), 0o600);
  });

  it('reads PEM keys through ENV: references (PKCS#8 private, SPKI public, literal \\n allowed)', async () => {
    const pem = generateSigningKeyPem();
    const env = {
      ORRERY_MODEL_SIGNING_KEY_REF: 'ENV:MODEL_SIGNING_KEY',
      ORRERY_MODEL_VERIFY_KEY_REF: 'ENV:MODEL_VERIFY_KEY',
      MODEL_SIGNING_KEY: pem.privateKeyPem.trim().replaceAll('\n', '\\n'),
      MODEL_VERIFY_KEY: pem.publicKeyPem,
    };
    const resolver = new SecretResolver({ env });
    const o = { env, resolveSecret: (ref: string) => resolver.resolve(ref) };
    const signing = await resolveSigningKeys(o);
    const verify: KeyObject = await resolveVerifyKey(o);
    expect(keyIdOf(verify)).toBe(signing.keyId);
    const signed = signBundle(sampleBundle(), signing.privateKey);
    expect(verifyBundle(signed, verify).keyId).toBe(signing.keyId);

    // Mismatched pair, unset variable, not a key, not Ed25519.
    const other = generateSigningKeyPem();
    const mismatched = { ...env, MODEL_VERIFY_KEY: other.publicKeyPem };
    await expect(resolveSigningKeys({ env: mismatched, resolveSecret: (ref) => new SecretResolver({ env: mismatched }).resolve(ref) })).rejects.toMatchObject({ errorId: ids.KEY_INVALID });
    await expect(resolveVerifyKey({ env: { ORRERY_MODEL_VERIFY_KEY_REF: 'ENV:NOPE' }, resolveSecret: (ref) => new SecretResolver({ env: {} }).resolve(ref) })).rejects.toMatchObject({ errorId: 'DATA_SECRET_UNRESOLVED' });
    expect((await refusal(() => parsePrivateKey('not a key'))).errorId).toBe(ids.KEY_INVALID);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect((await refusal(() => parsePrivateKey(rsa))).errorId).toBe(ids.KEY_INVALID);
    await expect(resolveVerifyKey({ env: {}, resolveSecret: async () => '' })).rejects.toMatchObject({ errorId: ids.KEY_UNRESOLVED });
  });

  it('the theta file is validated', async () => {
    const e = await refusal(() => modelBundleFiles({ onnx: { ai1: onnxBytes(1) }, calibration: {}, featureSchema: {}, theta: { theta1: 1.5, theta2: 0.2 }, normalisation: {} }));
    expect(e.errorId).toBe(ids.REGISTRY_INVALID);
    expect(MODEL_BUNDLE_FILES.theta).toBe('theta.json');
  });
});
