import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { MemoryKeyValue } from '../../adapters/memory/key-value.ts';
import { FilesystemObjectStore } from '../../adapters/object-store/filesystem.ts';
import { openPgliteEventLog } from '../../adapters/postgres/event-log.ts';
import { SubprocessLauncher } from '../../adapters/subprocess/launcher.ts';
import type { AssetDefinition } from '../../core/definitions/asset.ts';
import type { EventLog } from '../../core/event-log/port.ts';
import { AssetGraph } from '../../core/graph/asset-graph.ts';
import { systemClock } from '../../core/ports.ts';
import { Runtime, type RuntimeOptions } from '../../core/runtime.ts';

export interface TestRuntime {
  runtime: Runtime;
  eventLog: EventLog;
  objectStore: FilesystemObjectStore;
  dir: string;
  close(): Promise<void>;
}

/** A runtime on real components: PGlite in memory (or a given event log) and a temp object store. */
export async function testRuntime(assets: AssetDefinition<any, any, any>[], options: Partial<RuntimeOptions> & { eventLog?: EventLog } = {}): Promise<TestRuntime> {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-test-'));
  const eventLog = options.eventLog ?? (await openPgliteEventLog(undefined));
  const objectStore = new FilesystemObjectStore(join(dir, 'objects'));
  const runtime = new Runtime({
    graph: new AssetGraph(assets),
    eventLog,
    logger: pino({ level: 'silent' }),
    launcher: new SubprocessLauncher(),
    resources: { objectStore, keyValue: new MemoryKeyValue(), clock: systemClock },
    concurrency: 4,
    heartbeatMs: 50,
    ...options,
  });
  return {
    runtime, eventLog, objectStore, dir,
    async close() {
      if (!options.eventLog) await eventLog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
