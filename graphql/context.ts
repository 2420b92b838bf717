/** What every resolver sees: the services of the server and, per request, the viewer and loaders. */
import type { Logger } from 'pino';
import type { EventLog, EventLogQueries } from '../core/event-log/port.ts';
import type { RunOutcome, Runtime } from '../core/runtime.ts';
import type { Viewer } from './auth.ts';
import type { Loaders } from './loaders.ts';

export type ApiEventLog = EventLog & EventLogQueries;

export interface Services {
  runtime: Runtime;
  eventLog: ApiEventLog;
  logger: Logger;
  /** Runs launched by this server that are still executing (for a graceful close). */
  active: Map<string, Promise<RunOutcome | undefined>>;
  /** How often the runEvents subscription polls the event log. */
  pollMs: number;
  /** Above this many state rows an asset's staleness is not assessed per partition. */
  staleExactMaxRows: number;
}

/** Per request; `state` is shared with the HTTP layer (metrics labels). */
export interface RequestState {
  operation?: string;
  failed?: boolean;
  /** Mutation fields whose resolver wrote their audit row. */
  audited?: Set<string>;
}

export interface Ctx {
  viewer: Viewer;
  requestId: string;
  state: RequestState;
  services: Services;
  loaders: Loaders;
}

/** True when the event log also implements the API's batched reads, audit and sensors. */
export function isApiEventLog(log: EventLog): log is ApiEventLog {
  const l = log as Partial<EventLogQueries>;
  return typeof l.countPartitionStatesMany === 'function' && typeof l.recordAudit === 'function' && typeof l.listRunsPage === 'function';
}
