/**
 * `orrery serve` as the operator's Deployments run it: the real CLI (bin/orrery.js) on a private
 * ORRERY_HOME whose registry, object store and embedded key hold a published model.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemObjectStore } from '../../adapters/object-store/filesystem.ts';
import { openPgliteEventLog } from '../../adapters/postgres/event-log.ts';
import { modelRegistryFor } from '../../adapters/postgres/model-registry.ts';
import { PublishErrorIds } from '../../assets/published_models/engine/index.ts';
import { cliSandbox, orrery, orreryChild } from '../support/cli.ts';
import { GROUP, THETA, predictRows, publishFixture, trainFixture, type PublishedFixture, type TrainedFixture } from './fixture.ts';

let sandbox: ReturnType<typeof cliSandbox>;
let fx: TrainedFixture;
let pub: PublishedFixture;

beforeAll(async () => {
  sandbox = cliSandbox();
  mkdirSync(sandbox.home, { recursive: true });
  // The same places openInstance uses embedded: $ORRERY_HOME/eventlog, /objects, /keys.
  const log = await openPgliteEventLog(join(sandbox.home, 'eventlog'));
  try {
    fx = trainFixture();
    pub = await publishFixture(fx, { store: new FilesystemObjectStore(join(sandbox.home, 'objects')), registry: modelRegistryFor(log), home: sandbox.home });
  } finally {
    await log.close();
  }
});

afterAll(() => {
  if (sandbox) rmSync(dirname(sandbox.home), { recursive: true, force: true });
});

describe('orrery serve', () => {
  it('an unknown version exits 2 with ML_REGISTRY_NOTFOUND', async () => {
    const r = await orrery(['serve', '--group', GROUP, '--version', 'metals.1h.nope', '--port', '0', '--host', '127.0.0.1'], sandbox.env);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(PublishErrorIds.REGISTRY_NOT_FOUND);
    expect(r.stderr).toMatch(/metals\.1h\.nope is not in the model registry/);
    // Its JSON log says why it did not become ready.
    const lines = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(lines.find((l) => l.event === 'load_failed')).toMatchObject({ error_id: PublishErrorIds.REGISTRY_NOT_FOUND, service: 'orrery-serve' });
  });

  it('serves the published version, then drains and exits 0 on SIGTERM', async () => {
    const child = orreryChild(['serve', '--group', GROUP, '--version', pub.version, '--port', '0', '--host', '127.0.0.1'], sandbox.env);
    const lines: Array<Record<string, any>> = [];
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let buffered = '';
    const seen = (event: string) => new Promise<Record<string, any>>((resolve, reject) => {
      const check = () => { const l = lines.find((x) => x.event === event); if (l) { resolve(l); return true; } return false; };
      if (check()) return;
      const onData = () => { if (check()) child.stdout.off('data', onData); };
      child.stdout.on('data', onData);
      child.once('exit', (code) => reject(new Error(`exited ${code} before ${event}: ${stderr}`)));
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buffered += d;
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const p of parts) if (p.trim()) lines.push(JSON.parse(p));
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const { url } = await seen('listening');
    await seen('ready');
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready', version: pub.version });
    const res = await fetch(`${url}/predict`, { method: 'POST', body: JSON.stringify({ rows: predictRows(fx.ds, 5) }) });
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc).toMatchObject({ model_version: pub.version, group: GROUP });
    expect(doc.predictions).toHaveLength(5);
    expect(doc.predictions[0]).toMatchObject({ theta1: THETA.theta1, theta2: THETA.theta2 });
    expect((await (await fetch(`${url}/model`)).json()).key_id).toBe(pub.keys.keyId);

    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
    expect(lines.map((l) => l.event).filter((e) => ['listening', 'ready', 'signal', 'draining', 'closed'].includes(e))).toEqual(['listening', 'ready', 'signal', 'draining', 'closed']);
    expect(lines.find((l) => l.event === 'request' && l.path === '/predict')).toMatchObject({ status: 200, rows: 5, level: 30, service: 'orrery-serve', version: pub.version });
  });
});
