/** A running API server over a real Postgres schema and a small asset graph, for the GraphQL tests. */
import { defineAsset, input, type AssetDefinition } from '../../core/definitions/asset.ts';
import { StaticPartitions } from '../../core/partitions/definitions.ts';
import { allPartitions } from '../../core/partitions/mappings.ts';
import { TimeWindowPartitions } from '../../core/partitions/time-window.ts';
import { openPgEventLog, type PostgresEventLog } from '../../adapters/postgres/event-log.ts';
import { signToken, type Role } from '../../graphql/auth.ts';
import { createOrreryServer, type OrreryServer, type OrreryServerOptions } from '../../graphql/server.ts';
import { dropSchema, freshSchemaName, testPostgresUrl } from '../support/postgres.ts';
import { testRuntime, type TestRuntime } from '../support/runtime.ts';

export const SECRET = 'test-secret-0123456789abcdef0123456789abcdef';
export const months = new TimeWindowPartitions({ cadence: 'monthly', start: '2024-01-01', end: '2024-07-01' });

/** Mutable knobs the assets read: a new generation changes prices' data (so downstream goes stale). */
export const knobs = { generation: 1, slowMs: 0, failReturns: new Set<string>() };

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

export function testAssets(extraCount = 60): AssetDefinition<any, any, any>[] {
  const prices = defineAsset<number[]>({
    key: 'prices',
    description: 'Raw monthly prices',
    group: 'market',
    kinds: ['table'],
    partitions: months,
    codeVersion: '1',
    checks: [{ name: 'not_march', severity: 'WARN', evaluate: (_v, ctx) => ({ passed: ctx.partitionKey !== '2024-03' }) }],
    compute: (ctx) => ({ value: [knobs.generation, Number(ctx.partitionKey.slice(5))] as number[], metadata: { rows: 2, generation: knobs.generation } }),
  });
  const returns = defineAsset({
    key: 'returns',
    description: 'Returns derived from prices',
    group: 'features',
    partitions: months,
    ins: { prices: input(prices) },
    codeVersion: '1',
    retry: { maxAttempts: 1 },
    async compute(ctx, { prices }) {
      if (knobs.failReturns.has(ctx.partitionKey)) throw new Error(`no returns for ${ctx.partitionKey}`);
      const [{ value }] = await prices.loadAll();
      return { value: value[0] + value[1] };
    },
  });
  const summary = defineAsset({
    key: 'summary',
    group: 'features',
    ins: { returns: input(returns, { mapping: allPartitions() }) },
    codeVersion: '1',
    async compute(_ctx, { returns }) {
      return { value: (await returns.loadAll()).length };
    },
  });
  const slow = defineAsset<number>({
    key: 'slow',
    group: 'ops',
    partitions: new StaticPartitions(['s1', 's2', 's3', 's4']),
    codeVersion: '1',
    async compute(ctx) {
      await sleep(knobs.slowMs, ctx.signal);
      return { value: 1 };
    },
  });
  const extras = Array.from({ length: extraCount }, (_, i) => defineAsset<number>({
    key: `bulk_${String(i).padStart(3, '0')}`,
    group: 'bulk',
    partitions: months,
    ins: i % 2 ? { prices: input(prices) } : {},
    codeVersion: '1',
    checks: [{ name: 'ok', severity: 'WARN', evaluate: () => ({ passed: true }) }],
    compute: () => ({ value: i }),
  }));
  return [prices, returns, summary, slow, ...extras];
}

export interface TestServer {
  url: string;
  eventLog: PostgresEventLog;
  rt: TestRuntime;
  server: OrreryServer;
  token(role: Role, subject?: string): Promise<string>;
  gql<T = any>(query: string, variables?: Record<string, unknown>, options?: { role?: Role | null; token?: string; headers?: Record<string, string> }): Promise<{ status: number; body: { data?: T; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } }>;
  close(): Promise<void>;
}

export async function startTestServer(options: Partial<OrreryServerOptions> = {}): Promise<TestServer> {
  const pgUrl = await testPostgresUrl();
  const schema = freshSchemaName('graphql');
  const eventLog = await openPgEventLog(pgUrl, { schema });
  const rt = await testRuntime(testAssets(), { eventLog });
  const server = createOrreryServer({
    runtime: rt.runtime,
    eventLog,
    auth: { secret: SECRET },
    sensors: [{ name: 'new_bars', intervalSeconds: 60 }, { name: 'retrain', intervalSeconds: 3600, enabled: false }],
    pollMs: 50,
    ...options,
  });
  const listening = await server.listen(0, '127.0.0.1');
  const token = (role: Role, subject = `${role}-user`) => signToken(SECRET, { subject, role });
  return {
    url: listening.url,
    eventLog,
    rt,
    server,
    token,
    async gql(query, variables = {}, o = {}) {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...o.headers };
      const tok = o.token ?? (o.role === null ? undefined : await token(o.role ?? 'viewer'));
      if (tok) headers.authorization = `Bearer ${tok}`;
      const res = await fetch(`${listening.url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
      return { status: res.status, body: await res.json() };
    },
    async close() {
      await server.drain(5_000);
      await listening.close();
      await rt.close();
      await eventLog.close();
      await dropSchema(pgUrl, schema);
    },
  };
}

/** Polls until the run has ended; returns its final status. */
export async function waitForRun(s: TestServer, runId: string, timeoutMs = 20_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await s.gql<{ run: { status: string } }>('query($id: ID!) { run(id: $id) { status } }', { id: runId });
    const status = r.body.data?.run?.status;
    if (status && ['SUCCESS', 'FAILED', 'CANCELED'].includes(status)) return status;
    if (Date.now() > until) throw new Error(`run ${runId} still ${status} after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 50));
  }
}
