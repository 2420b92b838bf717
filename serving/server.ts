/**
 * The inference server of one published model version (node:http), run by the inference
 * Deployments the operator builds from a ModelDeployment (`orrery serve`, port `http` 8080).
 *
 *   POST /predict   { rows: [{ ts?, pair?, beta?, features: {…} }] }
 *                   → { model_version, group, timeframe, predictions: [{ return_prob, risk_score, signal, reason, theta1, theta2 }] }
 *   GET  /healthz   200 while the process is alive (liveness)
 *   GET  /readyz    200 only once the bundle is loaded and verified and until draining starts (readiness)
 *   GET  /metrics   Prometheus: inference_latency_seconds, inference_requests_total{status}, …
 *   GET  /model     the served version: identity, key id, feature schema hash and names, θ
 *
 * Lifecycle: `listen` first (liveness answers while the bundle loads), then `load`; a load that
 * fails leaves the server not ready and is the caller's to act on (the CLI exits 2). `close` drains:
 * readiness turns 503, the listener stops accepting, requests already received finish (with
 * `connection: close`), idle keep-alive connections are closed, then the ONNX sessions are released.
 * Every request is logged as one JSON line (pino); probe and scrape requests at debug level.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { describeError, isOrreryError } from '../core/errors.ts';
import { ServeErrorIds, serveError } from './errors.ts';
import { validatePredictBody } from './input.ts';
import { ServingMetrics } from './metrics.ts';
import type { ServedModel } from './model.ts';

export type ServerState = 'loading' | 'ready' | 'failed' | 'draining' | 'closed';

export interface InferenceServerOptions {
  logger: Logger;
  /** Largest accepted `/predict` body (default 4 MiB). */
  maxBodyBytes?: number;
  /** Most rows in one `/predict` request (default 10,000). */
  maxRows?: number;
  /** How long `close` waits for requests in flight before cutting connections (default 25 s, inside Kubernetes' 30 s grace period). */
  drainTimeoutMs?: number;
}

const ROUTES: Record<string, string> = { '/predict': 'POST', '/healthz': 'GET', '/readyz': 'GET', '/metrics': 'GET', '/model': 'GET' };
const QUIET = new Set(['/healthz', '/readyz', '/metrics']);

export class InferenceServer {
  readonly metrics = new ServingMetrics();
  readonly server: Server;
  private readonly logger: Logger;
  private readonly maxBodyBytes: number;
  private readonly maxRows: number;
  private readonly drainTimeoutMs: number;
  private current: ServerState = 'loading';
  private served: ServedModel | undefined;
  private inFlight = 0;
  private idle: Array<() => void> = [];
  private closing: Promise<void> | undefined;
  private closedResolve!: () => void;
  /** Resolves when `close` has drained and released everything. */
  readonly closed = new Promise<void>((r) => (this.closedResolve = r));

  constructor(o: InferenceServerOptions) {
    this.logger = o.logger;
    this.maxBodyBytes = o.maxBodyBytes ?? 4 * 1024 * 1024;
    this.maxRows = o.maxRows ?? 10_000;
    this.drainTimeoutMs = o.drainTimeoutMs ?? 25_000;
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  get state(): ServerState {
    return this.current;
  }

  get model(): ServedModel | undefined {
    return this.served;
  }

  /** Starts listening (port 0: any free port). */
  async listen(port: number, host = '0.0.0.0'): Promise<{ url: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address() as AddressInfo;
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    const url = `http://${shown}:${addr.port}`;
    this.logger.info({ event: 'listening', host, port: addr.port, url }, `inference server listening on ${host}:${addr.port}`);
    return { url, port: addr.port };
  }

  /** Loads the model (the bundle verified by `loader`); the server is ready once it returns. */
  async load(loader: () => Promise<ServedModel>): Promise<ServedModel> {
    const started = performance.now();
    let model: ServedModel;
    try {
      model = await loader();
    } catch (e) {
      const d = describeError(e, ServeErrorIds.MODEL_INVALID);
      if (this.current === 'loading') this.current = 'failed';
      this.logger.error({ event: 'load_failed', error_id: d.errorId, details: d.details }, `model not loaded: ${d.errorId}: ${d.message}`);
      throw e;
    }
    if (this.current !== 'loading') {
      // Shut down while loading: never turn ready.
      await model.release();
      return model;
    }
    this.setModel(model);
    this.logger.info({ event: 'ready', ...model.identity, files: undefined, load_ms: Math.round(performance.now() - started) }, `serving ${model.identity.group} ${model.identity.version} (key ${model.identity.key_id})`);
    return model;
  }

  /** Serves an already loaded model. */
  setModel(model: ServedModel): void {
    if (this.current !== 'loading') throw new Error(`cannot set a model on a server that is ${this.current}`);
    this.served = model;
    this.current = 'ready';
    const id = model.identity;
    this.metrics.model.set({ group: id.group, version: id.version, timeframe: id.timeframe, key_id: id.key_id, feature_schema_hash: id.feature_schema_hash }, 1);
    this.metrics.ready.set(1);
  }

  /** Graceful shutdown: stop taking work, finish what is in flight, release the model. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    const wasListening = this.server.listening;
    this.current = 'draining';
    this.metrics.ready.set(0);
    this.logger.info({ event: 'draining', in_flight: this.inFlight }, `draining: ${this.inFlight} request(s) in flight`);
    const stopped = new Promise<void>((r) => (wasListening ? this.server.close(() => r()) : r()));
    this.server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const drained = this.inFlight === 0 ? Promise.resolve(true) : new Promise<boolean>((r) => this.idle.push(() => r(true)));
    const timedOut = new Promise<boolean>((r) => { timer = setTimeout(() => r(false), this.drainTimeoutMs); timer.unref(); });
    const clean = await Promise.race([drained, timedOut]);
    clearTimeout(timer);
    if (!clean) this.logger.warn({ event: 'drain_timeout', in_flight: this.inFlight }, `drain timed out after ${this.drainTimeoutMs} ms with ${this.inFlight} request(s) in flight; closing their connections`);
    this.server.closeAllConnections();
    await stopped;
    await this.served?.release();
    this.current = 'closed';
    this.logger.info({ event: 'closed' }, 'inference server closed');
    this.closedResolve();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    this.inFlight++;
    const path = (req.url ?? '/').split('?')[0];
    let rows: number | undefined;
    try {
      const method = ROUTES[path];
      if (!method) throw serveError(ServeErrorIds.HTTP_NOT_FOUND, `No endpoint ${path}: this server answers POST /predict and GET /healthz, /readyz, /metrics, /model.`, { path });
      if (req.method !== method) {
        res.setHeader('allow', method);
        throw serveError(ServeErrorIds.HTTP_METHOD, `${path} takes ${method}, not ${req.method}.`, { path, method: req.method });
      }
      if (path === '/healthz') return this.json(res, 200, { status: 'ok', state: this.current });
      if (path === '/readyz') {
        if (this.current === 'ready') return this.json(res, 200, { status: 'ready', version: this.served!.identity.version });
        return this.json(res, 503, { status: this.current, error_id: ServeErrorIds.STATE_NOT_READY, message: this.notReadyMessage() });
      }
      if (path === '/metrics') {
        const body = await this.metrics.text();
        if (this.current === 'draining') res.setHeader('connection', 'close');
        res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(body);
        return;
      }
      const model = this.served;
      if (path === '/model') {
        if (!model || this.current === 'loading' || this.current === 'failed') throw serveError(ServeErrorIds.STATE_NOT_READY, this.notReadyMessage(), { state: this.current });
        return this.json(res, 200, model.identity);
      }
      // POST /predict
      if (!model || this.current !== 'ready') {
        // Draining with a model: requests already on a connection are still answered.
        if (!(model && this.current === 'draining')) throw serveError(ServeErrorIds.STATE_NOT_READY, this.notReadyMessage(), { state: this.current });
      }
      const text = await this.readBody(req);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (e) {
        throw serveError(ServeErrorIds.INPUT_INVALID, `The /predict body is not JSON (${(e as Error).message}); send { "rows": [ … ] }.`, {});
      }
      const count = (body as { rows?: unknown })?.rows;
      if (Array.isArray(count) && count.length > this.maxRows) {
        throw serveError(ServeErrorIds.INPUT_TOO_LARGE, `${count.length} rows in one request is over the limit of ${this.maxRows}; split the request.`, { rows: count.length, max_rows: this.maxRows });
      }
      const valid = validatePredictBody(body, model!.featureNames, { maxRows: this.maxRows });
      rows = valid.length;
      let predictions;
      try {
        predictions = await model!.predict(valid);
      } catch (e) {
        throw serveError(ServeErrorIds.INFER_FAILED, `Inference failed on valid input: ${(e as Error).message}.`, {}, e);
      }
      const id = model!.identity;
      this.json(res, 200, { model_version: id.version, group: id.group, timeframe: id.timeframe, predictions });
      this.metrics.latency.observe((performance.now() - started) / 1000);
      this.metrics.rows.inc(predictions.length);
      for (const p of predictions) if (p.signal !== 'none') this.metrics.signals.inc({ signal: p.signal });
    } catch (e) {
      const d = describeError(e, ServeErrorIds.INFER_FAILED);
      const status = statusOf(d.errorId);
      if (!isOrreryError(e) || status >= 500) this.logger.error({ event: 'request_error', error_id: d.errorId, err: e }, d.message);
      // An oversized body is not read to its end: the connection cannot carry another request.
      if (d.errorId === ServeErrorIds.INPUT_TOO_LARGE) res.setHeader('connection', 'close');
      if (!res.headersSent) this.json(res, status, { error_id: d.errorId, message: d.message, details: d.details });
      else res.end();
    } finally {
      if (path === '/predict') this.metrics.requests.inc({ status: String(res.statusCode) });
      const entry = { event: 'request', method: req.method, path, status: res.statusCode, duration_ms: Math.round((performance.now() - started) * 1000) / 1000, ...(rows === undefined ? {} : { rows }) };
      if (QUIET.has(path) && res.statusCode < 400) this.logger.debug(entry, 'request');
      else this.logger.info(entry, 'request');
      this.finish(res);
    }
  }

  /** Counts the request out once its response is flushed. */
  private finish(res: ServerResponse): void {
    const done = () => {
      this.inFlight--;
      if (this.inFlight === 0) for (const r of this.idle.splice(0)) r();
    };
    if (res.writableFinished) done();
    else res.once('close', done);
  }

  private notReadyMessage(): string {
    switch (this.current) {
      case 'loading': return 'The model bundle is still loading and being verified; retry shortly.';
      case 'failed': return 'The model bundle could not be loaded or verified (see the server log); this server will not serve.';
      default: return 'The server is shutting down; send requests to another replica.';
    }
  }

  private json(res: ServerResponse, status: number, doc: unknown): void {
    const body = JSON.stringify(doc);
    // Draining: the client must not send another request on this connection.
    if (this.current === 'draining') res.setHeader('connection', 'close');
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body);
  }

  private readBody(req: IncomingMessage): Promise<string> {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.maxBodyBytes) {
      req.resume();
      return Promise.reject(tooLarge(declared, this.maxBodyBytes));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      req.on('data', (c: Buffer) => {
        if (over) return;
        size += c.length;
        if (size > this.maxBodyBytes) {
          over = true;
          reject(tooLarge(size, this.maxBodyBytes));
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => { if (!over) resolve(Buffer.concat(chunks).toString('utf8')); });
      req.on('error', reject);
    });
  }
}

function tooLarge(size: number, max: number) {
  return serveError(ServeErrorIds.INPUT_TOO_LARGE, `The /predict body (${size} bytes or more) is over the limit of ${max} bytes; split the request.`, { bytes: size, max_bytes: max });
}

/** HTTP status of an error id. */
export function statusOf(errorId: string): number {
  switch (errorId) {
    case ServeErrorIds.INPUT_INVALID: return 400;
    case ServeErrorIds.INPUT_TOO_LARGE: return 413;
    case ServeErrorIds.HTTP_NOT_FOUND: return 404;
    case ServeErrorIds.HTTP_METHOD: return 405;
    case ServeErrorIds.STATE_NOT_READY: return 503;
    default: return 500;
  }
}
