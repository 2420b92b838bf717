import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '..', '..');
const ORRERY = join(REPO, 'bin', 'orrery.js');

/** A private ORRERY_HOME and a copy of configs/, optionally with an overlay environment. */
export function cliSandbox(overlay?: Record<string, string>): { home: string; configs: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-cli-'));
  const configs = join(dir, 'configs');
  cpSync(join(REPO, 'configs'), configs, { recursive: true });
  if (overlay) {
    mkdirSync(join(configs, 'envs', 'test'), { recursive: true });
    for (const [file, text] of Object.entries(overlay)) writeFileSync(join(configs, 'envs', 'test', file), text);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, ORRERY_HOME: join(dir, 'home'), ORRERY_CONFIGS: configs, ORRERY_ENV: overlay ? 'test' : '' };
  delete env.DATABASE_URL;
  return { home: join(dir, 'home'), configs, env };
}

export function orrery(args: string[], env: NodeJS.ProcessEnv): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [ORRERY, ...args], { env, cwd: REPO, encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function orreryChild(args: string[], env: NodeJS.ProcessEnv) {
  return spawn(process.execPath, [ORRERY, ...args], { env, cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
}
