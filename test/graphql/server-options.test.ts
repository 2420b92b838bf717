/**
 * Server options: introspection when enabled, staleness of assets too large for an exact
 * assessment, audit of mutations refused before their resolver, and the UI served at /.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knobs, startTestServer, waitForRun, type TestServer } from './support.ts';

let s: TestServer;
beforeAll(async () => {
  // Every asset counts as large: staleness falls back to code versions in stats, pairs in pages.
  s = await startTestServer({ introspection: true, limits: { staleExactRows: 1, complexity: 2_000 } });
});
afterAll(async () => {
  await s?.close();
});

const code = (body: { errors?: Array<{ extensions?: Record<string, unknown> }> }) => body.errors?.[0]?.extensions?.code;

describe('server options', () => {
  it('answers introspection when enabled', async () => {
    const r = await s.gql('{ __type(name: "Asset") { fields { name } } }');
    const names = r.body.data.__type.fields.map((f: { name: string }) => f.name);
    expect(names).toEqual(expect.arrayContaining(['key', 'upstream', 'downstream', 'partitionStats', 'partitions', 'latestMaterialization', 'checks', 'staleCauses']));
  });

  it('reports staleness of large assets by code version in stats and exactly in pages', async () => {
    knobs.generation = 10;
    const first = await s.gql('mutation { launchMaterialization(selection: "prices,returns", force: true) { runId } }', {}, { role: 'editor' });
    expect(await waitForRun(s, first.body.data.launchMaterialization.runId)).toBe('SUCCESS');
    knobs.generation = 11;
    const again = await s.gql('mutation { launchMaterialization(selection: "prices", partitionKeys: ["2024-02"], force: true) { runId } }', {}, { role: 'editor' });
    expect(await waitForRun(s, again.body.data.launchMaterialization.runId)).toBe('SUCCESS');

    const r = await s.gql('{ asset(key: "returns") { partitionStats { materialized stale staleExact } staleCauses { partitionKey } partitions(status: STALE) { edges { node { key status staleCauses } } } } }');
    const a = r.body.data.asset;
    // Code versions are unchanged, so the bounded count sees nothing; the page assesses its rows exactly.
    expect(a.partitionStats).toEqual({ materialized: 6, stale: 0, staleExact: false });
    expect(a.staleCauses).toEqual([]);
    expect(a.partitions.edges).toEqual([{ node: { key: '2024-02', status: 'STALE', staleCauses: ['upstream prices changed'] } }]);
    const all = await s.gql('{ asset(key: "returns") { partitions(first: 3) { edges { node { key status } } } } }');
    expect(all.body.data.asset.partitions.edges.map((e: { node: { status: string } }) => e.node.status)).toEqual(['MATERIALIZED', 'STALE', 'MATERIALIZED']);
  });

  it('audits mutations refused by validation and by the complexity check', async () => {
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: cancelRun(id: "r${i}") { id }`).join(' ');
    const r = await s.gql(`mutation { ${aliases} }`, {}, { role: 'editor', headers: { 'x-request-id': 'req-aliases' } });
    expect(code(r.body)).toBe('API_LIMIT_ALIASES');
    const badArg = await s.gql('mutation { launchMaterialization(selection: 5) { runId } }', {}, { role: 'editor', headers: { 'x-request-id': 'req-badarg' } });
    expect(code(badArg.body)).toBe('API_QUERY_INVALID');
    const costly = await s.gql('mutation { launchMaterialization(selection: "prices") { run { steps(first: 500) { edges { node { runId assetKey partitionKey status } } } } } x: retryBackfill(id: "b") { runId } }', {}, { role: 'editor', headers: { 'x-request-id': 'req-costly' } });
    expect(code(costly.body)).toBe('API_LIMIT_COMPLEXITY');
    await new Promise((res) => setTimeout(res, 100));
    const audit = await s.eventLog.listAudit({ limit: 100 });
    expect(audit.filter((a) => a.requestId === 'req-aliases')).toEqual([expect.objectContaining({ operation: 'cancelRun', subject: 'editor-user', outcome: 'rejected', errorId: 'API_LIMIT_ALIASES' })]);
    expect(audit.filter((a) => a.requestId === 'req-badarg')).toEqual([expect.objectContaining({ operation: 'launchMaterialization', outcome: 'rejected', errorId: 'API_QUERY_INVALID' })]);
    const costlyRows = audit.filter((a) => a.requestId === 'req-costly');
    expect(costlyRows.map((a) => a.operation).sort()).toEqual(['launchMaterialization', 'retryBackfill']);
    expect(costlyRows.every((a) => a.outcome === 'rejected' && /^API_LIMIT_/.test(a.errorId ?? ''))).toBe(true);
    // Nothing was launched by the refused request.
    expect((await s.eventLog.listRuns()).filter((r) => r.tags.launched_by && r.createdAt.getTime() > Date.now() - 200)).toEqual([]);
  });

  it('serves the UI (or its placeholder) at / without a token, and 404s unknown paths', async () => {
    const root = await fetch(`${s.url}/`);
    expect(root.status).toBe(200);
    expect(root.headers.get('content-type')).toContain('text/html');
    expect((await fetch(`${s.url}/no-such-file.js`)).status).toBe(404);
    expect((await fetch(`${s.url}/graphql`, { method: 'POST', body: '{}' })).status).toBe(401);
  });
});
