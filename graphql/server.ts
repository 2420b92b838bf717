/**
 * The API server: GraphQL at /graphql (graphql-yoga, SSE subscriptions), the lineage UI at /,
 * /healthz and Prometheus /metrics. Authentication happens here, before anything is parsed:
 * a request without a valid Bearer JWT gets HTTP 401 and never reaches GraphQL.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GraphQLError, Kind, parse, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import pino, { type Logger } from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import { OrreryError } from '../core/errors.ts';
import type { EventLog } from '../core/event-log/port.ts';
import type { Runtime } from '../core/runtime.ts';
import { tokenVerifier, type AuthConfig, type Viewer } from './auth.ts';
import { isApiEventLog, type ApiEventLog, type RequestState, type Services } from './context.ts';
import { ApiErrorIds } from './errors.ts';
import { DEFAULT_REQUEST_LIMITS, limitsPlugin, type RequestLimits } from './limits.ts';
import { Loaders, STALE_EXACT_MAX_ROWS } from './loaders.ts';
import { buildSchema, redact, type SchemaLimits } from './schema.ts';

export type ServerLimits = SchemaLimits & RequestLimits & {
  /** Request body bytes. */
  bodyBytes: number;
  /** Above this many state rows (an asset's and its inputs') staleness is counted by code version only. */
  staleExactRows: number;
};

export interface OrreryServerOptions {
  runtime: Runtime;
  /** The event log; must also implement EventLogQueries (the Postgres/PGlite one does). */
  eventLog: EventLog;
  auth: AuthConfig;
  logger?: Logger;
  /** Schema introspection (`__schema`, `__type`); off unless asked for. */
  introspection?: boolean;
  limits?: Partial<ServerLimits>;
  /** Sensors known to code, registered in the event log (existing ones keep their state). */
  sensors?: ReadonlyArray<{ name: string; intervalSeconds: number; enabled?: boolean }>;
  /** More Prometheus text appended to /metrics (e.g. the instance's pipeline metrics). */
  metrics?: { text(): Promise<string> };
  /** Poll interval of the runEvents subscription (ms). */
  pollMs?: number;
  /** Serve the lineage UI at / (default true). */
  ui?: boolean;
}

export interface OrreryServer {
  fetch(request: Request): Promise<Response>;
  /** A Node `http` request listener. */
  handler(req: IncomingMessage, res: ServerResponse): void;
  listen(port: number, host?: string): Promise<{ url: string; port: number; close(): Promise<void> }>;
  /** Cancels the runs this server launched and waits (up to `timeoutMs`) for them to end. */
  drain(timeoutMs?: number): Promise<void>;
}

type UiFiles = Map<string, { body: Buffer | string; type: string }>;

const JSON_TYPE = 'application/json; charset=utf-8';

/** What the HTTP layer hands to GraphQL (and, on the way back, to metrics). */
interface ServerContext {
  viewer: Viewer;
  requestId: string;
  state: RequestState;
  started: number;
}

export function createOrreryServer(o: OrreryServerOptions): OrreryServer {
  if (!isApiEventLog(o.eventLog)) throw new OrreryError('CORE_CONFIG_INVALID', 'The GraphQL server needs the Postgres event log (it implements the batched API reads, audit and sensors).', {});
  const eventLog: ApiEventLog = o.eventLog;
  const logger = o.logger ?? pino({ level: 'silent' });
  const limits: ServerLimits = { depth: 12, complexity: 50_000, breadth: 400, ...DEFAULT_REQUEST_LIMITS, bodyBytes: 256 * 1024, staleExactRows: STALE_EXACT_MAX_ROWS, ...o.limits };
  const verify = tokenVerifier(o.auth);
  const services: Services = { runtime: o.runtime, eventLog, logger, active: new Map(), pollMs: o.pollMs ?? 250, staleExactMaxRows: limits.staleExactRows };
  const ready = eventLog.ensureSensors(o.sensors ?? []);
  ready.catch(() => {});

  const registry = new Registry();
  const requests = new Counter({ name: 'graphql_requests_total', help: 'GraphQL requests by operation and outcome.', labelNames: ['operation', 'status'], registers: [registry] });
  const duration = new Histogram({ name: 'graphql_request_duration_seconds', help: 'GraphQL request duration (until the response head; subscriptions stream after).', labelNames: ['operation'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
  // Operation names come from clients: cap the distinct labels so /metrics cannot grow without bound.
  const seenOperations = new Set<string>();
  const opLabel = (name: string | undefined) => {
    const n = name ?? 'unknown';
    if (seenOperations.has(n)) return n;
    if (seenOperations.size >= 200) return 'other';
    seenOperations.add(n);
    return n;
  };

  const yoga = createYoga<ServerContext>({
    schema: buildSchema({ limits }),
    graphqlEndpoint: '/graphql',
    graphiql: false,
    landingPage: false,
    batching: { limit: limits.batch },
    // Yoga's own limit pipes every body through a TransformStream (a stream pipeline, an
    // AbortController and a DOMException per request); frontDoor enforces bodyBytes instead.
    maxRequestBodySize: false,
    logging: { debug: () => {}, info: () => {}, warn: (...a: unknown[]) => logger.warn({ yoga: a.map(String) }, 'graphql'), error: (...a: unknown[]) => logger.error({ yoga: a.map(String) }, 'graphql') },
    context: () => ({ services, loaders: new Loaders(o.runtime.graph, eventLog, limits.staleExactRows) }),
    maskedErrors: {
      maskError(error, message) {
        const original = error instanceof GraphQLError ? error.originalError : error;
        const located = error instanceof GraphQLError ? error : undefined;
        if (original instanceof OrreryError) {
          return new GraphQLError(original.message, { nodes: located?.nodes, path: located?.path, extensions: { code: original.errorId } });
        }
        if (located && (!original || original instanceof GraphQLError)) return located;
        logger.error({ err: original }, 'unexpected error in a resolver');
        return new GraphQLError(message === 'Unexpected error.' ? 'Internal error; the server log has the details.' : message, { nodes: located?.nodes, path: located?.path, extensions: { code: ApiErrorIds.INTERNAL } });
      },
    },
    plugins: [frontDoor(), limitsPlugin(limits, o.introspection ?? false), auditRejected()],
  });
  const { Response } = yoga.fetchAPI;

  /** Audit rows for the mutations of a request refused before GraphQL (no or bad token). */
  async function auditRefused(request: Request, url: URL, requestId: string, errorId: string): Promise<void> {
    try {
      let docs: Array<{ query?: unknown; variables?: unknown; operationName?: unknown }> = [];
      if (request.method === 'GET') docs = [{ query: url.searchParams.get('query') ?? undefined, variables: url.searchParams.get('variables') ?? undefined }];
      else {
        const text = await request.clone().text();
        if (text.length > limits.bodyBytes) return;
        const body = JSON.parse(text) as unknown;
        docs = (Array.isArray(body) ? body : [body]) as typeof docs;
      }
      let rows = 0;
      for (const d of docs.slice(0, limits.batch)) {
        if (typeof d?.query !== 'string' || !/\bmutation\b/.test(d.query)) continue;
        const doc = parse(d.query, { maxTokens: limits.tokens });
        const variables = typeof d.variables === 'string' ? (JSON.parse(d.variables) as unknown) : d.variables;
        for (const def of doc.definitions) {
          if (def.kind !== Kind.OPERATION_DEFINITION || (def as OperationDefinitionNode).operation !== 'mutation') continue;
          for (const sel of (def as OperationDefinitionNode).selectionSet.selections) {
            if (sel.kind !== Kind.FIELD || rows++ >= 10) continue;
            await eventLog.recordAudit({ subject: null, role: null, operation: sel.name.value, variables: (redact(variables ?? {}) ?? {}) as never, requestId, outcome: 'unauthenticated', errorId });
          }
        }
      }
    } catch (e) {
      // An unreadable body is refused all the same; only its audit detail is lost.
      logger.warn({ err: e, requestId }, 'could not audit a refused request');
    }
  }

  const jsonResponse = (status: number, doc: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(doc), { status, headers: { 'content-type': JSON_TYPE, ...headers } });
  const errorResponse = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
    jsonResponse(status, { errors: [{ message, extensions: { code } }] }, headers);

  /** Authenticates a /graphql request; a Response when it is refused. */
  async function authenticate(request: Request, url: URL, requestId: string): Promise<Viewer | Response> {
    const length = Number(request.headers.get('content-length') ?? 0);
    if (length > limits.bodyBytes) return errorResponse(413, ApiErrorIds.LIMIT_SIZE, `The request body is larger than ${limits.bodyBytes} bytes.`, { connection: 'close' });
    const header = request.headers.get('authorization');
    const streaming = request.method === 'GET' || (request.headers.get('accept') ?? '').includes('text/event-stream');
    // EventSource cannot set headers: subscriptions (and GETs) may carry the token as ?token=.
    const token = header?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? (streaming ? url.searchParams.get('token') ?? undefined : undefined);
    try {
      if (!token) throw new OrreryError(ApiErrorIds.UNAUTHENTICATED, header ? 'The Authorization header must be "Bearer <JWT>".' : 'Authentication required: send "Authorization: Bearer <JWT>" (orrery dev prints a local admin token).', {});
      return await verify(token);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      await auditRefused(request, url, requestId, ApiErrorIds.UNAUTHENTICATED);
      return errorResponse(401, ApiErrorIds.UNAUTHENTICATED, message, { 'www-authenticate': 'Bearer realm="orrery"' });
    }
  }

  /**
   * Audit rows for mutations refused before their resolver ran: by validation (limits, unknown
   * fields, bad arguments) or by the complexity check at the start of execution.
   */
  function auditRejected(): Plugin<{}, ServerContext> {
    const write = async (ctx: Partial<ServerContext>, doc: DocumentNode, variables: unknown, errorId: string, outcome: string) => {
      // One row per mutation field name, at most ten: a refused request cannot flood the audit.
      const names = new Set<string>();
      for (const def of doc.definitions) {
        if (def.kind !== Kind.OPERATION_DEFINITION || def.operation !== 'mutation') continue;
        for (const sel of def.selectionSet.selections) {
          if (sel.kind !== Kind.FIELD || ctx.state?.audited?.has(sel.name.value) || names.has(sel.name.value) || names.size >= 10) continue;
          names.add(sel.name.value);
          try {
            await eventLog.recordAudit({ subject: ctx.viewer?.subject ?? null, role: ctx.viewer?.role ?? null, operation: sel.name.value, variables: (redact(variables ?? {}) ?? {}) as never, requestId: ctx.requestId ?? null, outcome, errorId });
          } catch (e) {
            logger.error({ err: e }, 'audit row could not be written');
          }
        }
      }
    };
    return {
      onValidate({ params, context }) {
        return ({ result }) => {
          if (result.length === 0) return;
          const code = result[0].extensions?.code;
          const ctx = context as unknown as Partial<ServerContext> & { params?: { variables?: unknown } };
          void write(ctx, params.documentAST, ctx.params?.variables, typeof code === 'string' ? code : ApiErrorIds.QUERY_INVALID, 'rejected');
        };
      },
      onExecute({ args }) {
        const isMutation = (args.document as DocumentNode).definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION && d.operation === 'mutation');
        if (!isMutation) return;
        return {
          async onExecuteDone({ result }) {
            const errors = 'errors' in result ? result.errors : undefined;
            if (!errors?.length) return;
            const code = errors[0].extensions?.code;
            await write(args.contextValue as Partial<ServerContext>, args.document as DocumentNode, args.variableValues, typeof code === 'string' ? code : ApiErrorIds.INTERNAL, 'rejected');
          },
        };
      },
    };
  }

  /**
   * Everything before and after GraphQL, as a yoga plugin (so yoga's own Node adapter serves it):
   * routing of /healthz, /metrics and the UI, authentication, request ids and metrics.
   */
  function frontDoor(): Plugin<{}, ServerContext> {
    return {
      async onRequest({ request, url, serverContext, endResponse }) {
        const given = request.headers.get('x-request-id');
        const requestId = given && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
        serverContext.requestId = requestId;
        serverContext.started = performance.now();
        serverContext.state = {};
        const end = (r: Response) => { r.headers.set('x-request-id', requestId); endResponse(r); };
        try {
          if (url.pathname === '/graphql') {
            const viewer = await authenticate(request, url, requestId);
            if (viewer instanceof Response) return end(viewer);
            serverContext.viewer = viewer;
            await ready;
            return;
          }
          if (url.pathname === '/healthz') {
            try {
              await eventLog.getRun('healthz');
              return end(jsonResponse(200, { status: 'ok' }));
            } catch (e) {
              return end(jsonResponse(503, { status: 'unavailable', error: e instanceof Error ? e.message : String(e) }));
            }
          }
          if (url.pathname === '/metrics') {
            const text = (await registry.metrics()) + (o.metrics ? `\n${await o.metrics.text()}` : '');
            return end(new Response(text, { headers: { 'content-type': registry.contentType } }));
          }
          if ((request.method === 'GET' || request.method === 'HEAD') && o.ui !== false) return end(await uiRequest(url));
          return end(errorResponse(404, ApiErrorIds.QUERY_INVALID, `Nothing at ${request.method} ${url.pathname}; GraphQL is at /graphql.`));
        } catch (e) {
          logger.error({ err: e, requestId }, 'request failed');
          return end(errorResponse(500, ApiErrorIds.INTERNAL, 'Internal error; the server log has the details.'));
        }
      },
      onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
        // A body with a valid Content-Length cannot be longer than that (the HTTP parser frames it
        // by that length), and authenticate refused lengths above bodyBytes. Any other body
        // (chunked, or built without the header) is counted as it is read.
        const length = request.headers.get('content-length');
        if (length !== null && !/^\d+$/.test(length)) {
          throw new GraphQLError('The Content-Length header is not valid.', { extensions: { code: ApiErrorIds.QUERY_INVALID, http: { status: 400 } } });
        }
        if (length !== null || request.body === null || !requestParser) return;
        const parse = requestParser;
        setRequestParser((req) => parse(limitedBody(req, fetchAPI)));
      },
      onResponse({ request, response, serverContext }) {
        if (!serverContext.viewer || !request.url.includes('/graphql')) return;
        response.headers.set('x-request-id', serverContext.requestId);
        const op = opLabel(serverContext.state.operation);
        requests.inc({ operation: op, status: response.status >= 400 ? 'rejected' : serverContext.state.failed ? 'error' : 'ok' });
        duration.observe({ operation: op }, (performance.now() - serverContext.started) / 1000);
      },
    };
  }

  /** The request with a body that fails (HTTP 413) once more than bodyBytes have been read. */
  function limitedBody(request: Request, fetchAPI: { Request: typeof Request; TransformStream: typeof TransformStream }): Request {
    let read = 0;
    // Node's own ReadableStream needs Node's TransformStream (yoga's ponyfill cannot pipe it).
    const Transform = request.body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
    const body = request.body!.pipeThrough(new Transform<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        read += chunk.byteLength;
        if (read > limits.bodyBytes) controller.error(new GraphQLError(`The request body is larger than ${limits.bodyBytes} bytes.`, { extensions: { code: ApiErrorIds.LIMIT_SIZE, http: { status: 413 } } }));
        else controller.enqueue(chunk);
      },
    }));
    return new fetchAPI.Request(request.url, { method: request.method, headers: request.headers, signal: request.signal, body, duplex: 'half' } as RequestInit);
  }

  let uiPromise: Promise<UiFiles | undefined> | undefined;
  const uiFiles = () => {
    uiPromise ??= (async () => {
      const path = fileURLToPath(new URL('./ui/serve.ts', import.meta.url));
      if (!existsSync(path)) return undefined;
      try {
        const mod = (await import(pathToFileURL(path).href)) as { uiBundle?: () => Promise<{ files: UiFiles }> };
        return (await mod.uiBundle?.())?.files;
      } catch (e) {
        logger.error({ err: e }, 'the lineage UI could not be built');
        uiPromise = undefined;
        return undefined;
      }
    })();
    return uiPromise;
  };

  async function uiRequest(url: URL): Promise<Response> {
    const files = await uiFiles();
    const headers = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
    if (!files) {
      if (url.pathname !== '/') return new Response('not found\n', { status: 404, headers });
      return new Response('<!doctype html><title>Orrery</title><p>Orrery GraphQL API: POST queries to <code>/graphql</code> with <code>Authorization: Bearer &lt;token&gt;</code>. The lineage UI is not built in this checkout.</p>', { headers: { ...headers, 'content-type': 'text/html; charset=utf-8' } });
    }
    const path = url.pathname === '/' ? '/index.html' : url.pathname;
    // A path without an extension is a client-side route of the UI: it gets the page.
    const page = !/\.[a-z0-9]+$/i.test(url.pathname) ? files.get('/index.html') ?? files.get('/') : undefined;
    const file = files.get(path) ?? files.get(path.slice(1)) ?? page;
    if (!file) return new Response('not found\n', { status: 404, headers });
    return new Response(typeof file.body === 'string' ? file.body : new Uint8Array(file.body), { headers: { ...headers, 'content-type': file.type } });
  }

  const fetch = (request: Request): Promise<Response> => Promise.resolve(yoga.fetch(request, {} as ServerContext));
  const handler = (req: IncomingMessage, res: ServerResponse): void => { void yoga(req, res); };

  async function drain(timeoutMs = 10_000): Promise<void> {
    const runs = [...services.active.entries()];
    await Promise.all(runs.map(([id]) => o.runtime.cancel(id).catch(() => false)));
    await Promise.race([Promise.all(runs.map(([, p]) => p)), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  return {
    fetch,
    handler,
    drain,
    listen(port, host = '127.0.0.1') {
      const server = createServer(handler);
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const address = server.address() as AddressInfo;
          const shown = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
          resolve({
            url: `http://${shown}:${address.port}`,
            port: address.port,
            close: () => new Promise<void>((done) => {
              server.close(() => done());
              server.closeAllConnections();
            }),
          });
        });
      });
    },
  };
}
