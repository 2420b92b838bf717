/**
 * The inference server on a real published model: GBDTs trained by the product's training path,
 * exported to ONNX, published as a signed bundle in a filesystem object store and registered in the
 * Postgres (PGlite) model registry (`fixture.ts`). The server loads and verifies it like
 * `orrery serve` and is driven over HTTP.
 */
import { generateKeyPairSync } from 'node:crypto';
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemObjectStore } from '../../adapters/object-store/filesystem.ts';
import { openPgliteEventLog, type PostgresEventLog } from '../../adapters/postgres/event-log.ts';
import { modelRegistryFor, type PostgresModelRegistry } from '../../adapters/postgres/model-registry.ts';
import { applyIsotonic, isotonicFromJSON, predictProba } from '../../assets/models/engine/index.ts';
import { featureMatrix, scoreRows } from '../../assets/models/training.ts';
import { loadPolicies } from '../../assets/policies/index.ts';
import { FILES_FOLDER, PublishErrorIds, SIGNATURE_OBJECT, keyPairFromPrivate, loadBundle, readModelBundle } from '../../assets/published_models/engine/index.ts';
import { OrreryError } from '../../core/errors.ts';
import { ServeErrorIds } from '../../serving/errors.ts';
import { loadServedModel, type ServedModel } from '../../serving/model.ts';
import { InferenceServer } from '../../serving/server.ts';
import { REPO } from '../support/cli.ts';
import { FEATURES, GROUP, TF, THETA, predictRows, publishFixture, trainFixture, type PublishedFixture, type TrainedFixture } from './fixture.ts';

const policies = loadPolicies(join(REPO, 'configs'));
const Z_ENTRY = policies.core.z_entry;

let dir: string;
let store: FilesystemObjectStore;
let log: PostgresEventLog;
let registry: PostgresModelRegistry;
let fx: TrainedFixture;
let pub: PublishedFixture;
let server: InferenceServer;
let url: string;

const silent = pino({ level: 'silent' });
const load = (version = pub.version, group = GROUP, publicKey = pub.keys.publicKey): Promise<ServedModel> =>
  loadServedModel({ store, registry, publicKey, group, version, zEntry: Z_ENTRY });

async function http(path: string, init: { method?: string; body?: string } = {}): Promise<{ status: number; json: any; text: string; headers: Headers }> {
  const res = await fetch(`${url}${path}`, { method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), body: init.body, headers: init.body === undefined ? {} : { 'content-type': 'application/json' } });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text, headers: res.headers };
}
const predict = (body: unknown) => http('/predict', { body: typeof body === 'string' ? body : JSON.stringify(body) });

/** A Prometheus sample's value (0 when absent). */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function refusal(p: Promise<unknown>): Promise<OrreryError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, 'expected a refusal').toBeInstanceOf(OrreryError);
  return e as OrreryError;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orrery-serving-'));
  store = new FilesystemObjectStore(join(dir, 'objects'));
  log = await openPgliteEventLog(undefined);
  registry = modelRegistryFor(log);
  fx = trainFixture();
  pub = await publishFixture(fx, { store, registry, home: join(dir, 'home') });
  server = new InferenceServer({ logger: silent });
  url = (await server.listen(0, '127.0.0.1')).url;
});

afterAll(async () => {
  await server?.close();
  await log?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('inference server', () => {
  it('is alive but not ready until the verified bundle is loaded', async () => {
    expect(server.state).toBe('loading');
    expect((await http('/healthz')).status).toBe(200);
    const notReady = await http('/readyz');
    expect(notReady.status).toBe(503);
    expect(notReady.json).toMatchObject({ status: 'loading', error_id: ServeErrorIds.STATE_NOT_READY });
    const early = await predict({ rows: predictRows(fx.ds, 1) });
    expect(early.status).toBe(503);
    expect(early.json.error_id).toBe(ServeErrorIds.STATE_NOT_READY);
    expect((await http('/model')).status).toBe(503);

    await server.load(() => load());
    expect(server.state).toBe('ready');
    expect(await http('/readyz')).toMatchObject({ status: 200, json: { status: 'ready', version: pub.version } });
    expect((await http('/healthz')).json).toEqual({ status: 'ok', state: 'ready' });
  });

  it('GET /model: the bundle identity, signing key, feature schema hash and θ', async () => {
    const { status, json } = await http('/model');
    expect(status).toBe(200);
    expect(json).toMatchObject({
      version: pub.version, group: GROUP, timeframe: TF, model_version: fx.modelVersion, stage: 'staging', bundle_uri: pub.bundleKey,
      key_id: pub.keys.keyId, feature_schema_hash: fx.ds.schemaHash, feature_names: FEATURES, z_entry: Z_ENTRY, theta: THETA, bundle_theta: THETA,
    });
    expect(json.files.map((f: { name: string }) => f.name)).toEqual(['calibration.json', 'feature_schema.json', 'model_ai1.onnx', 'model_ai2.onnx', 'normalisation.json', 'theta.json']);
  });

  it('POST /predict: the ONNX models on normalised features, calibrated, with the θ rule — as computed independently', async () => {
    const rows = predictRows(fx.ds, 400);
    const { status, json } = await predict({ rows });
    expect(status).toBe(200);
    expect(json).toMatchObject({ model_version: pub.version, group: GROUP, timeframe: TF });
    const got = json.predictions as Array<{ ts: string; pair: string; return_prob: number | null; risk_score: number; signal: string; reason: string; theta1: number; theta2: number }>;
    expect(got).toHaveLength(rows.length);

    // Independently: the bundle's own parts, the training path's feature matrix, onnxruntime directly.
    const parts = readModelBundle(await loadBundle(store, pub.bundleKey, pub.keys.publicKey));
    const dsRows = fx.ds.rows.slice(-400);
    const m = featureMatrix(dsRows, fx.ds.featureNames, parts.normalisation as never);
    const raw: Record<'ai1' | 'ai2', Float32Array> = { ai1: new Float32Array(), ai2: new Float32Array() };
    for (const task of ['ai1', 'ai2'] as const) {
      const session = await ort.InferenceSession.create(parts.onnx[`model_${task}`]);
      try {
        const out = await session.run({ features: new ort.Tensor('float32', Float32Array.from(m.values), [m.rows, m.cols]) });
        const p = out.probabilities.data as Float32Array;
        raw[task] = Float32Array.from({ length: m.rows }, (_, i) => p[2 * i + 1]);
      } finally {
        await session.release();
      }
    }
    const cal = parts.calibration as Record<string, unknown>;
    const ai1 = applyIsotonic(isotonicFromJSON(cal.ai1), raw.ai1), ai2 = applyIsotonic(isotonicFromJSON(cal.ai2), raw.ai2);
    // The training path itself (TS trees + the calibrators it fitted), for the same rows.
    const trainedAi1 = scoreRows(fx.trained.ai1, dsRows, fx.ds.featureNames, fx.trained.normalizer);
    const trainedAi2 = scoreRows(fx.trained.ai2, dsRows, fx.ds.featureNames, fx.trained.normalizer);
    const tsRaw = { ai1: predictProba(fx.trained.ai1.model, m), ai2: predictProba(fx.trained.ai2.model, m) };

    const counts: Record<string, number> = {};
    let maxRawDiff = 0, agreeWithTraining = 0;
    dsRows.forEach((r, i) => {
      const p = got[i];
      expect(p.ts).toBe(r.ts);
      expect(p.pair).toBe(r.pair);
      const scored = r.z !== null && Math.abs(r.z) >= Z_ENTRY;
      expect(p.return_prob).toBe(scored ? ai1[i] : null);
      expect(p.risk_score).toBe(ai2[i]);
      expect([p.theta1, p.theta2]).toEqual([THETA.theta1, THETA.theta2]);
      // The seed's rule, written out: AI1 > θ1 and AI2 < θ2, direction against z.
      const enter = p.return_prob !== null && p.return_prob > THETA.theta1 && p.risk_score < THETA.theta2 && r.z !== 0;
      expect(p.signal, `row ${i}`).toBe(enter ? (r.z! > 0 ? 'enter_short' : 'enter_long') : 'none');
      counts[`${p.signal}/${p.reason}`] = (counts[`${p.signal}/${p.reason}`] ?? 0) + 1;
      // ONNX ≡ the trained trees (the models asset's parity bound), and so the calibrated scores.
      for (const task of ['ai1', 'ai2'] as const) maxRawDiff = Math.max(maxRawDiff, Math.abs(raw[task][i] - tsRaw[task][i]));
      if (Math.abs(p.risk_score - trainedAi2[i]) < 1e-6 && (p.return_prob === null || Math.abs(p.return_prob - trainedAi1[i]) < 1e-6)) agreeWithTraining++;
    });
    expect(maxRawDiff).toBeLessThanOrEqual(1e-6);
    expect(agreeWithTraining).toBe(dsRows.length);
    // The rows exercise every branch of the rule.
    for (const k of ['enter_long/entry', 'enter_short/entry', 'none/not_scored', 'none/below_theta1', 'none/risk_veto']) expect(counts[k], k).toBeGreaterThan(0);
  });

  it('a missing value (null, as in a warm-up window) is scored as missing, like training did', async () => {
    const warm = fx.ds.rows.find((r) => r.x.includes(null))!;
    const row = { features: Object.fromEntries(fx.ds.featureNames.map((n, j) => [n, warm.x[j]])) };
    const { status, json } = await predict({ rows: [row] });
    expect(status).toBe(200);
    expect(json.predictions[0].risk_score).toBeCloseTo(scoreRows(fx.trained.ai2, [warm], fx.ds.featureNames, fx.trained.normalizer)[0], 6);
  });

  it('refuses invalid input with 400 SERVE_INPUT_INVALID and computes nothing', async () => {
    const before = await (await fetch(`${url}/metrics`)).text();
    const good = predictRows(fx.ds, 2);
    const { z, ...noZ } = good[0].features;
    const cases: Array<[string, unknown, RegExp]> = [
      ['missing feature', { rows: [{ features: noZ }, good[1]] }, /rows\[0\]\.features\.z: missing/],
      ['unknown feature', { rows: [{ features: { ...good[0].features, spread_bps: 1 } }] }, /features\.spread_bps: unknown feature/],
      ['string value', { rows: [{ features: { ...good[0].features, z: '2.1' } }] }, /features\.z: must be a number/],
      ['infinite value', `{"rows":[{"features":${JSON.stringify(good[0].features).replace(/"z":[^,]+/, '"z":1e999')}}]}`, /features\.z: must be finite/],
      ['not JSON', '{"rows": [', /not JSON/],
      ['no rows', { rows: [] }, /at least one row/],
      ['rows not an array', { rows: { features: {} } }, /"rows" array/],
      ['unknown row field', { rows: [{ ...good[0], side: 'long' }] }, /rows\[0\]\.side: unknown field/],
      ['bad ts', { rows: [{ ...good[0], ts: 'yesterday' }] }, /rows\[0\]\.ts/],
    ];
    expect(z).toBeTypeOf('number');
    for (const [name, body, message] of cases) {
      const res = await predict(body);
      expect(res.status, name).toBe(400);
      expect(res.json.error_id, name).toBe(ServeErrorIds.INPUT_INVALID);
      expect(res.json.message, name).toMatch(message);
    }
    // Every problem of the body is reported at once.
    const many = await predict({ rows: [{ features: noZ }, { features: { ...good[1].features, delta_z: null, half_life: 'x', extra: 1 } }] });
    expect(many.json.details.problems.map((p: { row: number; field: string }) => `${p.row}:${p.field}`)).toEqual(['0:features.z', '1:features.half_life', '1:features.extra']);
    expect(many.json.details.expected_features).toEqual(FEATURES);

    const after = await (await fetch(`${url}/metrics`)).text();
    expect(sample(after, 'inference_rows_total') - sample(before, 'inference_rows_total')).toBe(0);
    expect(sample(after, 'inference_latency_seconds_count') - sample(before, 'inference_latency_seconds_count')).toBe(0);
    expect(sample(after, 'inference_requests_total', 'status="400"') - sample(before, 'inference_requests_total', 'status="400"')).toBe(cases.length + 1);
  });

  it('refuses too many rows (413) and unknown endpoints/methods (404/405) with ids', async () => {
    const rows = Array.from({ length: 10_001 }, () => ({ features: {} }));
    const big = await predict({ rows });
    expect(big.status).toBe(413);
    expect(big.json.error_id).toBe(ServeErrorIds.INPUT_TOO_LARGE);
    expect(await http('/nope')).toMatchObject({ status: 404, json: { error_id: ServeErrorIds.HTTP_NOT_FOUND } });
    const wrong = await http('/predict');
    expect(wrong.status).toBe(405);
    expect(wrong.json.error_id).toBe(ServeErrorIds.HTTP_METHOD);
    expect(wrong.headers.get('allow')).toBe('POST');
  });

  it('GET /metrics: inference_requests_total{status} and the inference_latency_seconds histogram count what was served', async () => {
    const before = await (await fetch(`${url}/metrics`)).text();
    const rows = predictRows(fx.ds, 50);
    for (let k = 0; k < 3; k++) expect((await predict({ rows })).status).toBe(200);
    await predict({ rows: [] });
    const res = await fetch(`${url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const after = await res.text();
    const d = (name: string, labels = '') => sample(after, name, labels) - sample(before, name, labels);
    expect(d('inference_requests_total', 'status="200"')).toBe(3);
    expect(d('inference_requests_total', 'status="400"')).toBe(1);
    expect(d('inference_latency_seconds_count')).toBe(3);
    expect(d('inference_latency_seconds_bucket', 'le="+Inf"')).toBe(3);
    expect(d('inference_latency_seconds_sum')).toBeGreaterThan(0);
    // Cumulative buckets, with the seed's 200 ms SLO as a bound.
    expect(sample(after, 'inference_latency_seconds_bucket', 'le="0.2"')).toBeLessThanOrEqual(sample(after, 'inference_latency_seconds_bucket', 'le="+Inf"'));
    expect(d('inference_rows_total')).toBe(150);
    expect(after).toMatch(/# TYPE inference_latency_seconds histogram/);
    expect(sample(after, 'inference_ready')).toBe(1);
    expect(after).toContain(`version="${pub.version}"`);
    expect(sample(after, 'inference_signals_total', 'signal="enter_long"') + sample(after, 'inference_signals_total', 'signal="enter_short"')).toBeGreaterThan(0);
  });
});

describe('loading refuses what must not be served', () => {
  it('an unknown version, and another group’s version', async () => {
    expect((await refusal(load('metals.1h.nope'))).errorId).toBe(PublishErrorIds.REGISTRY_NOT_FOUND);
    expect((await refusal(load(pub.version, 'fx_majors'))).errorId).toBe(ServeErrorIds.MODEL_GROUP_MISMATCH);
  });

  it('a tampered, unsigned or foreign-signed bundle, with the publish error ids; the server stays not ready', async () => {
    const other = await publishFixture(fx, { store, registry, home: join(dir, 'home'), theta: { theta1: 0.5, theta2: 0.35 } });
    expect(other.version).not.toBe(pub.version);
    await load(other.version).then((m) => m.release());

    // One byte of an ONNX model changed.
    const onnxKey = `${other.bundleKey}/${FILES_FOLDER}/model_ai1.onnx`;
    const original = await store.get(onnxKey);
    const tampered = Uint8Array.from(original);
    tampered[tampered.length - 1] ^= 1;
    await store.put(onnxKey, tampered);
    const s = new InferenceServer({ logger: silent });
    const u = (await s.listen(0, '127.0.0.1')).url;
    try {
      const e = await refusal(s.load(() => load(other.version)));
      expect(e.errorId).toBe(PublishErrorIds.BUNDLE_CHECKSUM);
      expect(s.state).toBe('failed');
      const r = await fetch(`${u}/readyz`);
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({ status: 'failed', error_id: ServeErrorIds.STATE_NOT_READY });
      expect((await fetch(`${u}/predict`, { method: 'POST', body: '{"rows":[]}' })).status).toBe(503);
    } finally {
      await s.close();
      await store.put(onnxKey, original);
    }

    // Signed by another key than the trusted one.
    const stranger = keyPairFromPrivate(generateKeyPairSync('ed25519').privateKey);
    expect((await refusal(load(other.version, GROUP, stranger.publicKey))).errorId).toBe(PublishErrorIds.BUNDLE_WRONG_KEY);

    // The signature gone (a publish cut short).
    const sigKey = `${other.bundleKey}/${SIGNATURE_OBJECT}`;
    const sig = await store.get(sigKey);
    await store.delete(sigKey);
    try {
      expect((await refusal(load(other.version))).errorId).toBe(PublishErrorIds.BUNDLE_UNSIGNED);
    } finally {
      await store.put(sigKey, sig);
    }
    await load(other.version).then((m) => m.release());
  });
});

describe('graceful shutdown', () => {
  it('close(): not ready, no new connections, the request in flight finishes, then it is closed', async () => {
    const s = new InferenceServer({ logger: silent });
    const { port } = await s.listen(0, '127.0.0.1');
    await s.load(() => load());
    const body = JSON.stringify({ rows: predictRows(fx.ds, 20) });
    const half = Math.floor(body.length / 2);

    // A request whose body is still arriving when the shutdown starts.
    const response = new Promise<{ status: number; connection: string | undefined; json: any }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/predict', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, json: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.write(body.slice(0, half));
      setTimeout(() => req.end(body.slice(half)), 300);
    });
    await new Promise((r) => setTimeout(r, 100));
    let closed = false;
    const closing = s.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(s.state).toBe('draining');
    expect(closed).toBe(false);
    // The listener is gone: a new connection is refused.
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();

    const r = await response;
    expect(r.status).toBe(200);
    expect(r.json.predictions).toHaveLength(20);
    expect(r.connection).toBe('close');
    await closing;
    expect(s.state).toBe('closed');
    expect(await s.metrics.text()).toMatch(/inference_ready 0/);
  });
});
