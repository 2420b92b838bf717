import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { ZodError, ZodType } from 'zod';
import { ErrorIds, OrreryError } from '../errors.ts';

/**
 * Policy files use the seeds' envelope: every top-level key is `{ value, label_ja, description }`.
 * `configs/base/` holds the defaults; `configs/envs/<env>/` overlays only what differs.
 */
export interface ConfigProblem {
  file: string;
  path: string;
  errorId: string;
  message: string;
}

export class ConfigError extends OrreryError {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems[0].errorId, `Configuration is invalid:\n${problems.map((p) => `  ${p.errorId} ${p.file}: ${p.path}: ${p.message}`).join('\n')}`, { problems: problems as unknown as Record<string, unknown>[] });
  }
}

const ENVELOPE_FIELDS = new Set(['value', 'label_ja', 'description']);

function readYaml(file: string, problems: ConfigProblem[]): Record<string, unknown> | undefined {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    problems.push({ file, path: '(file)', errorId: ErrorIds.CONFIG_INVALID, message: `not valid YAML: ${(e as Error).message.split('\n')[0]}` });
    return undefined;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    problems.push({ file, path: '(file)', errorId: ErrorIds.CONFIG_INVALID, message: 'must be a mapping of keys to { value, label_ja, description }' });
    return undefined;
  }
  return doc as Record<string, unknown>;
}

const SECRET_KEY = /(api_?key|token|secret|password|passwd|webhook|credential)/i;
const SECRET_REF = /^(ENV|VAULT):\S+$/;

/** A literal secret in YAML is refused: values under secret-looking keys must be ENV:/VAULT: references. */
function secretProblems(file: string, path: string, value: unknown, out: ConfigProblem[]): void {
  if (value === null || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    const p = `${path}.${k}`;
    if (SECRET_KEY.test(k) && typeof v === 'string' && !SECRET_REF.test(v)) {
      out.push({ file, path: p, errorId: ErrorIds.CONFIG_SECRET, message: 'a literal secret is not allowed in YAML; use ENV:NAME or VAULT:path' });
    } else {
      secretProblems(file, p, v, out);
    }
  }
}

/** Unwraps envelopes into `{ key: value }`, reporting every malformed entry. */
function unwrap(file: string, doc: Record<string, unknown>, problems: ConfigProblem[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, env] of Object.entries(doc)) {
    if (env === null || typeof env !== 'object' || Array.isArray(env) || !('value' in env)) {
      problems.push({ file, path: key, errorId: ErrorIds.CONFIG_INVALID, message: 'must be { value, label_ja, description }' });
      continue;
    }
    for (const f of Object.keys(env)) {
      if (!ENVELOPE_FIELDS.has(f)) problems.push({ file, path: `${key}.${f}`, errorId: ErrorIds.CONFIG_UNKNOWN, message: `unknown envelope field (allowed: value, label_ja, description)` });
    }
    out[key] = (env as { value: unknown }).value;
    if (SECRET_KEY.test(key) && typeof out[key] === 'string' && !SECRET_REF.test(out[key] as string)) {
      problems.push({ file, path: key, errorId: ErrorIds.CONFIG_SECRET, message: 'a literal secret is not allowed in YAML; use ENV:NAME or VAULT:path' });
    }
    secretProblems(file, key, out[key], problems);
  }
  return out;
}

export interface LoadedConfigs {
  dir: string;
  env: string | undefined;
  /** Unwrapped values per file name without extension (`universe`, `data_retention`, …). */
  files: Record<string, Record<string, unknown>>;
}

/** Reads `dir/base/*.yaml` and overlays `dir/envs/<env>/*.yaml`; overlays may not add keys. */
export function readConfigs(dir: string, env?: string): { configs: LoadedConfigs; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const files: Record<string, Record<string, unknown>> = {};
  const base = join(dir, 'base');
  if (!existsSync(base)) {
    problems.push({ file: base, path: '(dir)', errorId: ErrorIds.CONFIG_MISSING, message: 'configuration directory is missing' });
    return { configs: { dir, env, files }, problems };
  }
  for (const name of readdirSync(base).filter((n) => n.endsWith('.yaml')).sort()) {
    const doc = readYaml(join(base, name), problems);
    if (doc) files[name.replace(/\.yaml$/, '')] = unwrap(join(base, name), doc, problems);
  }
  if (env) {
    const envDir = join(dir, 'envs', env);
    if (!existsSync(envDir)) problems.push({ file: envDir, path: '(dir)', errorId: ErrorIds.CONFIG_MISSING, message: `no overlay for environment "${env}"` });
    else {
      for (const name of readdirSync(envDir).filter((n) => n.endsWith('.yaml')).sort()) {
        const file = join(envDir, name);
        const stem = name.replace(/\.yaml$/, '');
        const doc = readYaml(file, problems);
        if (!doc) continue;
        const values = unwrap(file, doc, problems);
        if (!files[stem]) { problems.push({ file, path: '(file)', errorId: ErrorIds.CONFIG_UNKNOWN, message: `overlay for a file that base/ does not have` }); continue; }
        for (const [k, v] of Object.entries(values)) {
          if (!(k in files[stem])) problems.push({ file, path: k, errorId: ErrorIds.CONFIG_UNKNOWN, message: 'overlay sets a key that base/ does not define' });
          else files[stem][k] = v;
        }
      }
    }
  }
  return { configs: { dir, env, files }, problems };
}

function valueAt(doc: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v = doc;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/**
 * zod issues → config problems. "Missing" is decided by looking the path up in the document:
 * zod 4 issues carry no `input`, so a wrong type and an absent key look alike otherwise.
 */
export function issuesToProblems(error: ZodError, doc: unknown, file: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of error.issues) {
    const path = issue.path.join('.') || '(root)';
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) problems.push({ file, path: path === '(root)' ? k : `${path}.${k}`, errorId: ErrorIds.CONFIG_UNKNOWN, message: 'unknown key' });
    } else if (issue.code === 'invalid_type' && issue.path.length > 0 && valueAt(doc, issue.path) === undefined) {
      problems.push({ file, path, errorId: ErrorIds.CONFIG_MISSING, message: 'required key is missing' });
    } else {
      problems.push({ file, path, errorId: ErrorIds.CONFIG_INVALID, message: issue.message });
    }
  }
  return problems;
}

/** Validates one file's values with a strict zod schema, turning issues into config problems. */
export function validateFile<T>(configs: LoadedConfigs, name: string, schema: ZodType<T>, problems: ConfigProblem[]): T | undefined {
  const file = join(configs.dir, 'base', `${name}.yaml`);
  const values = configs.files[name];
  if (!values) {
    problems.push({ file, path: '(file)', errorId: ErrorIds.CONFIG_MISSING, message: 'required configuration file is missing' });
    return undefined;
  }
  const r = schema.safeParse(values);
  if (r.success) return r.data;
  problems.push(...issuesToProblems(r.error, values, file));
  return undefined;
}
