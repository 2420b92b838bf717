/**
 * The GraphQL API against a running server on real Postgres: every query and mutation,
 * pagination, auth per role, audit rows, limits, hostile inputs, the SSE subscription, and the
 * number of SQL statements a page costs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knobs, startTestServer, waitForRun, type TestServer } from './support.ts';

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

const code = (body: { errors?: Array<{ extensions?: Record<string, unknown> }> }) => body.errors?.[0]?.extensions?.code;

async function launch(selection: string, partitionKeys?: string[], role: 'editor' | 'admin' = 'editor', force = false): Promise<string> {
  const r = await s.gql('mutation($sel: String!, $keys: [String!], $force: Boolean) { launchMaterialization(selection: $sel, partitionKeys: $keys, force: $force) { runId } }', { sel: selection, keys: partitionKeys ?? null, force }, { role });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.launchMaterialization.runId;
}

describe('authentication and roles', () => {
  it('answers 401 with API_AUTH_UNAUTHENTICATED without a token, with a bad one, and with a wrong role claim', async () => {
    const none = await s.gql('{ viewer { subject } }', {}, { role: null });
    expect(none.status).toBe(401);
    expect(code(none.body)).toBe('API_AUTH_UNAUTHENTICATED');
    expect(none.body.data).toBeUndefined();

    const forged = await s.gql('{ viewer { subject } }', {}, { token: (await s.token('admin')).slice(0, -4) + 'AAAA' });
    expect(forged.status).toBe(401);
    expect(code(forged.body)).toBe('API_AUTH_UNAUTHENTICATED');

    const { SignJWT } = await import('jose');
    const otherKey = new TextEncoder().encode('another-secret-0123456789abcdef0123456789');
    const foreign = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setSubject('mallory').setExpirationTime('1h').sign(otherKey);
    expect((await s.gql('{ viewer { subject } }', {}, { token: foreign })).status).toBe(401);

    const { SECRET } = await import('./support.ts');
    const badRole = await new SignJWT({ role: 'root' }).setProtectedHeader({ alg: 'HS256' }).setSubject('eve').setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
    const r = await s.gql('{ viewer { subject } }', {}, { token: badRole });
    expect(r.status).toBe(401);
    expect(r.body.errors?.[0].message).toMatch(/role/);
  });

  it('tells the viewer who they are', async () => {
    const r = await s.gql('{ viewer { subject role } }', {}, { role: 'approver' });
    expect(r.body.data.viewer).toEqual({ subject: 'approver-user', role: 'APPROVER' });
  });

  it('refuses a viewer launching (FORBIDDEN) and audits allowed, refused and unauthenticated mutations', async () => {
    const refused = await s.gql('mutation { launchMaterialization(selection: "prices") { runId } }', {}, { role: 'viewer', headers: { 'x-request-id': 'req-viewer-1' } });
    expect(code(refused.body)).toBe('API_AUTH_FORBIDDEN');
    expect(refused.body.data).toBeNull();

    const anon = await s.gql('mutation { cancelRun(id: "x") { id } }', {}, { role: null, headers: { 'x-request-id': 'req-anon-1' } });
    expect(anon.status).toBe(401);

    const editorSensor = await s.gql('mutation { setSensorEnabled(name: "new_bars", enabled: false) { enabled } }', {}, { role: 'editor', headers: { 'x-request-id': 'req-editor-1' } });
    expect(code(editorSensor.body)).toBe('API_AUTH_FORBIDDEN');

    const approved = await s.gql('mutation { setSensorEnabled(name: "new_bars", enabled: false) { name enabled intervalSeconds } }', {}, { role: 'approver', headers: { 'x-request-id': 'req-approver-1' } });
    expect(approved.body.data.setSensorEnabled).toEqual({ name: 'new_bars', enabled: false, intervalSeconds: 60 });
    const sensors = await s.gql('{ sensors { name enabled intervalSeconds lastTick cursor } }');
    expect(sensors.body.data.sensors).toEqual([
      { name: 'new_bars', enabled: false, intervalSeconds: 60, lastTick: null, cursor: null },
      { name: 'retrain', enabled: false, intervalSeconds: 3600, lastTick: null, cursor: null },
    ]);
    const unknown = await s.gql('mutation { setSensorEnabled(name: "nope", enabled: true) { enabled } }', {}, { role: 'admin' });
    expect(code(unknown.body)).toBe('API_SENSOR_UNKNOWN');

    const audit = await s.eventLog.listAudit({ limit: 50 });
    const byRequest = (id: string) => audit.filter((a) => a.requestId === id);
    expect(byRequest('req-viewer-1')).toEqual([expect.objectContaining({ subject: 'viewer-user', role: 'viewer', operation: 'launchMaterialization', outcome: 'forbidden', errorId: 'API_AUTH_FORBIDDEN', variables: { selection: 'prices' } })]);
    expect(byRequest('req-anon-1')).toEqual([expect.objectContaining({ subject: null, role: null, operation: 'cancelRun', outcome: 'unauthenticated', errorId: 'API_AUTH_UNAUTHENTICATED' })]);
    expect(byRequest('req-editor-1')).toEqual([expect.objectContaining({ role: 'editor', operation: 'setSensorEnabled', outcome: 'forbidden' })]);
    expect(byRequest('req-approver-1')).toEqual([expect.objectContaining({ subject: 'approver-user', role: 'approver', operation: 'setSensorEnabled', outcome: 'ok', errorId: null, variables: { name: 'new_bars', enabled: false } })]);
    expect(audit.find((a) => a.operation === 'setSensorEnabled' && a.outcome === 'error')?.errorId).toBe('API_SENSOR_UNKNOWN');
    for (const a of audit) expect(a.at).toBeInstanceOf(Date);
  });

  it('generates a request id when none is sent and returns it', async () => {
    const res = await fetch(`${s.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await s.token('viewer')}` }, body: JSON.stringify({ query: '{ viewer { role } }' }) });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('launching and reading', () => {
  it('launches a materialization, returns its run id at once, and the run and assets tell what happened', async () => {
    knobs.failReturns = new Set(['2024-02']);
    const runId = await launch('prices,returns');
    expect(await waitForRun(s, runId)).toBe('FAILED');
    knobs.failReturns = new Set();

    const run = await s.gql(`query($id: ID!) { run(id: $id) { id kind status selection createdAt startedAt endedAt stepsTotal error
      stepCounts { succeeded failed skipped running canceled }
      steps(first: 5) { edges { cursor node { assetKey partitionKey status attempt error } } pageInfo { hasNextPage endCursor } }
      events(first: 3) { edges { node { id type assetKey partitionKey timestamp payload } } pageInfo { hasNextPage endCursor } } } }`, { id: runId });
    const r = run.body.data.run;
    expect(r).toMatchObject({ id: runId, kind: 'materialize', status: 'FAILED', selection: 'prices,returns', stepsTotal: 12 });
    expect(r.error.error_id).toBe('CORE_STEP_FAILED');
    expect(r.stepCounts).toEqual({ succeeded: 11, failed: 1, skipped: 0, running: 0, canceled: 0 });
    expect(r.steps.edges).toHaveLength(5);
    expect(r.steps.pageInfo.hasNextPage).toBe(true);
    expect(r.events.edges[0].node.type).toBe('RUN_START');

    // All steps over pages: no duplicates, no gaps.
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = await s.gql('query($id: ID!, $after: String) { run(id: $id) { steps(first: 5, after: $after) { edges { node { assetKey partitionKey status } } pageInfo { hasNextPage endCursor } } } }', { id: runId, after });
      const steps = page.body.data.run.steps;
      seen.push(...steps.edges.map((e: any) => `${e.node.assetKey}/${e.node.partitionKey}`));
      if (!steps.pageInfo.hasNextPage) break;
      after = steps.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(12);
    expect(new Set(seen).size).toBe(12);

    const asset = await s.gql(`{ asset(key: "returns") { key description group kinds codeVersion partitionsDefinition
      upstream { key input mapping asset { key } } downstream { key input mapping }
      partitionStats { total materialized failed missing stale quarantined staleExact }
      latestMaterialization { runId partitionKey timestamp dataVersion codeVersion metadata } checks { name } staleCauses { partitionKey reason } } }`);
    const a = asset.body.data.asset;
    expect(a).toMatchObject({ key: 'returns', description: 'Returns derived from prices', group: 'features', codeVersion: '1' });
    expect(a.partitionsDefinition.kind).toBe('time');
    expect(a.upstream).toEqual([{ key: 'prices', input: 'prices', mapping: 'identity', asset: { key: 'prices' } }]);
    expect(a.downstream).toEqual([{ key: 'summary', input: 'returns', mapping: 'all' }]);
    expect(a.partitionStats).toEqual({ total: 6, materialized: 5, failed: 1, missing: 0, stale: 0, quarantined: 0, staleExact: true });
    expect(a.latestMaterialization).toMatchObject({ runId, codeVersion: '1' });

    const prices = await s.gql('{ asset(key: "prices") { kinds checks { name severity passed failed lastFailure { partitionKey evaluatedAt } } } }');
    expect(prices.body.data.asset.kinds).toEqual(['table']);
    expect(prices.body.data.asset.checks).toEqual([{ name: 'not_march', severity: 'WARN', passed: 5, failed: 1, lastFailure: { partitionKey: '2024-03', evaluatedAt: expect.any(String) } }]);
  });

  it('rejects bad selections and partitions with the kernel error id, launching nothing', async () => {
    const before = (await s.eventLog.listRuns()).length;
    const unknown = await s.gql('mutation { launchMaterialization(selection: "no_such_asset") { runId } }', {}, { role: 'editor' });
    expect(code(unknown.body)).toBe('CORE_SELECT_UNKNOWN');
    const syntax = await s.gql('mutation { launchMaterialization(selection: "prices,,") { runId } }', {}, { role: 'editor' });
    expect(code(syntax.body)).toBe('CORE_SELECT_SYNTAX');
    const badPartition = await s.gql('mutation { launchMaterialization(selection: "prices", partitionKeys: ["1999-01"]) { runId } }', {}, { role: 'editor' });
    expect(code(badPartition.body)).toBe('CORE_PART_UNKNOWN');
    const both = await s.gql('mutation { launchBackfill(selection: "prices", range: {from: "2024-01", to: "2024-02"}, keys: ["2024-01"]) { runId } }', {}, { role: 'editor' });
    expect(code(both.body)).toBe('API_INPUT_INVALID');
    expect((await s.eventLog.listRuns()).length).toBe(before);
  });

  it('pages partitions by status without gaps, finds missing ones, and shows stale ones with their causes', async () => {
    // summary reads all of returns; it has never run.
    const missing = await s.gql('{ asset(key: "summary") { partitionStats { total missing } partitions(status: MISSING) { edges { node { key status } } } } }');
    expect(missing.body.data.asset.partitionStats).toEqual({ total: 1, missing: 1 });
    expect(missing.body.data.asset.partitions.edges).toEqual([{ node: { key: '', status: 'MISSING' } }]);

    // A new generation of prices 2024-01 and 2024-05 makes returns stale there.
    knobs.generation = 2;
    const runId = await launch('prices', ['2024-01', '2024-05'], 'admin', true);
    expect(await waitForRun(s, runId)).toBe('SUCCESS');
    const stats = await s.gql('{ asset(key: "returns") { partitionStats { materialized failed stale } staleCauses { partitionKey reason } } }');
    expect(stats.body.data.asset.partitionStats).toEqual({ materialized: 5, failed: 1, stale: 2 });
    expect(stats.body.data.asset.staleCauses).toEqual([
      { partitionKey: '2024-01', reason: 'upstream prices changed' },
      { partitionKey: '2024-05', reason: 'upstream prices changed' },
    ]);

    const stale = await s.gql('{ asset(key: "returns") { partitions(status: STALE, first: 1) { edges { node { key status staleCauses } } pageInfo { hasNextPage endCursor } } } }');
    const p1 = stale.body.data.asset.partitions;
    expect(p1.edges).toEqual([{ node: { key: '2024-01', status: 'STALE', staleCauses: ['upstream prices changed'] } }]);
    const stale2 = await s.gql('query($after: String) { asset(key: "returns") { partitions(status: STALE, first: 1, after: $after) { edges { node { key } } pageInfo { hasNextPage } } } }', { after: p1.pageInfo.endCursor });
    expect(stale2.body.data.asset.partitions.edges).toEqual([{ node: { key: '2024-05' } }]);

    const failed = await s.gql('{ asset(key: "returns") { partitions(status: FAILED) { edges { node { key status runId } } } } }');
    expect(failed.body.data.asset.partitions.edges.map((e: any) => e.node.key)).toEqual(['2024-02']);

    // Every partition, two per page: the six months in order, each once, with their status.
    const all: Array<{ key: string; status: string }> = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const page: any = await s.gql('query($after: String) { asset(key: "returns") { partitions(first: 2, after: $after) { edges { node { key status } } pageInfo { hasNextPage endCursor } } } }', { after });
      const conn = page.body.data.asset.partitions;
      all.push(...conn.edges.map((e: any) => e.node));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(all).toEqual([
      { key: '2024-01', status: 'STALE' }, { key: '2024-02', status: 'FAILED' }, { key: '2024-03', status: 'MATERIALIZED' },
      { key: '2024-04', status: 'MATERIALIZED' }, { key: '2024-05', status: 'STALE' }, { key: '2024-06', status: 'MATERIALIZED' },
    ]);

    const missingBulk = await s.gql('{ asset(key: "bulk_001") { partitions(status: MISSING, first: 4) { edges { node { key } } pageInfo { hasNextPage endCursor } } } }');
    expect(missingBulk.body.data.asset.partitions.edges.map((e: any) => e.node.key)).toEqual(['2024-01', '2024-02', '2024-03', '2024-04']);
    expect(missingBulk.body.data.asset.partitions.pageInfo.hasNextPage).toBe(true);
  });

  it('lists assets a page at a time by key, filtered by group and search', async () => {
    const keys: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 30; i++) {
      const page: any = await s.gql('query($after: String) { assets(first: 7, after: $after) { totalCount edges { cursor node { key } } pageInfo { hasNextPage endCursor } } }', { after });
      const c = page.body.data.assets;
      expect(c.totalCount).toBe(64);
      keys.push(...c.edges.map((e: any) => e.node.key));
      if (!c.pageInfo.hasNextPage) break;
      after = c.pageInfo.endCursor;
    }
    expect(keys).toHaveLength(64);
    expect(new Set(keys).size).toBe(64);
    expect([...keys].sort()).toEqual(keys);

    const features = await s.gql('{ assets(group: "features") { edges { node { key } } } }');
    expect(features.body.data.assets.edges.map((e: any) => e.node.key)).toEqual(['returns', 'summary']);
    const search = await s.gql('{ assets(search: "DERIVED") { edges { node { key } } } }');
    expect(search.body.data.assets.edges.map((e: any) => e.node.key)).toEqual(['returns']);
    expect((await s.gql('{ asset(key: "nope") { key } }')).body.data.asset).toBeNull();
  });

  it('walks lineage up and down to a depth', async () => {
    const up = await s.gql('{ lineage(key: "summary", direction: UPSTREAM, depth: 1) { nodes { key } edges { from to input mapping } } }');
    expect(up.body.data.lineage).toEqual({ nodes: [{ key: 'returns' }, { key: 'summary' }], edges: [{ from: 'returns', to: 'summary', input: 'returns', mapping: 'all' }] });
    const both = await s.gql('{ lineage(key: "returns") { nodes { key } edges { from to } } }');
    expect(both.body.data.lineage.nodes.map((n: any) => n.key)).toEqual(['prices', 'returns', 'summary']);
    const down = await s.gql('{ lineage(key: "prices", direction: DOWNSTREAM, depth: 3) { nodes { key } } }');
    expect(down.body.data.lineage.nodes).toHaveLength(1 + 1 + 1 + 30); // prices, returns, summary, the odd bulk assets
    expect(code((await s.gql('{ lineage(key: "nope") { nodes { key } } }')).body)).toBe('CORE_SELECT_UNKNOWN');
    expect(code((await s.gql('{ lineage(key: "prices", depth: 1000) { nodes { key } } }')).body)).toBe('API_INPUT_INVALID');
  });
});

describe('backfills, runs, cancel, subscription', () => {
  it('runs a backfill, retries its failed partitions, and reports per-partition status over both', async () => {
    knobs.failReturns = new Set(['2024-02']);
    const b = await s.gql('mutation { launchBackfill(selection: "returns", range: {from: "2024-01", to: "2024-04"}) { runId run { kind } } }', {}, { role: 'editor' });
    expect(b.body.errors).toBeUndefined();
    const backfillId = b.body.data.launchBackfill.runId;
    expect(b.body.data.launchBackfill.run.kind).toBe('backfill');
    expect(await waitForRun(s, backfillId)).toBe('FAILED');
    // 2024-01 (stale) and 2024-02 (failed, and fails again) ran; 2024-03 and 2024-04 were up to date.
    const first = await s.gql('query($id: ID!) { backfill(id: $id) { id run { status } partitionCounts { succeeded failed } } }', { id: backfillId });
    expect(first.body.data.backfill).toEqual({ id: backfillId, run: { status: 'FAILED' }, partitionCounts: { succeeded: 1, failed: 1 } });

    knobs.failReturns = new Set();
    const retry = await s.gql('mutation($id: ID!) { retryBackfill(id: $id) { runId } }', { id: backfillId }, { role: 'editor' });
    const retryId = retry.body.data.retryBackfill.runId;
    expect(await waitForRun(s, retryId)).toBe('SUCCESS');

    const after = await s.gql('query($id: ID!) { backfill(id: $id) { partitionCounts { succeeded failed running } partitions(first: 10) { edges { node { runId assetKey partitionKey status } } } } }', { id: backfillId });
    const bf = after.body.data.backfill;
    expect(bf.partitionCounts).toEqual({ succeeded: 2, failed: 0, running: 0 });
    expect(bf.partitions.edges.map((e: any) => [e.node.partitionKey, e.node.status, e.node.runId === retryId])).toEqual([
      ['2024-01', 'SUCCESS', false], ['2024-02', 'SUCCESS', true],
    ]);

    const chain = await s.gql('query($id: ID!) { runs(filter: {backfillId: $id}) { edges { node { id kind } } } }', { id: backfillId });
    expect(chain.body.data.runs.edges.map((e: any) => e.node.id)).toEqual([retryId, backfillId]);
    const backfills = await s.gql('{ backfills(first: 1) { edges { node { id } } pageInfo { hasNextPage } } }');
    expect(backfills.body.data.backfills.edges[0].node.id).toBe(retryId);
    expect(backfills.body.data.backfills.pageInfo.hasNextPage).toBe(true);

    // A materialize run is not a backfill.
    const runs = await s.eventLog.listRuns({ limit: 100 });
    const materialize = runs.find((r) => r.kind === 'materialize')!;
    expect((await s.gql('query($id: ID!) { backfill(id: $id) { id } }', { id: materialize.runId })).body.data.backfill).toBeNull();
    expect(code((await s.gql('mutation($id: ID!) { retryBackfill(id: $id) { runId } }', { id: materialize.runId }, { role: 'editor' })).body)).toBe('API_RUN_NOTBACKFILL');
  });

  it('filters runs by status, asset and partition, and pages them newest first', async () => {
    const byPartition = await s.gql('{ runs(filter: {assetKey: "returns", partitionKey: "2024-02"}) { edges { node { kind status } } } }');
    // The first materialize (failed there), the backfill (failed again) and its retry, newest first.
    expect(byPartition.body.data.runs.edges.map((e: any) => e.node)).toEqual([
      { kind: 'backfill', status: 'SUCCESS' }, { kind: 'backfill', status: 'FAILED' }, { kind: 'materialize', status: 'FAILED' },
    ]);
    const failedRuns = await s.gql('{ runs(filter: {status: FAILED}) { edges { node { status } } } }');
    expect(failedRuns.body.data.runs.edges.length).toBeGreaterThanOrEqual(2);
    expect(failedRuns.body.data.runs.edges.every((e: any) => e.node.status === 'FAILED')).toBe(true);
    const none = await s.gql('{ runs(filter: {assetKey: "summary"}) { edges { node { id } } } }');
    expect(none.body.data.runs.edges).toEqual([]);

    const all: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = await s.gql('query($after: String) { runs(first: 2, after: $after) { edges { node { id createdAt } } pageInfo { hasNextPage endCursor } } }', { after });
      all.push(...page.body.data.runs.edges.map((e: any) => e.node.id));
      if (!page.body.data.runs.pageInfo.hasNextPage) break;
      after = page.body.data.runs.pageInfo.endCursor;
    }
    const expected = (await s.eventLog.listRuns()).map((r) => r.runId);
    expect(all).toEqual(expected);
  });

  it('streams a run\'s events over SSE until the run ends', async () => {
    knobs.slowMs = 150;
    const runId = await launch('slow');
    const res = await fetch(`${s.url}/graphql?token=${await s.token('viewer')}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription($id: ID!) { runEvents(runId: $id) { id type assetKey partitionKey timestamp payload } }', variables: { id: runId } }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text(); // ends when the server completes the stream
    const events = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6))).filter((d) => d.data).map((d) => d.data.runEvents);
    expect(events[0].type).toBe('RUN_START');
    expect(events.at(-1).type).toBe('RUN_SUCCESS');
    expect(events.filter((e: any) => e.type === 'STEP_SUCCESS').map((e: any) => e.partitionKey).sort()).toEqual(['s1', 's2', 's3', 's4']);
    const ids = events.map((e: any) => Number(e.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    knobs.slowMs = 0;

    // EventSource's way: GET with the token as a query parameter; an ended run replays and completes.
    const params = new URLSearchParams({ query: 'subscription($id: ID!) { runEvents(runId: $id) { type } }', variables: JSON.stringify({ id: runId }), token: await s.token('viewer') });
    const get = await fetch(`${s.url}/graphql?${params}`, { headers: { accept: 'text/event-stream' } });
    expect(get.status).toBe(200);
    const replay = (await get.text()).split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6))).filter((d) => d.data).map((d) => d.data.runEvents.type);
    expect(replay).toEqual(events.map((e: any) => e.type));
    const unknown = await fetch(`${s.url}/graphql?${new URLSearchParams({ query: 'subscription { runEvents(runId: "nope") { type } }', token: await s.token('viewer') })}`, { headers: { accept: 'text/event-stream' } });
    expect(await unknown.text()).toContain('CORE_RUN_NOTFOUND');
    const noToken = await fetch(`${s.url}/graphql?${new URLSearchParams({ query: 'subscription { runEvents(runId: "nope") { type } }' })}`, { headers: { accept: 'text/event-stream' } });
    expect(noToken.status).toBe(401);
  });

  it('cancels a running run', async () => {
    knobs.slowMs = 2_000;
    const runId = await launch('slow', undefined, 'editor', true);
    const canceled = await s.gql('mutation($id: ID!) { cancelRun(id: $id) { id status } }', { id: runId }, { role: 'editor' });
    expect(canceled.body.data.cancelRun).toEqual({ id: runId, status: 'CANCELING' });
    expect(await waitForRun(s, runId)).toBe('CANCELED');
    knobs.slowMs = 0;
    const again = await s.gql('mutation($id: ID!) { cancelRun(id: $id) { status } }', { id: runId }, { role: 'editor' });
    expect(again.body.data.cancelRun.status).toBe('CANCELED');
    expect(code((await s.gql('mutation { cancelRun(id: "no-such-run") { id } }', {}, { role: 'editor' })).body)).toBe('CORE_RUN_NOTFOUND');
  });
});

describe('limits and hostile input', () => {
  it('rejects a deep query, a wide alias query, a huge page, an oversized batch, and introspection (off)', async () => {
    let deep = 'key';
    for (let i = 0; i < 8; i++) deep = `key upstream { asset { ${deep} } }`;
    const d = await s.gql(`{ asset(key: "summary") { ${deep} } }`);
    expect(code(d.body)).toBe('API_LIMIT_DEPTH');

    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: asset(key: "prices") { key }`).join(' ');
    const a = await s.gql(`{ ${aliases} }`);
    expect(code(a.body)).toBe('API_LIMIT_ALIASES');
    const okAliases = Array.from({ length: 30 }, (_, i) => `a${i}: asset(key: "prices") { key }`).join(' ');
    expect((await s.gql(`{ ${okAliases} }`)).body.errors).toBeUndefined();

    const big = await s.gql('{ assets(first: 501) { edges { node { key } } } }');
    expect(code(big.body)).toBe('API_LIMIT_PAGE');
    const costly = await s.gql('{ assets(first: 500) { edges { node { partitions(first: 500) { edges { node { key } } } } } } }');
    expect(code(costly.body)).toBe('API_LIMIT_COMPLEXITY');

    const batch = await fetch(`${s.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await s.token('viewer')}` },
      body: JSON.stringify(Array.from({ length: 6 }, () => ({ query: '{ viewer { role } }' }))),
    });
    expect(batch.status).toBe(413);
    expect(JSON.stringify(await batch.json())).toContain('API_LIMIT_BATCH');
    const fiveBatch = await fetch(`${s.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await s.token('viewer')}` },
      body: JSON.stringify(Array.from({ length: 5 }, () => ({ query: '{ viewer { role } }' }))),
    });
    expect(await fiveBatch.json()).toHaveLength(5);

    const intro = await s.gql('{ __schema { types { name } } }');
    expect(code(intro.body)).toBe('API_QUERY_INTROSPECTION');
    expect(code((await s.gql('{ nope }')).body)).toBe('API_QUERY_INVALID');
  });

  it('treats SQL-injection-like and huge strings as plain data', async () => {
    const hostile = ["'; drop table orrery_runs; --", "\" or 1=1 --", "returns' or '1'='1", '%', '\\', '$1', '.*'];
    for (const h of hostile) {
      const r = await s.gql(`query($h: String!, $id: ID!) {
        assets(search: $h) { edges { node { key } } }
        asset(key: $h) { key }
        runs(filter: {assetKey: $h, partitionKey: $h, backfillId: $id}) { edges { node { id } } }
        run(id: $id) { id }
        backfill(id: $id) { id }
      }`, { h, id: h });
      expect(r.status).toBe(200);
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data).toEqual({ assets: { edges: [] }, asset: null, runs: { edges: [] }, run: null, backfill: null });
    }
    const partitions = await s.gql('query($h: String) { asset(key: "returns") { partitions(status: MATERIALIZED, after: $h) { edges { node { key } } } } }', { h: Buffer.from(JSON.stringify("' or 1=1 --")).toString('base64url') });
    expect(partitions.body.errors).toBeUndefined();
    const nul = await s.gql('query($id: ID!) { run(id: $id) { id } }', { id: 'a\u0000b' });
    expect(code(nul.body)).toBe('API_INPUT_INVALID');
    // `_` is a character like any other, not a LIKE wildcard.
    const underscore = await s.gql('{ assets(search: "k_00") { edges { node { key } } } }');
    expect(underscore.body.data.assets.edges).toHaveLength(10);
    const badCursor = await s.gql('{ assets(after: "not a cursor") { edges { node { key } } } }');
    expect(code(badCursor.body)).toBe('API_INPUT_CURSOR');

    const huge = 'x'.repeat(100_000);
    const r = await s.gql('query($h: String!) { assets(search: $h) { edges { node { key } } } }', { h: huge });
    expect(code(r.body)).toBe('API_INPUT_INVALID');
    const launchHuge = await s.gql('mutation($h: String!) { launchMaterialization(selection: $h) { runId } }', { h: huge }, { role: 'editor' });
    expect(code(launchHuge.body)).toBe('API_INPUT_INVALID');
    const tooBig = await s.gql('query($h: String!) { assets(search: $h) { edges { node { key } } } }', { h: 'y'.repeat(400_000) });
    expect(tooBig.status).toBe(413);
    expect(code(tooBig.body)).toBe('API_LIMIT_SIZE');
    // The tables are all still there.
    expect((await s.eventLog.listRuns()).length).toBeGreaterThan(3);
  });
});

describe('batching and operations', () => {
  it('costs the same number of SQL statements for a page of 5 assets as for 50', async () => {
    const query = `query($n: Int!) { assets(group: "bulk", first: $n) { edges { node {
      key partitionStats { total materialized failed missing stale quarantined } latestMaterialization { runId } checks { name passed }
      staleCauses { partitionKey } } } } }`;
    // Give the bulk assets some state first.
    const runId = await launch('prices,bulk_000,bulk_001,bulk_002,bulk_003', undefined, 'editor');
    expect(await waitForRun(s, runId)).toBe('SUCCESS');
    const count = async (n: number) => {
      const before = s.eventLog.stats.statements;
      const r = await s.gql(query, { n });
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data.assets.edges).toHaveLength(n);
      return s.eventLog.stats.statements - before;
    };
    const five = await count(5);
    const fifty = await count(50);
    console.log(`statements per page of assets: ${five} (5 assets), ${fifty} (50 assets)`);
    expect(five).toBe(fifty);
    expect(fifty).toBeLessThanOrEqual(6);
    const runsQuery = 'query($n: Int!) { runs(first: $n) { edges { node { id stepCounts { succeeded failed } } } } }';
    const total = (await s.eventLog.listRuns()).length;
    const countRuns = async (n: number) => {
      const before = s.eventLog.stats.statements;
      const r = await s.gql(runsQuery, { n });
      expect(r.body.data.runs.edges.length).toBe(Math.min(n, total));
      return s.eventLog.stats.statements - before;
    };
    expect(await countRuns(2)).toBe(await countRuns(8));
    const r = await s.gql(query, { n: 5 });
    expect(r.body.data.assets.edges[1].node).toMatchObject({ key: 'bulk_001', partitionStats: { total: 6, materialized: 6, stale: 0 }, checks: [{ name: 'ok', passed: 6 }] });
  });

  it('serves /healthz, /metrics and the UI root', async () => {
    const health = await fetch(`${s.url}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok' });
    await s.gql('query Named { viewer { role } }');
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/graphql_requests_total\{operation="Named",status="ok"\} 1/);
    expect(metrics).toContain('graphql_request_duration_seconds_bucket');
    expect(metrics).toMatch(/graphql_requests_total\{operation="assets",status="ok"\}/);
    const root = await fetch(`${s.url}/`);
    expect(root.status).toBe(200);
    expect(root.headers.get('content-type')).toContain('text/html');
  });
});
