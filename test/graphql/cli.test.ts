/** `orrery dev` and `orrery serve-graphql` as a user runs them. */
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { cliSandbox, orrery, orreryChild } from '../support/cli.ts';
import { dropSchema, freshSchemaName, testPostgresUrl } from '../support/postgres.ts';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Starts the command, waits for its JSON line on stdout, and returns it with the child. */
async function serve(args: string[], env: NodeJS.ProcessEnv) {
  const child = orreryChild(args, env);
  let stdout = '', stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (stdout.includes('\n')) resolve(stdout.split('\n')[0]);
    });
    child.on('close', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  const stop = async () => {
    if (child.exitCode !== null) return child.exitCode;
    child.kill('SIGINT');
    const [code] = await once(child, 'close');
    return code as number | null;
  };
  cleanups.push(async () => { await stop(); });
  return { doc: JSON.parse(line), stderr: () => stderr, stop };
}

describe('orrery dev', () => {
  it('serves GraphQL and the UI on loopback with a generated admin token, and stops cleanly on Ctrl-C', async () => {
    const { env } = cliSandbox();
    const dev = await serve(['dev', '--port', '0', '--json'], env);
    expect(dev.doc.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(dev.doc.ui).toBe(`${dev.doc.url}/?token=${dev.doc.token}`);
    expect(dev.stderr()).toContain(dev.doc.ui);

    const gql = (query: string, token?: string) => fetch(`${dev.doc.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify({ query }) });
    const r = await gql('{ viewer { subject role } assets(first: 100) { totalCount edges { node { key } } } __schema { queryType { name } } }', dev.doc.token);
    const body = await r.json();
    expect(body.data.viewer).toEqual({ subject: 'local-admin', role: 'ADMIN' });
    expect(body.data.assets.edges.map((e: { node: { key: string } }) => e.node.key)).toContain('canonical_bars');
    expect(body.data.__schema.queryType.name).toBe('Query'); // introspection is on in dev
    expect((await gql('{ viewer { role } }')).status).toBe(401);
    const page = await fetch(`${dev.doc.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Orrery</title>');

    expect(await dev.stop()).toBe(0);
  });
});

describe('orrery serve-graphql', () => {
  it('refuses to start without DATABASE_URL or JWT settings, with an error id', async () => {
    const { env } = cliSandbox();
    const noDb = await orrery(['serve-graphql', '--port', '0'], { ...env, ORRERY_JWT_SECRET: 'x'.repeat(40) });
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toContain('CORE_CONFIG_MISSING');
    expect(noDb.stderr).toContain('DATABASE_URL');
    const noJwt = await orrery(['serve-graphql', '--port', '0'], { ...env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(noJwt.code).toBe(2);
    expect(noJwt.stderr).toContain('ORRERY_JWT_SECRET');
  });

  it('serves on Postgres with the configured secret, introspection off', async () => {
    const url = await testPostgresUrl();
    const schema = freshSchemaName('serve_graphql');
    cleanups.push(() => dropSchema(url, schema));
    const { env } = cliSandbox();
    const secret = 's'.repeat(48);
    const srv = await serve(['serve-graphql', '--port', '0', '--host', '127.0.0.1', '--json'], { ...env, DATABASE_URL: url, ORRERY_DB_SCHEMA: schema, ORRERY_JWT_SECRET: secret });
    const { signToken } = await import('../../graphql/auth.ts');
    const token = await signToken(secret, { subject: 'ops', role: 'viewer' });
    const post = (query: string) => fetch(`${srv.doc.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) }).then((r) => r.json());
    expect((await post('{ viewer { subject role } }')).data.viewer).toEqual({ subject: 'ops', role: 'VIEWER' });
    expect((await post('{ __schema { types { name } } }')).errors[0].extensions.code).toBe('API_QUERY_INTROSPECTION');
    expect(await srv.stop()).toBe(0);
  });
});
