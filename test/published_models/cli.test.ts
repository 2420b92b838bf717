/**
 * `orrery models …` in process: the commands of `cli/models.ts` on a Commander program, with an
 * instance made of an in-memory PGlite event log, a filesystem object store and an embedded key pair.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Instance } from '../../adapters/instance.ts';
import { FilesystemObjectStore } from '../../adapters/object-store/filesystem.ts';
import { openPgliteEventLog, type PostgresEventLog } from '../../adapters/postgres/event-log.ts';
import { modelRegistryFor } from '../../adapters/postgres/model-registry.ts';
import { OrreryError } from '../../core/errors.ts';
import {
  PublishErrorIds, createBundle, embeddedKeyPair, modelBundleFiles, publishBundle, signBundle, type ModelRegistry,
} from '../../assets/published_models/engine/index.ts';
import { registerModelCommands } from '../../cli/models.ts';

let dir: string;
let log: PostgresEventLog;
let store: FilesystemObjectStore;
let registry: ModelRegistry;
let instance: Instance;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orrery-models-cli-'));
  log = await openPgliteEventLog(undefined);
  store = new FilesystemObjectStore(join(dir, 'objects'));
  registry = modelRegistryFor(log);
  instance = { home: dir, eventLog: log, objectStore: store, policies: { pipeline: { timeframe_default: '1h' } } } as unknown as Instance;
  const keys = await embeddedKeyPair(dir, { generate: true });
  for (const k of [1, 2]) {
    const version = `metals-1h-v${k}`;
    const bundle = createBundle({
      version, group: 'metals', timeframe: '1h',
      files: modelBundleFiles({ onnx: { ai1: new Uint8Array([1, 2, k]), ai2: new Uint8Array([3, 4, k]) }, calibration: {}, featureSchema: { v: 1 }, theta: { theta1: 0.7, theta2: 0.3 }, normalisation: {} }),
    });
    const published = await publishBundle(store, signBundle(bundle, keys.privateKey), keys.publicKey);
    await registry.register(version, 'metals', '1h', published.key, { sharpe: 1 + k / 10 }, { theta1: 0.7, theta2: 0.3 });
    await registry.promote(version, 'production', 'ada', `release ${k}`);
    await registry.recordExperiment({ runId: `run-${k}`, assetKey: 'theta', partitionKey: '1h|XAUUSD_XAGUSD|2025-03', group: 'metals', modelVersion: version, params: { theta1: 0.7 }, metrics: { score: k } });
  }
});
afterAll(async () => {
  await log?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `orrery models ARGS…`; returns stdout and stderr. */
async function models(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const program = new Command('orrery').exitOverride();
  registerModelCommands(program, async (fn) => fn(instance));
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    await program.parseAsync(['models', ...args], { from: 'user' });
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { stdout, stderr };
}

describe('orrery models', () => {
  it('list', async () => {
    const doc = JSON.parse((await models('list', '--group', 'metals', '--json')).stdout);
    expect(doc.models.map((m: { version: string; stage: string }) => [m.version, m.stage])).toEqual([['metals-1h-v2', 'production'], ['metals-1h-v1', 'archived']]);
    expect(doc.models[0]).toMatchObject({ group: 'metals', timeframe: '1h', theta: { theta1: 0.7, theta2: 0.3 }, previous_version: 'metals-1h-v1', bundle_uri: 'published_models/metals/1h/metals-1h-v2' });
    expect((await models('list', '--stage', 'production')).stderr).toMatch(/metals-1h-v2 +metals +1h +production/);
  });

  it('show', async () => {
    const doc = JSON.parse((await models('show', 'metals-1h-v2', '--json')).stdout);
    expect(doc.model.version).toBe('metals-1h-v2');
    expect(doc.audit.map((a: { action: string }) => a.action)).toEqual(['promote', 'register']);
    expect(doc.experiments).toHaveLength(1);
    await expect(models('show', 'nope')).rejects.toMatchObject({ errorId: PublishErrorIds.REGISTRY_NOT_FOUND });
  });

  it('experiments', async () => {
    const doc = JSON.parse((await models('experiments', '--group', 'metals', '--json')).stdout);
    expect(doc.experiments.map((e: { run_id: string }) => e.run_id).sort()).toEqual(['run-1', 'run-2']);
    expect(JSON.parse((await models('experiments', '--model-version', 'metals-1h-v1', '--json')).stdout).experiments).toHaveLength(1);
    expect((await models('experiments', '--partition', 'nope')).stderr).toMatch(/no experiment runs/);
  });

  it('verify: a valid bundle, then a tampered one', async () => {
    const doc = JSON.parse((await models('verify', 'metals-1h-v1', '--json')).stdout);
    expect(doc).toMatchObject({ version: 'metals-1h-v1', ok: true });
    expect(doc.files.map((f: { name: string }) => f.name)).toContain('ai1.onnx');
    await store.put('published_models/metals/1h/metals-1h-v1/files/ai2.onnx', new Uint8Array([9, 9, 9]));
    const e = await models('verify', 'metals-1h-v1').then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(OrreryError);
    expect((e as OrreryError).errorId).toBe(PublishErrorIds.BUNDLE_CHECKSUM);
  });

  it('rollback (timeframe from the policies), audited with the actor and reason', async () => {
    const doc = JSON.parse((await models('rollback', '--group', 'metals', '--reason', 'Sharpe -20 %', '--actor', 'ops-oncall', '--request-id', 'INC-7', '--json')).stdout);
    expect(doc).toMatchObject({ group: 'metals', timeframe: '1h', from: { version: 'metals-1h-v2', stage: 'archived' }, to: { version: 'metals-1h-v1', stage: 'production' } });
    const audit = await registry.audit({ group: 'metals', limit: 2 });
    expect(audit.every((a) => a.action === 'rollback' && a.changedBy === 'ops-oncall' && a.reason === 'Sharpe -20 %' && a.requestId === 'INC-7')).toBe(true);
    await expect(models('rollback', '--group', 'metals')).rejects.toMatchObject({ errorId: PublishErrorIds.REGISTRY_NO_ROLLBACK });
  });
});
