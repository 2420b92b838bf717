/**
 * The operator tests' cluster: the API double with Orrery's CRDs applied by the real kubectl, a
 * simulated node running step pods as `orrery execute-step` processes, Postgres for the shared
 * event log (a fresh schema), and the operator itself as an `orrery operator` child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { openPgEventLog } from '../../adapters/postgres/event-log.ts';
import type { EventLog } from '../../core/event-log/port.ts';
import { dropSchema, freshSchemaName, testPostgresUrl } from '../support/postgres.ts';
import { startApiDouble, type ApiDouble } from './api-double.ts';
import { startSimulatedNode, type SimulatedNode } from './simulated-node.ts';
import { KUBECTL } from './kubectl.ts';

export const REPO = resolve(import.meta.dirname, '..', '..');
const ORRERY = join(REPO, 'bin', 'orrery.js');
export const LOCATION = join(REPO, 'test', 'fixtures', 'k8s-location.ts');
export const silent = pino({ level: 'silent' });

export interface Run { code: number | null; stdout: string; stderr: string }

/** Runs a command without blocking the test worker. */
export function run(cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; stdin?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { env: o.env ?? process.env, cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    child.on('error', rej);
    child.on('close', (code) => { clearTimeout(timer); res({ code, stdout, stderr }); });
    child.stdin.end(o.stdin ?? '');
  });
}

export interface OperatorProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface TestCluster {
  api: ApiDouble;
  node: SimulatedNode;
  eventLog: EventLog;
  env: NodeJS.ProcessEnv;
  kubectl(args: string[], stdin?: string): Promise<Run>;
  orrery(args: string[]): Promise<Run>;
  startOperator(args?: string[]): OperatorProcess;
  close(): Promise<void>;
}

export async function startTestCluster(o: { gpus?: number; stepMs?: number; retryDelayMs?: number } = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-op-test-'));
  const url = await testPostgresUrl();
  const schema = freshSchemaName('k8s_op');
  const api = await startApiDouble({ bookmarkIntervalMs: 1000 });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KUBECONFIG: api.kubeconfigPath,
    DATABASE_URL: url,
    ORRERY_DB_SCHEMA: schema,
    ORRERY_CODE_LOCATION: LOCATION,
    ORRERY_CONFIGS: join(REPO, 'configs'),
    ORRERY_ENV: '',
    ORRERY_LOG_LEVEL: 'warn',
    ORRERY_TEST_STEP_MS: String(o.stepMs ?? 0),
  };
  delete env.ORRERY_HOME;
  delete env.ORRERY_EXECUTOR;
  // The schema exists (migrated) before any pod opens it.
  const eventLog = await openPgEventLog(url, { schema });
  const kubectl = (args: string[], stdin?: string) => run(KUBECTL, ['--kubeconfig', api.kubeconfigPath, ...args], { stdin, env });
  const applied = await kubectl(['apply', ...['asset', 'materialization', 'backfill', 'sensor', 'modeldeployment'].flatMap((k) => ['-f', join(REPO, 'crds', `${k}.yaml`)])]);
  if (applied.code !== 0) throw new Error(`kubectl apply crds failed: ${applied.stderr}`);
  const node = await startSimulatedNode({
    kubeconfigPath: api.kubeconfigPath,
    gpus: o.gpus ?? 0,
    commandAliases: { orrery: [process.execPath, ORRERY] },
    // Pods get no ORRERY_HOME: execute-step then uses a fresh temp dir per pod.
    env: { ORRERY_TEST_STEP_MS: String(o.stepMs ?? 0), PATH: process.env.PATH ?? '' },
    retryDelayMs: o.retryDelayMs ?? 0,
  });
  const operators: OperatorProcess[] = [];
  return {
    api, node, eventLog, env, kubectl,
    orrery: (args) => run(process.execPath, [ORRERY, ...args], { env }),
    startOperator(args = []) {
      const child = spawn(process.execPath, [ORRERY, 'operator', '--namespace', 'default', '--image', 'orrery:test', '--lease-duration', '3000', '--renew-deadline', '2000', '--retry-period', '300', ...args], {
        env: { ...env, ORRERY_HOME: mkdtempSync(join(dir, 'operator-')), ORRERY_WATCHDOG_MS: '5000' }, cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
      const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
      const p: OperatorProcess = {
        child, exited, output: () => out,
        async stop(signal = 'SIGTERM') { if (child.exitCode === null && child.signalCode === null) child.kill(signal); return exited; },
      };
      operators.push(p);
      started.push(p);
      return p;
    },
    async close() {
      await Promise.all(operators.map((p) => p.stop('SIGKILL')));
      await node.close();
      await api.close();
      await eventLog.close();
      await dropSchema(url, schema).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Operators started in this test file, so a timeout can say what they were doing. */
const started: OperatorProcess[] = [];

function operatorTails(): string {
  return started.map((p, i) => {
    const state = p.child.exitCode !== null || p.child.signalCode !== null ? `exited ${p.child.exitCode ?? p.child.signalCode}` : 'running';
    return `\n--- operator ${i + 1} (${state}), last output:\n${p.output().slice(-3000) || '(none)'}`;
  }).join('');
}

export async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, ms = 60_000, everyMs = 200): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${operatorTails()}`);
    await sleep(everyMs);
  }
}
