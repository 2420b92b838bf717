/**
 * `orrery serve --group GROUP --version VERSION [--port 8080] [--host 0.0.0.0]`: the inference server
 * of one published model version — what the inference Deployments built from a ModelDeployment run
 * (`operator/reconcilers/model-deployment.ts`). `cli/main.ts` registers it with
 * `registerServeCommands(program, withInstance)`.
 *
 * It listens first (so liveness answers while loading), then opens the instance like every command
 * (embedded or cluster, by configuration), looks the version up in the model registry, loads and
 * verifies its signed bundle with the trusted key, reads z_entry from core_policy, and closes the
 * instance again: serving needs nothing but the verified bundle in memory (and an embedded PGlite
 * event log is left free for other commands). An unknown version, another group's version or a
 * bundle that does not verify ends the command with its error id and exit code 2. SIGTERM drains
 * and exits 0. Logs are JSON lines (pino) on stdout, for the pod's log collector.
 */
import { Option, type Command } from 'commander';
import pino from 'pino';
import { SecretResolver } from '../adapters/providers/secrets.ts';
import { resolveVerifyKey } from '../assets/published_models/engine/keys.ts';
import { ErrorIds, OrreryError } from '../core/errors.ts';
import type { WithInstance } from './models.ts';

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new OrreryError(ErrorIds.CLI_USAGE, `--port must be an integer from 0 to 65535, got ${v}.`, { port: v });
  return n;
}

export function registerServeCommands(program: Command, withInstance: WithInstance): Command {
  return program
    .command('serve')
    .description('Serve predictions of a published model version over HTTP: POST /predict, GET /healthz, /readyz, /metrics, /model.')
    .addOption(new Option('--group <group>', 'pair group of the model (e.g. metals)').env('ORRERY_MODEL_GROUP'))
    .addOption(new Option('--version <version>', 'published model version (orrery models list)').env('ORRERY_MODEL_VERSION'))
    .option('--port <port>', 'port to listen on (0 = any free port)', port, 8080)
    .option('--host <host>', 'address to listen on', '0.0.0.0')
    .action(async (o: { group?: string; version?: string; port: number; host: string }) => {
      if (!o.group || !o.version) throw new OrreryError(ErrorIds.CLI_USAGE, 'serve needs --group and --version (or ORRERY_MODEL_GROUP and ORRERY_MODEL_VERSION).', {});
      const group = o.group, version = o.version;
      const logger = pino({ level: process.env.ORRERY_LOG_LEVEL ?? 'info', base: { service: 'orrery-serve', group, version } });
      if (process.env.REDIS_URL) logger.warn({ event: 'redis_unavailable' }, 'REDIS_URL is set, but this build has no Redis client: signals are answered over HTTP only and not published to Redis.');
      // The serving modules (onnxruntime sessions, the HTTP server) load only for this command.
      const [{ loadServedModel }, { InferenceServer }] = await Promise.all([import('../serving/model.ts'), import('../serving/server.ts')]);
      const server = new InferenceServer({ logger });
      const stop = (signal: string) => {
        logger.info({ event: 'signal', signal }, `${signal}: shutting down`);
        void server.close();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      await server.listen(o.port, o.host);
      try {
        await server.load(() => withInstance(async (i) => {
          const resolver = new SecretResolver();
          const publicKey = await resolveVerifyKey({ resolveSecret: (ref) => resolver.resolve(ref), home: i.home, generate: false });
          return loadServedModel({ store: i.objectStore, registry: i.modelRegistry, publicKey, group, version, zEntry: i.policies.core.z_entry });
        }));
      } catch (e) {
        await server.close();
        throw e;
      }
      await server.closed;
      logger.flush();
    });
}
