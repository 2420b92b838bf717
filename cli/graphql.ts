/**
 * `orrery dev` (embedded: GraphQL + UI on loopback with a generated admin token, launched work
 * runs in this process) and `orrery serve-graphql` (cluster mode: Postgres, JWT settings required).
 */
import type { Command } from 'commander';
import type { Instance } from '../adapters/instance.ts';
import { ErrorIds, OrreryError } from '../core/errors.ts';
import type { AuthConfig } from '../graphql/auth.ts';

// The API's modules (yoga, Pothos, the schema) load only for these commands, not for every `orrery` run.
const api = () => Promise.all([import('../graphql/auth.ts'), import('../graphql/server.ts')]).then(([auth, server]) => ({ ...auth, ...server }));

type WithInstance = <T>(fn: (i: Instance) => Promise<T>) => Promise<T>;

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new OrreryError(ErrorIds.CLI_USAGE, `--port must be an integer from 0 to 65535 (0 = any free port), not "${value}".`, {});
  return n;
}

/** Serves until SIGINT/SIGTERM, then stops launched runs and closes the server (the instance closes after). */
async function serveUntilSignal(i: Instance, o: { port: number; host: string; auth: AuthConfig; introspection: boolean }, announce: (url: string) => Promise<void>): Promise<void> {
  const { createOrreryServer } = await api();
  const server = createOrreryServer({ runtime: i.runtime, eventLog: i.eventLog, auth: o.auth, logger: i.logger, introspection: o.introspection, metrics: i.metrics });
  const listening = await server.listen(o.port, o.host);
  await announce(listening.url);
  // The CLI's default SIGINT handler exits at once; a server shuts down cleanly instead.
  process.removeAllListeners('SIGINT');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  process.stderr.write('shutting down…\n');
  await server.drain(10_000);
  await listening.close();
}

export function registerGraphqlCommands(program: Command, withInstance: WithInstance): void {
  program
    .command('dev')
    .description('Embedded: serve the GraphQL API and the lineage UI on loopback, with a generated local admin token.')
    .option('--port <port>', 'port (0 = any free port)', port, 3000)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--no-introspection', 'refuse schema introspection')
    .option('--json', 'print {url, token} as one JSON document on stdout')
    .action(async (o: { port: number; host: string; introspection: boolean; json?: boolean }) => withInstance(async (i) => {
      // A fresh secret per start: tokens of an earlier dev server stop working.
      const { generateSecret, signToken } = await api();
      const secret = generateSecret();
      const token = await signToken(secret, { subject: 'local-admin', role: 'admin' }, { expiresIn: '7d' });
      await serveUntilSignal(i, { port: o.port, host: o.host, auth: { secret }, introspection: o.introspection }, async (url) => {
        const ui = `${url}/?token=${token}`;
        process.stderr.write(`Orrery dev server (embedded, state in ${i.home})\n  UI:      ${ui}\n  GraphQL: ${url}/graphql  (Authorization: Bearer <token>)\n  Ctrl-C to stop\n`);
        if (o.json) process.stdout.write(`${JSON.stringify({ url, graphql: `${url}/graphql`, ui, token })}\n`);
      });
    }));

  program
    .command('serve-graphql')
    .description('Cluster mode: serve the GraphQL API on Postgres (DATABASE_URL) with JWT auth (ORRERY_JWT_SECRET or ORRERY_JWT_PUBLIC_KEY).')
    .option('--port <port>', 'port (0 = any free port)', port, 4000)
    .option('--host <host>', 'interface to listen on', '0.0.0.0')
    .option('--introspection', 'allow schema introspection (off by default)')
    .option('--json', 'print {url} as one JSON document on stdout once listening')
    .action(async (o: { port: number; host: string; introspection?: boolean; json?: boolean }) => {
      if (!process.env.DATABASE_URL) throw new OrreryError(ErrorIds.CONFIG_MISSING, 'serve-graphql runs in cluster mode: set DATABASE_URL to the Postgres of the event log (orrery dev serves an embedded one).', {});
      const { authConfigFromEnv } = await api();
      const auth = authConfigFromEnv();
      if (!auth) throw new OrreryError(ErrorIds.CONFIG_MISSING, 'serve-graphql needs JWT settings: ORRERY_JWT_SECRET (HS256, ≥ 32 characters) or ORRERY_JWT_PUBLIC_KEY (PEM, Ed25519 or RSA); optionally ORRERY_JWT_ISSUER and ORRERY_JWT_AUDIENCE.', {});
      await withInstance(async (i) => serveUntilSignal(i, { port: o.port, host: o.host, auth, introspection: !!o.introspection }, async (url) => {
        process.stderr.write(`Orrery GraphQL API on ${url}/graphql\n`);
        if (o.json) process.stdout.write(`${JSON.stringify({ url, graphql: `${url}/graphql` })}\n`);
      }));
    });
}
