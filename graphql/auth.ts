/**
 * Bearer JWTs for the API (jose): HS256 with a shared secret, or EdDSA/RS256 with a public key.
 * Roles follow seed 002's RBAC: viewer (read only) < editor (launch, cancel, retry) < approver
 * (changes to production automation) < admin (everything).
 */
import { createPublicKey, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { OrreryError } from '../core/errors.ts';
import { ApiErrorIds } from './errors.ts';

export const ROLES = ['viewer', 'editor', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Viewer {
  subject: string;
  role: Role;
}

export interface AuthConfig {
  /** HS256 shared secret (`ORRERY_JWT_SECRET`). */
  secret?: string;
  /** PEM public key (`ORRERY_JWT_PUBLIC_KEY`): Ed25519 → EdDSA, RSA → RS256. */
  publicKey?: string;
  /** Required `iss` claim when set (`ORRERY_JWT_ISSUER`). */
  issuer?: string;
  /** Required `aud` claim when set (`ORRERY_JWT_AUDIENCE`). */
  audience?: string;
}

export function hasRole(actual: Role, needed: Role): boolean {
  return ROLES.indexOf(actual) >= ROLES.indexOf(needed);
}

/** The JWT settings from the environment; undefined when none is set. */
export function authConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AuthConfig | undefined {
  const secret = env.ORRERY_JWT_SECRET || undefined;
  const publicKey = env.ORRERY_JWT_PUBLIC_KEY || undefined;
  if (!secret && !publicKey) return undefined;
  return { secret, publicKey: publicKey?.replaceAll('\\n', '\n'), issuer: env.ORRERY_JWT_ISSUER || undefined, audience: env.ORRERY_JWT_AUDIENCE || undefined };
}

export type TokenVerifier = (token: string) => Promise<Viewer>;

/** Builds the verifier once (keys parsed up front, so a bad key fails at start, not per request). */
export function tokenVerifier(config: AuthConfig): TokenVerifier {
  if (!config.secret && !config.publicKey) {
    throw new OrreryError('CORE_CONFIG_MISSING', 'No JWT settings: set ORRERY_JWT_SECRET (HS256) or ORRERY_JWT_PUBLIC_KEY (PEM, Ed25519 or RSA).', {});
  }
  if (config.secret !== undefined && config.secret.length < 32) {
    throw new OrreryError('CORE_CONFIG_INVALID', 'ORRERY_JWT_SECRET is shorter than 32 characters; use a long random secret (e.g. openssl rand -hex 32).', {});
  }
  let key: KeyObject;
  let algorithms: string[];
  if (config.publicKey) {
    try {
      key = createPublicKey(config.publicKey);
    } catch (e) {
      throw new OrreryError('CORE_CONFIG_INVALID', `ORRERY_JWT_PUBLIC_KEY is not a PEM public key: ${(e as Error).message}.`, {});
    }
    const type = key.asymmetricKeyType;
    algorithms = type === 'ed25519' ? ['EdDSA'] : type === 'rsa' ? ['RS256'] : [];
    if (algorithms.length === 0) throw new OrreryError('CORE_CONFIG_INVALID', `ORRERY_JWT_PUBLIC_KEY is a ${type} key; use Ed25519 (EdDSA) or RSA (RS256).`, { type });
  } else {
    key = createSecretKey(Buffer.from(config.secret!, 'utf8'));
    algorithms = ['HS256'];
  }
  // Verified tokens until they expire (bounded): verification goes through WebCrypto, and a UI
  // sends the same token with every request.
  const verified = new Map<string, { viewer: Viewer; until: number }>();
  const verifyOnce = async (token: string): Promise<Viewer> => {
    const hit = verified.get(token);
    if (hit && hit.until > Date.now()) return hit.viewer;
    if (hit) verified.delete(token);
    const { viewer, exp } = await check(token);
    if (verified.size >= 1000) verified.delete(verified.keys().next().value!);
    verified.set(token, { viewer, until: Math.min(exp ?? Infinity, Date.now() + 300_000) });
    return viewer;
  };
  const check = async (token: string): Promise<{ viewer: Viewer; exp: number | undefined }> => {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, key, { algorithms, issuer: config.issuer, audience: config.audience, clockTolerance: 5 }));
    } catch (e) {
      const why = e instanceof joseErrors.JWTExpired ? 'the token has expired' : e instanceof joseErrors.JWTClaimValidationFailed ? `claim ${e.claim} is not accepted` : 'the token is not valid (signature, algorithm or format)';
      throw unauthenticated(`Authentication failed: ${why}. Send a valid token as "Authorization: Bearer <JWT>".`);
    }
    const role = payload.role;
    if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw unauthenticated('The token has no subject (sub claim); issue tokens with the user as sub.');
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
      throw unauthenticated(`The token's role claim must be one of ${ROLES.join(', ')}.`);
    }
    return { viewer: { subject: payload.sub, role: role as Role }, exp: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined };
  };
  return verifyOnce;
}

export function unauthenticated(message: string): OrreryError {
  return new OrreryError(ApiErrorIds.UNAUTHENTICATED, message, {});
}

/** A random HS256 secret for a local server (`orrery dev`). */
export function generateSecret(): string {
  return randomBytes(32).toString('hex');
}

/** Signs a token with the HS256 secret (dev tokens, tests). */
export async function signToken(secret: string, viewer: Viewer, options: { expiresIn?: string; issuer?: string; audience?: string } = {}): Promise<string> {
  let jwt = new SignJWT({ role: viewer.role }).setProtectedHeader({ alg: 'HS256' }).setSubject(viewer.subject).setIssuedAt().setExpirationTime(options.expiresIn ?? '12h');
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(createSecretKey(Buffer.from(secret, 'utf8')));
}
