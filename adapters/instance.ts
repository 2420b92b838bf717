import { mkdirSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino, { type Logger } from 'pino';
import { codeLocation, type CodeLocation } from '../assets/index.ts';
import { loadPolicies, type Policies } from '../assets/policies/index.ts';
import type { AssetDefinition } from '../core/definitions/asset.ts';
import type { Resources } from '../core/definitions/resources.ts';
import type { EventLog } from '../core/event-log/port.ts';
import { AssetGraph } from '../core/graph/asset-graph.ts';
import { Runtime } from '../core/runtime.ts';
import { systemClock } from '../core/ports.ts';
import { MemoryKeyValue } from './memory/key-value.ts';
import { FilesystemObjectStore } from './object-store/filesystem.ts';
import { openPgEventLog, openPgliteEventLog } from './postgres/event-log.ts';
import { modelRegistryFor, type PostgresModelRegistry } from './postgres/model-registry.ts';
import { marketDataFrom } from './providers/from-policies.ts';
import { SecretResolver } from './providers/secrets.ts';
import { SubprocessLauncher } from './subprocess/launcher.ts';
import { clickhouseBarsIO } from './clickhouse/bars-io.ts';
import { clickhouseFeaturesIO, ensureFeaturesTable } from './clickhouse/features-io.ts';
import { ensureBarsTable, releaseStagingTables } from './clickhouse/bars-table.ts';
import { openEmbeddedDwh, openHttpDwh } from './clickhouse/client.ts';
import { PrometheusMetrics, serveMetrics } from './observability/prometheus.ts';
import { providerEventObserver } from './observability/provider-events.ts';

export interface InstanceOptions {
  /** Embedded state (`$ORRERY_HOME`, default `./.orrery`). */
  home?: string;
  configsDir?: string;
  /** Overlay of `configs/envs/<env>` (`ORRERY_ENV`). */
  env?: string;
  /** Postgres URL of the event log in cluster mode (`DATABASE_URL`); PGlite under home when absent. */
  databaseUrl?: string;
  databaseSchema?: string;
  /** ClickHouse over HTTP in cluster mode (`CLICKHOUSE_URL`); chDB under home when absent. */
  clickhouseUrl?: string;
  logger?: Logger;
  /** Replace the code location's assets (tests, other code locations). */
  assets?: (loc: CodeLocation) => AssetDefinition<any, any, any>[];
  /**
   * A module whose default export is `(location) => AssetDefinition[]` (`ORRERY_CODE_LOCATION`):
   * a team's own assets, with the library's partitions and assets at hand.
   */
  codeLocationModule?: string;
  concurrency?: number;
  pools?: Record<string, number>;
  /** Serve Prometheus `/metrics` on this port while the instance is open (`ORRERY_METRICS_PORT`; 0 = any free port). */
  metricsPort?: number;
}

export interface Instance {
  home: string;
  resources: Resources;
  policies: Policies;
  location: CodeLocation;
  runtime: Runtime;
  eventLog: EventLog;
  /** Model versions, stages, θ and experiment runs (tables beside the event log). */
  modelRegistry: PostgresModelRegistry;
  objectStore: FilesystemObjectStore;
  logger: Logger;
  metrics: PrometheusMetrics;
  /** Where `/metrics` is served, when it is. */
  metricsUrl?: string;
  close(): Promise<void>;
}

/**
 * Wires adapters into the kernel: validated configs, event log (PGlite embedded or Postgres),
 * object store, providers, launcher. One code path for both modes; only configuration differs.
 */
export async function openInstance(o: InstanceOptions = {}): Promise<Instance> {
  const home = resolve(o.home ?? process.env.ORRERY_HOME ?? '.orrery');
  mkdirSync(home, { recursive: true });
  const logger = o.logger ?? pino({ level: process.env.ORRERY_LOG_LEVEL ?? 'info', base: { service: 'orrery' } }, pino.destination({ dest: join(home, 'orrery.log'), mkdir: true, sync: false }));
  const policies = loadPolicies(resolve(o.configsDir ?? process.env.ORRERY_CONFIGS ?? 'configs'), o.env ?? process.env.ORRERY_ENV);
  // The DWH: ClickHouse over HTTP in cluster mode (CLICKHOUSE_URL), chDB under home embedded.
  const clickhouseUrl = o.clickhouseUrl ?? process.env.CLICKHOUSE_URL;
  const dwh = clickhouseUrl ? await openHttpDwh(clickhouseUrl) : await openEmbeddedDwh(join(home, 'dwh'));
  await ensureBarsTable(dwh, { retentionMonths: policies.retention.canonical_months, graceDays: policies.retention.grace_days });
  await ensureFeaturesTable(dwh, { retentionMonths: policies.retention.features_snapshot_months });
  const location = codeLocation(policies, { bars: clickhouseBarsIO(), features: clickhouseFeaturesIO() });
  const modulePath = o.codeLocationModule ?? process.env.ORRERY_CODE_LOCATION;
  const fromModule = modulePath ? ((await import(pathToFileURL(resolve(modulePath)).href)).default as InstanceOptions['assets']) : undefined;
  const pick = o.assets ?? fromModule;
  const graph = new AssetGraph(pick ? pick(location) : location.assets);

  const databaseUrl = o.databaseUrl ?? process.env.DATABASE_URL;
  const eventLog = databaseUrl
    ? await openPgEventLog(databaseUrl, { schema: o.databaseSchema ?? process.env.ORRERY_DB_SCHEMA })
    : await openPgliteEventLog(join(home, 'eventlog'));
  const objectStore = new FilesystemObjectStore(join(home, 'objects'));
  await objectStore.sweepAbandoned();
  // Retention of run events by policy (data_retention.yaml logs_days).
  await eventLog.pruneEvents(new Date(Date.now() - policies.retention.logs_days * 86_400_000));

  const modelRegistry = modelRegistryFor(eventLog);
  const metrics = new PrometheusMetrics();
  const provider = marketDataFrom(policies, { onEvent: providerEventObserver(metrics, logger) });
  const resources: Resources = { dwh, objectStore, keyValue: new MemoryKeyValue(), clock: systemClock, provider, metrics, modelRegistry, home, secrets: new SecretResolver() };
  const runtime = new Runtime({
    graph,
    eventLog,
    logger,
    launcher: new SubprocessLauncher(),
    resources,
    concurrency: o.concurrency ?? 4,
    pools: { gpu: 1, ...o.pools },
  });
  await runtime.loadDynamicPartitions();
  const portSetting = o.metricsPort ?? (process.env.ORRERY_METRICS_PORT ? Number(process.env.ORRERY_METRICS_PORT) : undefined);
  const served = portSetting === undefined ? undefined : await serveMetrics(metrics, { port: portSetting, host: process.env.ORRERY_METRICS_HOST });
  return {
    home, resources, policies, location, runtime, eventLog, modelRegistry, objectStore, logger, metrics, metricsUrl: served?.url,
    async close() {
      await served?.close();
      // The last figures of a one-shot command, for node_exporter's textfile collector.
      const textfile = join(home, 'metrics.prom');
      await writeFile(`${textfile}.${process.pid}.tmp`, await metrics.text());
      await rename(`${textfile}.${process.pid}.tmp`, textfile);
      await eventLog.close();
      await releaseStagingTables(dwh);
      await dwh.close();
      await provider.close();
      logger.flush?.();
    },
  };
}
