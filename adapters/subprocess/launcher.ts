import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ErrorIds, OrreryError } from '../../core/errors.ts';
import { parseManifest, parseStepLine, stepEnvironment, type ResultManifest, type StepLaunch, type StepLauncher, type StepLine } from '../../core/execution/step-protocol.ts';

/**
 * Embedded mode's container steps: the step's command runs as a local subprocess (the image is
 * not pulled; the command must exist here), speaking the same step protocol as a pod.
 */
export class SubprocessLauncher implements StepLauncher {
  constructor(private readonly options: { cwd?: string; killGraceMs?: number } = {}) {}

  async launch(step: StepLaunch, hooks: { signal: AbortSignal; onLine(line: StepLine): void }): Promise<ResultManifest> {
    const dir = await mkdtemp(join(tmpdir(), 'orrery-step-'));
    const resultPath = join(dir, 'result.json');
    try {
      const [cmd, ...args] = step.command;
      if (!cmd) throw new OrreryError(ErrorIds.STEP_PROTOCOL, `Asset ${step.assetKey} has an empty command.`, {});
      const child = spawn(cmd, args, {
        cwd: this.options.cwd,
        env: { ...process.env, ...stepEnvironment(step, resultPath) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const stderrTail: string[] = [];
      createInterface({ input: child.stdout }).on('line', (l) => hooks.onLine(parseStepLine(l)));
      createInterface({ input: child.stderr }).on('line', (l) => {
        stderrTail.push(l);
        if (stderrTail.length > 20) stderrTail.shift();
        hooks.onLine({ kind: 'text', text: l });
      });
      const onAbort = () => {
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), this.options.killGraceMs ?? 5000).unref();
      };
      hooks.signal.addEventListener('abort', onAbort, { once: true });
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', (e) => reject(new OrreryError(ErrorIds.STEP_FAILED, `Cannot start step command "${cmd}": ${e.message}. Is it installed and on the PATH?`, { command: step.command })));
        child.once('close', (c) => resolve(c));
      }).finally(() => hooks.signal.removeEventListener('abort', onAbort));

      if (hooks.signal.aborted) throw new OrreryError(ErrorIds.RUN_CANCELED, 'The run was canceled.');
      let text: string | undefined;
      try { text = await readFile(resultPath, 'utf8'); } catch { text = undefined; }
      if (text === undefined || text.trim() === '') {
        throw new OrreryError(ErrorIds.STEP_FAILED, `Step ${step.assetKey} ${step.partitionKey} exited with code ${code} without writing a result manifest. Last output: ${stderrTail.slice(-5).join(' | ') || '(none)'}`, { exitCode: code });
      }
      const manifest = parseManifest(text);
      if (code !== 0 && manifest.status === 'success') {
        throw new OrreryError(ErrorIds.STEP_PROTOCOL, `Step ${step.assetKey} wrote a success manifest but exited with code ${code}.`, { exitCode: code });
      }
      return manifest;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
