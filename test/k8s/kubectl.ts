/** Runs the real kubectl against a kubeconfig (async; never blocks the vitest worker). */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A kubectl bound to one kubeconfig, with its own discovery cache (not ~/.kube/cache). */
export function kubectlFor(kubeconfigPath: string): (args: string[], o?: { input?: string; timeoutMs?: number }) => Promise<KubectlResult> {
  const cacheDir = mkdtempSync(join(tmpdir(), 'orrery-kubectl-cache-'));
  return (args, o = {}) =>
    new Promise((resolve, reject) => {
      const child = spawn(KUBECTL, ['--kubeconfig', kubeconfigPath, '--cache-dir', cacheDir, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
      child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT'
        ? new Error(`kubectl is not at ${KUBECTL}: install it (Debian: apt-get install kubernetes-client) or set KUBECTL to its path.`)
        : e));
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
      child.stdin.end(o.input ?? '');
    });
}
