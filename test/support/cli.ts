import { spawn } from 'node:child_process';
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

/** Runs the CLI without blocking the test worker (a blocked worker misses vitest's RPC deadlines). */
export function orrery(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ORRERY, ...args], { env, cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 400_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function orreryChild(args: string[], env: NodeJS.ProcessEnv) {
  return spawn(process.execPath, [ORRERY, ...args], { env, cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
}
