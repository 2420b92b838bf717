/**
 * Ed25519 signing of published-model bundles (seed 002: "署名済みモデルのみ適用可", seed 000:
 * "未署名アーティファクトは core_publish_flow で拒否"), through `node:crypto`.
 *
 * Keys are PEM: the private key PKCS#8 (`-----BEGIN PRIVATE KEY-----`), the public key SPKI
 * (`-----BEGIN PUBLIC KEY-----`). A key id — the first 16 hex digits of the SHA-256 of the public
 * key's DER — travels with each signature so that "signed by another key" can be told apart from
 * "signed by this key but changed since".
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { PublishErrorIds, publishError } from './errors.ts';

export const SIGNATURE_ALGORITHM = 'ed25519';

export interface SigningKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

/** What is stored next to a manifest (`signature.json`). */
export interface BundleSignature {
  algorithm: typeof SIGNATURE_ALGORITHM;
  /** `keyIdOf` the signing key's public half. */
  keyId: string;
  /** Base64 Ed25519 signature over the manifest's exact bytes. */
  signature: string;
}

/** A fresh Ed25519 key pair as PEM (PKCS#8 private, SPKI public). */
export function generateSigningKeyPem(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Environment variables often carry PEM with literal `\n`: restore the line breaks. */
function pemText(pem: string): string {
  const text = pem.trim();
  return text.includes('\\n') && !text.includes('\n') ? text.replaceAll('\\n', '\n') : text;
}

function requireEd25519(key: KeyObject, what: string, source: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw publishError(PublishErrorIds.KEY_INVALID, `The ${what} from ${source} is a ${key.asymmetricKeyType ?? 'non-asymmetric'} key; bundles are signed with Ed25519 (generate one with \`openssl genpkey -algorithm ed25519\`).`, { source });
  }
  return key;
}

/** Parses a PKCS#8 PEM Ed25519 private key. `source` names where it came from, for messages (never the key). */
export function parsePrivateKey(pem: string, source = 'the given PEM'): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pemText(pem), format: 'pem' });
  } catch (e) {
    throw publishError(PublishErrorIds.KEY_INVALID, `The signing key from ${source} is not a PEM private key (PKCS#8, "-----BEGIN PRIVATE KEY-----").`, { source }, e);
  }
  return requireEd25519(key, 'signing key', source);
}

/** Parses an SPKI PEM Ed25519 public key; a private key is accepted too (its public half is used). */
export function parsePublicKey(pem: string, source = 'the given PEM'): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pemText(pem), format: 'pem' });
  } catch (e) {
    throw publishError(PublishErrorIds.KEY_INVALID, `The verification key from ${source} is not a PEM public key (SPKI, "-----BEGIN PUBLIC KEY-----").`, { source }, e);
  }
  return requireEd25519(key, 'verification key', source);
}

/** The key id of a public key (or of a private key's public half). */
export function keyIdOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function keyPairFromPrivate(privateKey: KeyObject): SigningKeyPair {
  requireEd25519(privateKey, 'signing key', 'the given key');
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

export function signBytes(bytes: Uint8Array, privateKey: KeyObject): BundleSignature {
  if (privateKey.type !== 'private') throw publishError(PublishErrorIds.KEY_INVALID, 'Signing needs the private key; a public key was given.');
  requireEd25519(privateKey, 'signing key', 'the given key');
  return { algorithm: SIGNATURE_ALGORITHM, keyId: keyIdOf(privateKey), signature: sign(null, bytes, privateKey).toString('base64') };
}

/**
 * Throws unless `signature` is an Ed25519 signature of `bytes` by `publicKey`:
 * `ML_BUNDLE_WRONGKEY` when it names another key, `ML_BUNDLE_BADSIG` when it does not verify.
 */
export function verifyBytes(bytes: Uint8Array, signature: BundleSignature, publicKey: KeyObject, what = 'the bundle'): void {
  const trusted = publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey;
  requireEd25519(trusted, 'verification key', 'the given key');
  const trustedId = keyIdOf(trusted);
  if (signature.algorithm !== SIGNATURE_ALGORITHM) {
    throw publishError(PublishErrorIds.BUNDLE_BAD_SIGNATURE, `${what} is signed with "${String(signature.algorithm)}"; only Ed25519 signatures are accepted. Re-sign it.`, { algorithm: signature.algorithm });
  }
  if (signature.keyId !== trustedId) {
    throw publishError(PublishErrorIds.BUNDLE_WRONG_KEY, `${what} is signed by key ${signature.keyId}, not by the trusted key ${trustedId}. Re-sign it with the publishing key, or configure the matching verification key.`, { keyId: signature.keyId, trustedKeyId: trustedId });
  }
  let ok = false;
  try {
    ok = verify(null, bytes, trusted, Buffer.from(signature.signature, 'base64'));
  } catch {
    ok = false;
  }
  if (!ok) {
    throw publishError(PublishErrorIds.BUNDLE_BAD_SIGNATURE, `The signature of ${what} does not verify with key ${trustedId}: its manifest was changed after signing (or the signature was). Do not use it; publish it again from its source.`, { keyId: trustedId });
  }
}
