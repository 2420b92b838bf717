/** JWT verification: HS256 secrets, EdDSA and RS256 public keys, issuer/audience, expiry, role claims. */
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, importPKCS8 } from 'jose';
import { describe, expect, it } from 'vitest';
import { OrreryError } from '../../core/errors.ts';
import { authConfigFromEnv, hasRole, signToken, tokenVerifier } from '../../graphql/auth.ts';
import { caught } from '../support/rejection.ts';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';


describe('tokens', () => {
  it('orders roles viewer < editor < approver < admin', () => {
    expect(hasRole('admin', 'approver')).toBe(true);
    expect(hasRole('approver', 'editor')).toBe(true);
    expect(hasRole('editor', 'approver')).toBe(false);
    expect(hasRole('viewer', 'editor')).toBe(false);
  });

  it('verifies HS256 tokens with issuer and audience, and refuses expired, foreign and role-less ones', async () => {
    const verify = tokenVerifier({ secret: SECRET, issuer: 'orrery-idp', audience: 'orrery-api' });
    const good = await signToken(SECRET, { subject: 'alice', role: 'editor' }, { issuer: 'orrery-idp', audience: 'orrery-api' });
    expect(await verify(good)).toEqual({ subject: 'alice', role: 'editor' });
    const wrongIssuer = await signToken(SECRET, { subject: 'alice', role: 'editor' }, { issuer: 'elsewhere', audience: 'orrery-api' });
    expect((await caught(verify(wrongIssuer))).errorId).toBe('API_AUTH_UNAUTHENTICATED');
    const noAudience = await signToken(SECRET, { subject: 'alice', role: 'editor' }, { issuer: 'orrery-idp' });
    expect((await caught(verify(noAudience))).message).toMatch(/aud/);
    const key = new TextEncoder().encode(SECRET);
    const expired = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setSubject('bob').setIssuer('orrery-idp').setAudience('orrery-api').setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(key);
    expect((await caught(verify(expired))).message).toMatch(/expired/);
    const noSub = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('orrery-idp').setAudience('orrery-api').setExpirationTime('1h').sign(key);
    expect((await caught(verify(noSub))).message).toMatch(/subject/);
    // alg=none and garbage are not tokens.
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"x","role":"admin"}').toString('base64url')}.`;
    await caught(verify(none));
    await caught(verify('garbage'));
  });

  it('verifies EdDSA and RS256 tokens with a public key, and refuses HS256 tokens signed with that key text', async () => {
    for (const [type, alg] of [['ed25519', 'EdDSA'], ['rsa', 'RS256']] as const) {
      const { publicKey, privateKey } = type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
        : generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
      const verify = tokenVerifier({ publicKey });
      const token = await new SignJWT({ role: 'approver' }).setProtectedHeader({ alg }).setSubject('carol').setExpirationTime('1h').sign(await importPKCS8(privateKey, alg));
      expect(await verify(token)).toEqual({ subject: 'carol', role: 'approver' });
      // Algorithm confusion: the public key used as an HMAC secret must not verify.
      const confused = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setSubject('mallory').setExpirationTime('1h').sign(new TextEncoder().encode(publicKey));
      await caught(verify(confused));
    }
  });

  it('reads the settings from the environment and refuses weak or missing ones', () => {
    expect(authConfigFromEnv({})).toBeUndefined();
    expect(authConfigFromEnv({ ORRERY_JWT_SECRET: SECRET, ORRERY_JWT_ISSUER: 'i' })).toEqual({ secret: SECRET, publicKey: undefined, issuer: 'i', audience: undefined });
    expect(() => tokenVerifier({ secret: 'short' })).toThrow(/32 characters/);
    expect(() => tokenVerifier({})).toThrow(OrreryError);
    expect(() => tokenVerifier({ publicKey: 'not a key' })).toThrow(/PEM/);
  });
});
