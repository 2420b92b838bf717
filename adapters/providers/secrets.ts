/**
 * Resolves `api_key_ref` values of `sources.yaml` (seed 002 セキュリティ: "api_key_ref は ENV/Vault
 * 参照のみ許可。平文キーをYAMLへ直書き禁止").
 *
 *   ENV:NAME          → process.env.NAME (or the injected env); unset or empty → DATA_SECRET_UNRESOLVED
 *   VAULT:some/path   → through an injected `VaultClient`; with none configured, or when the client
 *                       fails, → DATA_SECRET_UNRESOLVED saying Vault is not reachable
 *   anything else     → DATA_SECRET_UNRESOLVED (a plain key in config is refused)
 *
 * Resolved values never appear in messages or error details.
 */
import { OrreryError } from '../../core/errors.ts';
import { ProviderErrorIds } from './http.ts';

export interface VaultClient {
  /** The secret stored at `path` (e.g. 'secret/path'); rejects when it cannot be read. */
  read(path: string): Promise<string>;
}

export type SecretRef = { scheme: 'ENV' | 'VAULT'; name: string };

export type SecretResolverOptions = {
  env?: Record<string, string | undefined>;
  vault?: VaultClient;
};

function secretError(message: string, ref: string, cause?: unknown): OrreryError {
  return new OrreryError(ProviderErrorIds.SECRET_UNRESOLVED, message, { ref }, { cause });
}

/** Splits `ENV:NAME` / `VAULT:path`; throws DATA_SECRET_UNRESOLVED for anything else. */
export function parseSecretRef(ref: string): SecretRef {
  const m = /^(ENV|VAULT):(.+)$/.exec(typeof ref === 'string' ? ref : '');
  if (!m) {
    throw secretError(
      'A secret reference must be ENV:NAME or VAULT:path (the value given is not shown). API keys must be referenced, never written into config.',
      '<redacted>',
    );
  }
  const scheme = m[1] as 'ENV' | 'VAULT';
  const name = m[2];
  if (scheme === 'ENV' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw secretError(`Secret reference '${ref}': '${name}' is not a valid environment variable name.`, ref);
  }
  return { scheme, name };
}

export class SecretResolver {
  private readonly env: Record<string, string | undefined>;
  private readonly vault: VaultClient | undefined;

  constructor(opts: SecretResolverOptions = {}) {
    this.env = opts.env ?? process.env;
    this.vault = opts.vault;
  }

  async resolve(ref: string): Promise<string> {
    const { scheme, name } = parseSecretRef(ref);
    if (scheme === 'ENV') {
      const v = this.env[name];
      if (v === undefined || v === '') throw secretError(`Secret ${ref} is not set: export ${name} in the environment of this process.`, ref);
      return v;
    }
    if (!this.vault) {
      throw secretError(
        `Secret ${ref} cannot be resolved: Vault is not reachable from this process (no Vault client is configured). Provide the key through an ENV: reference or configure a Vault client.`,
        ref,
      );
    }
    let v: string;
    try {
      v = await this.vault.read(name);
    } catch (e) {
      throw secretError(`Secret ${ref} cannot be resolved: Vault is not reachable or refused the read (${e instanceof Error ? e.message : String(e)}).`, ref, e);
    }
    if (typeof v !== 'string' || v === '') throw secretError(`Secret ${ref} resolved to an empty value in Vault.`, ref);
    return v;
  }
}
