/**
 * Where bundle keys come from.
 *
 * - References, like every secret of the project (`ENV:NAME`, `VAULT:path`; see
 *   `adapters/providers/secrets.ts`), to PEM text: a signing key (PKCS#8) and/or a verification key
 *   (SPKI). The references themselves are read from `ORRERY_MODEL_SIGNING_KEY_REF` and
 *   `ORRERY_MODEL_VERIFY_KEY_REF` (or passed in); the resolver is injected, so this module never
 *   sees configuration of its own.
 * - Embedded mode, with no references: one key pair generated on first use and kept under
 *   `$ORRERY_HOME/keys/` (`model-signing.key`, PKCS#8, mode 0600; `model-signing.pub`, SPKI). Two
 *   processes generating at once agree on one pair (the private key is linked into place, never
 *   overwritten). A key file that others may read is refused, as ssh does.
 *
 * This is the one part of the engine that touches the filesystem.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PublishErrorIds, publishError } from './errors.ts';
import { generateSigningKeyPem, keyIdOf, keyPairFromPrivate, parsePrivateKey, parsePublicKey, type SigningKeyPair } from './signing.ts';

export const SIGNING_KEY_REF_ENV = 'ORRERY_MODEL_SIGNING_KEY_REF';
export const VERIFY_KEY_REF_ENV = 'ORRERY_MODEL_VERIFY_KEY_REF';
export const KEYS_DIR = 'keys';
export const PRIVATE_KEY_FILE = 'model-signing.key';
export const PUBLIC_KEY_FILE = 'model-signing.pub';

export interface KeySourceOptions {
  /** `ENV:NAME` / `VAULT:path` of the PKCS#8 PEM signing key (default: `$ORRERY_MODEL_SIGNING_KEY_REF`). */
  signingKeyRef?: string;
  /** `ENV:NAME` / `VAULT:path` of the SPKI PEM verification key (default: `$ORRERY_MODEL_VERIFY_KEY_REF`). */
  verifyKeyRef?: string;
  /** Resolves a reference to its value (e.g. `new SecretResolver().resolve`). */
  resolveSecret: (ref: string) => Promise<string>;
  /** `$ORRERY_HOME`: where the embedded key pair lives. */
  home?: string;
  /** Generate the embedded pair when it does not exist yet (embedded mode only; never in a cluster). */
  generate?: boolean;
  /** Environment to read the `*_REF` variables from (default `process.env`). */
  env?: Record<string, string | undefined>;
}

function refs(o: KeySourceOptions): { signing?: string; verify?: string } {
  const env = o.env ?? process.env;
  return { signing: o.signingKeyRef ?? (env[SIGNING_KEY_REF_ENV] || undefined), verify: o.verifyKeyRef ?? (env[VERIFY_KEY_REF_ENV] || undefined) };
}

function unresolved(what: string): never {
  throw publishError(
    PublishErrorIds.KEY_UNRESOLVED,
    `No ${what} for model bundles: set ${SIGNING_KEY_REF_ENV} (and ${VERIFY_KEY_REF_ENV}) to ENV:NAME or VAULT:path references to PEM keys, or run embedded so that a key pair is kept under $ORRERY_HOME/${KEYS_DIR}/.`,
  );
}

/** The key pair that signs bundles at publish. */
export async function resolveSigningKeys(o: KeySourceOptions): Promise<SigningKeyPair> {
  const r = refs(o);
  if (r.signing) {
    const pair = keyPairFromPrivate(parsePrivateKey(await o.resolveSecret(r.signing), r.signing));
    if (r.verify) {
      // A configured verification key that does not match the signing key would make every publish fail later.
      const trusted = parsePublicKey(await o.resolveSecret(r.verify), r.verify);
      if (keyIdOf(trusted) !== pair.keyId) {
        throw publishError(PublishErrorIds.KEY_INVALID, `${r.signing} (key ${pair.keyId}) and ${r.verify} (key ${keyIdOf(trusted)}) are not one key pair; fix one of them.`, { signingKeyRef: r.signing, verifyKeyRef: r.verify });
      }
    }
    return pair;
  }
  if (o.home === undefined) unresolved('signing key');
  return embeddedKeyPair(o.home, { generate: o.generate ?? false });
}

/** The trusted public key that every published or loaded bundle must be signed by. */
export async function resolveVerifyKey(o: KeySourceOptions): Promise<KeyObject> {
  const r = refs(o);
  if (r.verify) return parsePublicKey(await o.resolveSecret(r.verify), r.verify);
  if (r.signing) return keyPairFromPrivate(parsePrivateKey(await o.resolveSecret(r.signing), r.signing)).publicKey;
  if (o.home === undefined) unresolved('verification key');
  return (await embeddedKeyPair(o.home, { generate: o.generate ?? false })).publicKey;
}

async function readKeyFile(path: string): Promise<string | undefined> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw publishError(PublishErrorIds.KEY_INVALID, `The signing key ${path} may be read by other users (mode ${(mode & 0o777).toString(8)}); run \`chmod 600 ${path}\`.`, { path });
  }
  return readFile(path, 'utf8');
}

/**
 * The embedded key pair under `home/keys/`, generated on first use when `generate` is set.
 * Throws `ML_KEY_UNRESOLVED` when there is none and `generate` is not set.
 */
export async function embeddedKeyPair(home: string, o: { generate?: boolean } = {}): Promise<SigningKeyPair> {
  const dir = join(home, KEYS_DIR);
  const privatePath = join(dir, PRIVATE_KEY_FILE);
  let pem = await readKeyFile(privatePath);
  if (pem === undefined) {
    if (!o.generate) unresolved('signing key');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const fresh = generateSigningKeyPem();
    const tmp = join(dir, `.${PRIVATE_KEY_FILE}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
    await writeFile(tmp, fresh.privateKeyPem, { mode: 0o600, flag: 'wx' });
    try {
      await link(tmp, privatePath); // fails with EEXIST if another process won: then its key is used
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      await rm(tmp, { force: true });
    }
    pem = await readKeyFile(privatePath);
    if (pem === undefined) unresolved('signing key');
  }
  const pair = keyPairFromPrivate(parsePrivateKey(pem, privatePath));
  // The public half, for operators to hand to verifiers; rewritten when absent.
  const publicPath = join(dir, PUBLIC_KEY_FILE);
  try {
    await stat(publicPath);
  } catch {
    const tmp = join(dir, `.${PUBLIC_KEY_FILE}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
    await writeFile(tmp, pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), { mode: 0o600 });
    await rename(tmp, publicPath);
  }
  return pair;
}
