/**
 * The GraphQL schema (Pothos, code-first). Type and field names are the shared contract the UI
 * codes against: add fields, never rename. Reads go through per-request DataLoaders; mutations
 * check the viewer's role, launch through the Runtime and are audited.
 */
import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import RelayPlugin from '@pothos/plugin-relay';
import { GraphQLError, getNamedType, getNullableType, isListType, type GraphQLSchema } from 'graphql';
import type { AssetDefinition } from '../core/definitions/asset.ts';
import { ErrorIds, OrreryError } from '../core/errors.ts';
import {
  TERMINAL_RUN_STATUSES,
  type CheckSummary,
  type EventRecord,
  type JsonObject,
  type LatestMaterialization,
  type PartitionSpec,
  type RunRecord,
  type RunRequest,
  type RunStatus,
  type SensorRecord,
  type StepCounts,
  type StepRecord,
} from '../core/event-log/port.ts';
import type { LaunchOptions } from '../core/runtime.ts';
import { hasRole, type Role } from './auth.ts';
import type { Ctx } from './context.ts';
import { ApiErrorIds, apiError, errorIdOf, inputError } from './errors.ts';
import {
  decodeCursor,
  isNumber,
  isStepCursor,
  isString,
  pageOf,
  pageSize,
  partitionPage,
  type ApiPartitionStatus,
  type Page,
  type PartitionNode,
} from './pages.ts';

export interface SchemaLimits {
  /** Deepest selection (fields nested). */
  depth: number;
  /** Estimated cost (connections multiply by their `first`). */
  complexity: number;
  /** Total fields selected. */
  breadth: number;
}

export const DEFAULT_LIMITS: SchemaLimits = { depth: 12, complexity: 50_000, breadth: 400 };

const MAX_SEARCH = 200;
const MAX_KEY = 512;
const MAX_SELECTION = 2_000;
const MAX_KEYS = 10_000;
const MAX_LINEAGE_DEPTH = 25;

function checkText(name: string, value: string | null | undefined, max: number): void {
  if (value === null || value === undefined) return;
  if (value.length > max) throw inputError(`\`${name}\` is ${value.length} characters long; at most ${max} are accepted.`, { field: name, max });
  // Postgres text cannot hold U+0000: no key or id contains it.
  if (value.includes('\0')) throw inputError(`\`${name}\` contains a NUL character.`, { field: name });
}

const lower = <T extends string>(s: T) => s.toLowerCase();
const upper = <T extends string>(s: T) => s.toUpperCase();

/** Variables as stored in the audit: secrets masked, long strings and lists cut. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.length > 500 ? `${value.slice(0, 500)}…(${value.length} chars)` : value;
  if (Array.isArray(value)) return value.length > 50 ? [...value.slice(0, 50).map((v) => redact(v, depth + 1)), `…(${value.length} items)`] : value.map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    if (depth > 5) return '…';
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = /token|secret|password|authorization|credential/i.test(k) ? '[redacted]' : redact(v, depth + 1);
    return out;
  }
  return value ?? null;
}

/**
 * Runs a mutation with its role check and writes its audit row whatever happens: allowed and
 * done, refused for the role, or failed (with the error id).
 */
async function audited<T>(ctx: Ctx, operation: string, needed: Role, variables: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
  (ctx.state.audited ??= new Set()).add(operation);
  const base = { subject: ctx.viewer.subject, role: ctx.viewer.role, operation, variables: redact(variables) as JsonObject, requestId: ctx.requestId };
  const write = async (outcome: string, errorId: string | null) => {
    try {
      await ctx.services.eventLog.recordAudit({ ...base, outcome, errorId });
    } catch (e) {
      ctx.services.logger.error({ err: e, operation, requestId: ctx.requestId }, 'audit row could not be written');
    }
  };
  if (!hasRole(ctx.viewer.role, needed)) {
    await write('forbidden', ApiErrorIds.FORBIDDEN);
    throw apiError(ApiErrorIds.FORBIDDEN, `${operation} needs the ${needed} role; ${ctx.viewer.subject} has ${ctx.viewer.role}. Ask an admin for a token with that role.`, { needed, role: ctx.viewer.role });
  }
  try {
    const result = await fn();
    await write('ok', null);
    return result;
  } catch (e) {
    await write('error', errorIdOf(e));
    throw e;
  }
}

/** Launches in the background and returns the run id at once; the run's end is only logged. */
async function launchInBackground(ctx: Ctx, request: RunRequest, options: LaunchOptions): Promise<{ runId: string }> {
  const { runtime, logger, active } = ctx.services;
  const { runId, done } = await runtime.start(request, options);
  const tracked = done.then(
    (outcome) => { logger.info({ runId, status: outcome.status }, 'run ended'); return outcome; },
    (e) => { logger.error({ runId, err: e }, 'run failed'); return undefined; },
  ).finally(() => active.delete(runId));
  active.set(runId, tracked);
  return { runId };
}

function partitionSpecOf(keys: readonly string[] | null | undefined, range: { from: string; to: string } | null | undefined): PartitionSpec {
  if (keys && range) throw inputError('Give either `keys` or `range`, not both.');
  if (range) {
    checkText('range.from', range.from, MAX_KEY);
    checkText('range.to', range.to, MAX_KEY);
    return { kind: 'range', from: range.from, to: range.to };
  }
  if (keys) {
    if (keys.length === 0) throw inputError('`partitionKeys` is empty; leave it out to mean every partition.');
    if (keys.length > MAX_KEYS) throw inputError(`At most ${MAX_KEYS} partition keys per launch; use a range.`, { max: MAX_KEYS });
    for (const k of keys) checkText('partition key', k, MAX_KEY);
    return { kind: 'keys', keys: [...keys] };
  }
  return { kind: 'all' };
}

export function buildSchema(options: { limits?: Partial<SchemaLimits> } = {}): GraphQLSchema {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const builder = new SchemaBuilder<{
    Context: Ctx;
    Scalars: {
      DateTime: { Input: Date; Output: Date };
      JSON: { Input: unknown; Output: unknown };
    };
    DefaultFieldNullability: false;
    DefaultEdgesNullability: false;
    DefaultNodeNullability: false;
  }>({
    // Non-null unless a field says otherwise, as in the contract.
    defaultFieldNullability: false,
    plugins: [ComplexityPlugin, RelayPlugin, DataloaderPlugin],
    relay: {
      nodeQueryOptions: false,
      nodesQueryOptions: false,
      edgesFieldOptions: { nullable: false },
      nodeFieldOptions: { nullable: false },
    },
    complexity: {
      limit: limits,
      // A connection's selections cost `first` times; other lists ten times (a guess); edges are counted by their connection.
      fieldComplexity: (args, _ctx, field) => {
        const first = (args as { first?: unknown }).first;
        const firstDefault = field.args.find((a) => a.name === 'first')?.defaultValue;
        if (field.args.some((a) => a.name === 'first')) return { field: 1, multiplier: Math.max(1, typeof first === 'number' ? first : typeof firstDefault === 'number' ? firstDefault : 1) };
        if (field.name === 'edges' && getNamedType(field.type).name.endsWith('Edge')) return { field: 0, multiplier: 1 };
        return isListType(getNullableType(field.type)) ? { field: 1, multiplier: 10 } : 1;
      },
      complexityError: (kind, result) => {
        const code = kind === 'Depth' ? ApiErrorIds.LIMIT_DEPTH : kind === 'Breadth' ? ApiErrorIds.LIMIT_BREADTH : ApiErrorIds.LIMIT_COMPLEXITY;
        const what = kind.toLowerCase() as 'depth' | 'breadth' | 'complexity';
        return new GraphQLError(`Query ${what} ${result[what]} exceeds the limit of ${limits[what]}; ask for fewer or shallower fields, or smaller pages.`, { extensions: { code, [what]: result[what], max: limits[what] } });
      },
    },
  });

  builder.scalarType('DateTime', {
    serialize: (v) => (v instanceof Date ? v.toISOString() : new Date(v as string).toISOString()),
    parseValue: (v) => {
      const d = new Date(String(v));
      if (Number.isNaN(d.getTime())) throw inputError('Not an ISO date-time.');
      return d;
    },
  });
  builder.scalarType('JSON', { serialize: (v) => v, parseValue: (v) => v });

  const PartitionStatusEnum = builder.enumType('PartitionStatus', { values: ['MATERIALIZED', 'FAILED', 'QUARANTINED', 'MISSING', 'STALE'] as const });
  const RunStatusEnum = builder.enumType('RunStatus', { values: ['QUEUED', 'STARTED', 'CANCELING', 'SUCCESS', 'FAILED', 'CANCELED'] as const });
  const StepStatusEnum = builder.enumType('StepStatus', { values: ['STARTED', 'SUCCESS', 'FAILED', 'SKIPPED', 'CANCELED'] as const });
  const LineageDirectionEnum = builder.enumType('LineageDirection', { values: ['UPSTREAM', 'DOWNSTREAM', 'BOTH'] as const });
  const RoleEnum = builder.enumType('Role', { values: ['VIEWER', 'EDITOR', 'APPROVER', 'ADMIN'] as const });

  // --- objects ----------------------------------------------------------------------------

  const ViewerRef = builder.objectRef<{ subject: string; role: Role }>('Viewer').implement({
    fields: (t) => ({
      subject: t.exposeString('subject'),
      role: t.field({ type: RoleEnum, resolve: (v) => upper(v.role) as 'VIEWER' }),
    }),
  });

  const AssetRef = builder.objectRef<AssetDefinition>('Asset');
  const AssetEdgeRef = builder.objectRef<{ key: string; input: string | null; mapping: string }>('AssetEdge');
  const StatsRef = builder.objectRef<{ total: number; materialized: number; failed: number; missing: number; stale: number; quarantined: number; staleExact: boolean }>('PartitionStats');
  const PartitionRef = builder.objectRef<PartitionNode>('Partition');
  const MaterializationRef = builder.objectRef<LatestMaterialization>('MaterializationInfo');
  const CheckRef = builder.objectRef<CheckSummary>('AssetCheck');
  const CheckFailureRef = builder.objectRef<{ partitionKey: string; evaluatedAt: Date }>('CheckFailure');
  const StaleCauseRef = builder.objectRef<{ partitionKey: string; reason: string }>('StaleCause');
  const LineageRef = builder.objectRef<{ nodes: AssetDefinition[]; edges: Array<{ from: string; to: string; input: string | null; mapping: string }> }>('Lineage');
  const LineageEdgeRef = builder.objectRef<{ from: string; to: string; input: string | null; mapping: string }>('LineageEdge');
  const RunRef = builder.objectRef<RunRecord>('Run');
  const StepCountsRef = builder.objectRef<StepCounts>('StepCounts');
  const StepRef = builder.objectRef<StepRecord>('Step');
  const EventRef = builder.objectRef<EventRecord>('RunEvent');
  const BackfillRef = builder.objectRef<RunRecord>('Backfill');
  const SensorRef = builder.objectRef<SensorRecord>('Sensor');
  const LaunchResultRef = builder.objectRef<{ runId: string }>('LaunchResult');

  const AssetConnection = builder.connectionObject(
    { type: AssetRef, name: 'AssetConnection', fields: (t) => ({ totalCount: t.int({ nullable: true, resolve: (p) => (p as Page<AssetDefinition>).totalCount ?? null }) }) },
    { name: 'AssetConnectionEdge' },
  );
  const PartitionConnection = builder.connectionObject({ type: PartitionRef, name: 'PartitionConnection' }, { name: 'PartitionConnectionEdge' });
  const RunConnection = builder.connectionObject({ type: RunRef, name: 'RunConnection' }, { name: 'RunConnectionEdge' });
  const StepConnection = builder.connectionObject({ type: StepRef, name: 'StepConnection' }, { name: 'StepConnectionEdge' });
  const EventConnection = builder.connectionObject({ type: EventRef, name: 'EventConnection' }, { name: 'EventConnectionEdge' });

  AssetEdgeRef.implement({
    fields: (t) => ({
      asset: t.field({ type: AssetRef, resolve: (e, _a, ctx) => ctx.services.runtime.graph.get(e.key) }),
      key: t.exposeString('key'),
      input: t.exposeString('input', { nullable: true }),
      mapping: t.exposeString('mapping'),
    }),
  });

  StatsRef.implement({
    fields: (t) => ({
      total: t.exposeInt('total'),
      materialized: t.exposeInt('materialized'),
      failed: t.exposeInt('failed'),
      missing: t.exposeInt('missing'),
      stale: t.exposeInt('stale'),
      quarantined: t.exposeInt('quarantined'),
      staleExact: t.exposeBoolean('staleExact', { description: 'False when the asset is too large to assess per partition: stale then counts code-version changes only.' }),
    }),
  });

  PartitionRef.implement({
    fields: (t) => ({
      key: t.exposeString('key'),
      status: t.field({ type: PartitionStatusEnum, resolve: (p) => p.status }),
      dataVersion: t.exposeString('dataVersion', { nullable: true }),
      materializedAt: t.field({ type: 'DateTime', nullable: true, resolve: (p) => p.materializedAt }),
      runId: t.exposeString('runId', { nullable: true }),
      metadata: t.field({ type: 'JSON', nullable: true, resolve: (p) => p.metadata }),
      staleCauses: t.stringList({ resolve: (p) => p.staleCauses }),
      quarantine: t.field({ type: 'JSON', nullable: true, resolve: (p) => p.quarantine }),
    }),
  });

  MaterializationRef.implement({
    fields: (t) => ({
      runId: t.exposeString('runId'),
      partitionKey: t.exposeString('partitionKey'),
      timestamp: t.field({ type: 'DateTime', resolve: (m) => m.timestamp }),
      dataVersion: t.exposeString('dataVersion', { nullable: true }),
      codeVersion: t.exposeString('codeVersion', { nullable: true }),
      metadata: t.field({ type: 'JSON', nullable: true, resolve: (m) => m.metadata }),
    }),
  });

  CheckFailureRef.implement({
    fields: (t) => ({
      partitionKey: t.exposeString('partitionKey'),
      evaluatedAt: t.field({ type: 'DateTime', resolve: (f) => f.evaluatedAt }),
    }),
  });
  CheckRef.implement({
    fields: (t) => ({
      name: t.string({ resolve: (c) => c.checkName }),
      severity: t.exposeString('severity'),
      passed: t.exposeInt('passed'),
      failed: t.exposeInt('failed'),
      lastFailure: t.field({ type: CheckFailureRef, nullable: true, resolve: (c) => c.lastFailure }),
    }),
  });
  StaleCauseRef.implement({ fields: (t) => ({ partitionKey: t.exposeString('partitionKey'), reason: t.exposeString('reason') }) });

  AssetRef.implement({
    fields: (t) => ({
      key: t.exposeString('key'),
      description: t.string({ nullable: true, resolve: (a) => a.description || null }),
      group: t.string({ nullable: true, resolve: (a) => a.group }),
      kinds: t.stringList({ resolve: (a) => a.kinds }),
      codeVersion: t.string({ nullable: true, resolve: (a) => a.codeVersion }),
      partitionsDefinition: t.field({ type: 'JSON', nullable: true, resolve: (a) => a.partitions?.describe() ?? null }),
      partitionCount: t.int({ description: 'Partitions in the definition (1 when unpartitioned).', resolve: (a) => a.partitions?.count() ?? 1 }),
      checkNames: t.stringList({ resolve: (a) => a.checks.map((c) => c.name) }),
      upstream: t.field({
        type: [AssetEdgeRef],
        resolve: (a, _args, ctx) => ctx.services.runtime.graph.upstreamEdges(a.key).map((e) => ({ key: e.from, input: e.input ?? null, mapping: e.mapping.name })),
      }),
      downstream: t.field({
        type: [AssetEdgeRef],
        resolve: (a, _args, ctx) => ctx.services.runtime.graph.downstreamEdges(a.key).map((e) => ({ key: e.to, input: e.input ?? null, mapping: e.mapping.name })),
      }),
      partitionStats: t.field({
        type: StatsRef,
        resolve: async (a, _args, ctx) => {
          const [counts, stale] = await Promise.all([ctx.loaders.counts.load(a.key), ctx.loaders.stale.load(a.key)]);
          const total = a.partitions?.count() ?? 1;
          return { total, ...counts, missing: Math.max(0, total - counts.materialized - counts.failed - counts.quarantined), stale: stale.stale, staleExact: stale.exact };
        },
      }),
      partitions: t.field({
        type: PartitionConnection,
        args: { status: t.arg({ type: PartitionStatusEnum }), first: t.arg.int({ defaultValue: 100 }), after: t.arg.string() },
        resolve: async (a, args, ctx) => {
          const limit = pageSize(args.first, 100);
          const after = decodeCursor(args.after, isString);
          return partitionPage(ctx.services.runtime.graph, ctx.services.eventLog, ctx.loaders, a.key, args.status as ApiPartitionStatus | null, limit, after);
        },
      }),
      latestMaterialization: t.loadable({
        type: MaterializationRef,
        nullable: true,
        load: async (keys: string[], ctx) => {
          const m = await ctx.services.eventLog.latestMaterializations(keys);
          return keys.map((k) => m.get(k) ?? null);
        },
        resolve: (a) => a.key,
      }),
      checks: t.loadableList({
        type: CheckRef,
        load: async (keys: string[], ctx) => {
          const m = await ctx.services.eventLog.checkSummaries(keys);
          return keys.map((k) => m.get(k) ?? []);
        },
        resolve: (a) => a.key,
      }),
      staleCauses: t.field({
        type: [StaleCauseRef],
        description: 'A sample (at most 20) of stale partitions and why.',
        resolve: async (a, _args, ctx) => (await ctx.loaders.stale.load(a.key)).sample,
      }),
    }),
  });

  LineageEdgeRef.implement({
    fields: (t) => ({ from: t.exposeString('from'), to: t.exposeString('to'), input: t.exposeString('input', { nullable: true }), mapping: t.exposeString('mapping') }),
  });
  LineageRef.implement({
    fields: (t) => ({
      nodes: t.field({ type: [AssetRef], resolve: (l) => l.nodes }),
      edges: t.field({ type: [LineageEdgeRef], resolve: (l) => l.edges }),
    }),
  });

  StepCountsRef.implement({
    fields: (t) => ({
      succeeded: t.exposeInt('succeeded'),
      failed: t.exposeInt('failed'),
      skipped: t.exposeInt('skipped'),
      running: t.exposeInt('running'),
      canceled: t.exposeInt('canceled'),
    }),
  });

  StepRef.implement({
    fields: (t) => ({
      runId: t.exposeString('runId'),
      assetKey: t.exposeString('assetKey'),
      partitionKey: t.exposeString('partitionKey'),
      status: t.field({ type: StepStatusEnum, resolve: (s) => upper(s.status) as 'SUCCESS' }),
      attempt: t.exposeInt('attempt'),
      startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.startedAt }),
      endedAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.endedAt }),
      error: t.field({ type: 'JSON', nullable: true, resolve: (s) => s.error }),
    }),
  });

  EventRef.implement({
    fields: (t) => ({
      id: t.id({ resolve: (e) => String(e.id) }),
      type: t.exposeString('type'),
      assetKey: t.exposeString('assetKey', { nullable: true }),
      partitionKey: t.exposeString('partitionKey', { nullable: true }),
      timestamp: t.field({ type: 'DateTime', resolve: (e) => e.ts }),
      payload: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.payload }),
    }),
  });

  const stepPage = async (load: (after: { assetKey: string; partitionKey: string } | undefined, limit: number) => Promise<StepRecord[]>, first: number | null | undefined, afterCursor: string | null | undefined) => {
    const limit = pageSize(first, 100);
    const c = decodeCursor(afterCursor, isStepCursor);
    const rows = await load(c && { assetKey: c.a, partitionKey: c.p }, limit + 1);
    return pageOf(rows, limit, (s) => ({ a: s.assetKey, p: s.partitionKey }));
  };

  RunRef.implement({
    fields: (t) => ({
      id: t.id({ resolve: (r) => r.runId }),
      kind: t.exposeString('kind'),
      status: t.field({ type: RunStatusEnum, resolve: (r) => upper(r.status) as 'QUEUED' }),
      selection: t.string({ resolve: (r) => r.request.selection }),
      request: t.field({ type: 'JSON', resolve: (r) => r.request }),
      tags: t.field({ type: 'JSON', resolve: (r) => r.tags }),
      resumedFrom: t.exposeString('resumedFrom', { nullable: true }),
      createdAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
      startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.startedAt }),
      endedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.endedAt }),
      stepsTotal: t.exposeInt('stepsTotal'),
      stepCounts: t.field({ type: StepCountsRef, resolve: (r, _a, ctx) => ctx.loaders.stepCounts.load(r.runId) }),
      steps: t.field({
        type: StepConnection,
        args: { first: t.arg.int({ defaultValue: 100 }), after: t.arg.string() },
        resolve: (r, args, ctx) => stepPage((after, limit) => ctx.services.eventLog.listStepsPage(r.runId, after, limit), args.first, args.after),
      }),
      events: t.field({
        type: EventConnection,
        args: { first: t.arg.int({ defaultValue: 100 }), after: t.arg.string() },
        resolve: async (r, args, ctx) => {
          const limit = pageSize(args.first, 100);
          const afterId = decodeCursor(args.after, isNumber);
          const rows = await ctx.services.eventLog.listEvents(r.runId, { afterId, limit: limit + 1 });
          return pageOf(rows, limit, (e) => e.id);
        },
      }),
      error: t.field({ type: 'JSON', nullable: true, resolve: (r) => r.error }),
    }),
  });

  BackfillRef.implement({
    fields: (t) => ({
      id: t.id({ resolve: (r) => r.runId }),
      run: t.field({ type: RunRef, resolve: (r) => r }),
      partitionCounts: t.field({ type: StepCountsRef, description: 'The latest step of each partition over the backfill and its retries.', resolve: (r, _a, ctx) => ctx.services.eventLog.backfillStepCounts(r.runId) }),
      partitions: t.field({
        type: StepConnection,
        args: { first: t.arg.int({ defaultValue: 100 }), after: t.arg.string() },
        resolve: (r, args, ctx) => stepPage((after, limit) => ctx.services.eventLog.backfillStepsPage(r.runId, after, limit), args.first, args.after),
      }),
    }),
  });

  SensorRef.implement({
    fields: (t) => ({
      name: t.exposeString('name'),
      enabled: t.exposeBoolean('enabled'),
      intervalSeconds: t.exposeInt('intervalSeconds'),
      lastTick: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.lastTick }),
      cursor: t.exposeString('cursor', { nullable: true }),
    }),
  });

  LaunchResultRef.implement({
    fields: (t) => ({
      runId: t.id({ resolve: (r) => r.runId }),
      run: t.field({ type: RunRef, nullable: true, resolve: (r, _a, ctx) => ctx.loaders.runs.load(r.runId) }),
    }),
  });

  // --- inputs -----------------------------------------------------------------------------

  const RunFilterInput = builder.inputType('RunFilter', {
    fields: (t) => ({
      status: t.field({ type: RunStatusEnum }),
      assetKey: t.string(),
      partitionKey: t.string(),
      backfillId: t.id(),
    }),
  });
  const RangeInput = builder.inputType('PartitionRangeInput', {
    fields: (t) => ({ from: t.string({ required: true }), to: t.string({ required: true }) }),
  });

  // --- queries ----------------------------------------------------------------------------

  const runPage = async (ctx: Ctx, filter: { statuses?: RunStatus[]; kind?: RunRecord['kind']; assetKey?: string; partitionKey?: string; backfillId?: string }, first: number | null | undefined, after: string | null | undefined, fallback: number) => {
    const limit = pageSize(first, fallback);
    const afterRunId = decodeCursor(after, isString);
    const rows = await ctx.services.eventLog.listRunsPage({ ...filter, afterRunId, limit: limit + 1 });
    return pageOf(rows, limit, (r) => r.runId);
  };

  builder.queryType({
    fields: (t) => ({
      viewer: t.field({ type: ViewerRef, resolve: (_r, _a, ctx) => ctx.viewer }),
      assets: t.field({
        type: AssetConnection,
        args: { group: t.arg.string(), search: t.arg.string(), first: t.arg.int({ defaultValue: 50 }), after: t.arg.string() },
        resolve: (_r, args, ctx) => {
          const limit = pageSize(args.first, 50);
          checkText('search', args.search, MAX_SEARCH);
          checkText('group', args.group, MAX_KEY);
          const after = decodeCursor(args.after, isString);
          const needle = args.search?.toLowerCase();
          const graph = ctx.services.runtime.graph;
          // Assets are code: filtering them in memory reads nothing from the database.
          const matching = [...graph.assets.values()]
            .filter((a) => (args.group == null || a.group === args.group) && (!needle || a.key.toLowerCase().includes(needle) || a.description.toLowerCase().includes(needle)))
            .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
          const start = after === undefined ? 0 : matching.findIndex((a) => a.key > after);
          const rest = start < 0 ? [] : matching.slice(start, start + limit + 1);
          return { ...pageOf(rest, limit, (a) => a.key), totalCount: matching.length };
        },
      }),
      asset: t.field({
        type: AssetRef,
        nullable: true,
        args: { key: t.arg.string({ required: true }) },
        resolve: (_r, args, ctx) => {
          checkText('key', args.key, MAX_KEY);
          return ctx.services.runtime.graph.assets.get(args.key) ?? null;
        },
      }),
      lineage: t.field({
        type: LineageRef,
        args: {
          key: t.arg.string({ required: true }),
          direction: t.arg({ type: LineageDirectionEnum, defaultValue: 'BOTH' }),
          depth: t.arg.int({ defaultValue: 3 }),
        },
        resolve: (_r, args, ctx) => {
          checkText('key', args.key, MAX_KEY);
          const depth = args.depth ?? 3;
          if (!Number.isInteger(depth) || depth < 0 || depth > MAX_LINEAGE_DEPTH) throw inputError(`\`depth\` must be an integer from 0 to ${MAX_LINEAGE_DEPTH}.`);
          const graph = ctx.services.runtime.graph;
          const l = graph.lineage(args.key, args.direction ?? 'BOTH', depth);
          return { nodes: l.nodes.map((k) => graph.get(k)), edges: l.edges.map((e) => ({ from: e.from, to: e.to, input: e.input ?? null, mapping: e.mapping.name })) };
        },
      }),
      runs: t.field({
        type: RunConnection,
        args: { filter: t.arg({ type: RunFilterInput }), first: t.arg.int({ defaultValue: 20 }), after: t.arg.string() },
        resolve: (_r, args, ctx) => {
          const f = args.filter ?? {};
          checkText('assetKey', f.assetKey, MAX_KEY);
          checkText('partitionKey', f.partitionKey, MAX_KEY);
          checkText('backfillId', f.backfillId == null ? null : String(f.backfillId), MAX_KEY);
          return runPage(ctx, {
            statuses: f.status ? [lower(f.status) as RunStatus] : undefined,
            assetKey: f.assetKey ?? undefined,
            partitionKey: f.partitionKey ?? undefined,
            backfillId: f.backfillId == null ? undefined : String(f.backfillId),
          }, args.first, args.after, 20);
        },
      }),
      run: t.field({
        type: RunRef,
        nullable: true,
        args: { id: t.arg.id({ required: true }) },
        resolve: (_r, args, ctx) => {
          checkText('id', String(args.id), MAX_KEY);
          return ctx.loaders.runs.load(String(args.id));
        },
      }),
      backfills: t.field({
        type: RunConnection,
        args: { first: t.arg.int({ defaultValue: 20 }), after: t.arg.string() },
        resolve: (_r, args, ctx) => runPage(ctx, { kind: 'backfill' }, args.first, args.after, 20),
      }),
      backfill: t.field({
        type: BackfillRef,
        nullable: true,
        args: { id: t.arg.id({ required: true }) },
        resolve: async (_r, args, ctx) => {
          checkText('id', String(args.id), MAX_KEY);
          const run = await ctx.loaders.runs.load(String(args.id));
          return run?.kind === 'backfill' ? run : null;
        },
      }),
      sensors: t.field({ type: [SensorRef], resolve: (_r, _a, ctx) => ctx.services.eventLog.listSensors() }),
    }),
  });

  // --- mutations --------------------------------------------------------------------------

  builder.mutationType({
    fields: (t) => ({
      launchMaterialization: t.field({
        type: LaunchResultRef,
        args: {
          selection: t.arg.string({ required: true }),
          partitionKeys: t.arg.stringList(),
          force: t.arg.boolean({ description: 'Re-materialize partitions that are up to date.' }),
        },
        resolve: (_r, args, ctx) => audited(ctx, 'launchMaterialization', 'editor', args, async () => {
          checkText('selection', args.selection, MAX_SELECTION);
          const request: RunRequest = { selection: args.selection, partitions: partitionSpecOf(args.partitionKeys, null), skipUpToDate: !args.force };
          return launchInBackground(ctx, request, { kind: 'materialize', tags: { launched_by: ctx.viewer.subject, via: 'graphql' } });
        }),
      }),
      launchBackfill: t.field({
        type: LaunchResultRef,
        args: {
          selection: t.arg.string({ required: true }),
          range: t.arg({ type: RangeInput }),
          keys: t.arg.stringList(),
          onlyMissing: t.arg.boolean(),
          onlyFailed: t.arg.boolean(),
        },
        resolve: (_r, args, ctx) => audited(ctx, 'launchBackfill', 'editor', args, async () => {
          checkText('selection', args.selection, MAX_SELECTION);
          if (args.onlyMissing && args.onlyFailed) throw inputError('Use onlyMissing or onlyFailed, not both.');
          const request: RunRequest = { selection: args.selection, partitions: partitionSpecOf(args.keys, args.range), skipUpToDate: true, onlyMissing: !!args.onlyMissing, onlyFailed: !!args.onlyFailed };
          return launchInBackground(ctx, request, { kind: 'backfill', tags: { launched_by: ctx.viewer.subject, via: 'graphql' } });
        }),
      }),
      cancelRun: t.field({
        type: RunRef,
        args: { id: t.arg.id({ required: true }) },
        resolve: (_r, args, ctx) => audited(ctx, 'cancelRun', 'editor', args, async () => {
          const id = String(args.id);
          checkText('id', id, MAX_KEY);
          const run = await ctx.services.eventLog.getRun(id);
          if (!run) throw new OrreryError(ErrorIds.RUN_NOT_FOUND, `No run ${id}; check the id (runs query).`, { runId: id });
          // Canceling a run that already ended changes nothing: the run comes back as it is.
          if (!TERMINAL_RUN_STATUSES.includes(run.status)) await ctx.services.runtime.cancel(id);
          return (await ctx.services.eventLog.getRun(id))!;
        }),
      }),
      retryBackfill: t.field({
        type: LaunchResultRef,
        args: { id: t.arg.id({ required: true }), onlyFailed: t.arg.boolean({ defaultValue: true }) },
        resolve: (_r, args, ctx) => audited(ctx, 'retryBackfill', 'editor', args, async () => {
          const id = String(args.id);
          checkText('id', id, MAX_KEY);
          const run = await ctx.services.eventLog.getRun(id);
          if (!run) throw new OrreryError(ErrorIds.RUN_NOT_FOUND, `No backfill ${id}; check the id (backfills query).`, { runId: id });
          if (run.kind !== 'backfill') throw new OrreryError(ApiErrorIds.RUN_KIND, `Run ${id} is a ${run.kind} run, not a backfill; launch it again instead.`, { runId: id });
          if (!TERMINAL_RUN_STATUSES.includes(run.status)) throw new OrreryError(ErrorIds.RUN_NOT_RESUMABLE, `Backfill ${id} is still ${run.status}; wait for it to end or cancel it first.`, { runId: id });
          const onlyFailed = args.onlyFailed ?? true;
          const request: RunRequest = { ...run.request, skipUpToDate: true, onlyFailed, onlyMissing: onlyFailed ? false : run.request.onlyMissing };
          return launchInBackground(ctx, request, { kind: 'backfill', resumedFrom: id, tags: { ...run.tags, launched_by: ctx.viewer.subject, via: 'graphql', retry_of: id } });
        }),
      }),
      setSensorEnabled: t.field({
        type: SensorRef,
        args: { name: t.arg.string({ required: true }), enabled: t.arg.boolean({ required: true }) },
        resolve: (_r, args, ctx) => audited(ctx, 'setSensorEnabled', 'approver', args, async () => {
          checkText('name', args.name, MAX_KEY);
          const sensor = await ctx.services.eventLog.setSensorEnabled(args.name, args.enabled);
          if (!sensor) throw new OrreryError(ApiErrorIds.SENSOR_UNKNOWN, `No sensor "${args.name}"; the sensors query lists them.`, { name: args.name });
          return sensor;
        }),
      }),
    }),
  });

  // --- subscriptions ----------------------------------------------------------------------

  builder.subscriptionType({
    fields: (t) => ({
      runEvents: t.field({
        type: EventRef,
        args: { runId: t.arg.id({ required: true }) },
        subscribe: (_r, args, ctx) => tailRunEvents(ctx, String(args.runId)),
        resolve: (e) => e,
      }),
    }),
  });

  return builder.toSchema({ sortSchema: false });
}

const TERMINAL_EVENTS = new Set(['RUN_SUCCESS', 'RUN_FAILURE', 'RUN_CANCELED']);

/**
 * Tails a run's events from the first, polling the event log, and ends after the run's terminal
 * event (or once the run has ended and nothing more arrives).
 */
export async function* tailRunEvents(ctx: Ctx, runId: string): AsyncGenerator<EventRecord> {
  checkText('runId', runId, MAX_KEY);
  const log = ctx.services.eventLog;
  if (!(await log.getRun(runId))) throw new OrreryError(ErrorIds.RUN_NOT_FOUND, `No run ${runId}; check the id (runs query).`, { runId });
  let afterId: number | undefined;
  let endedPolls = 0;
  // A client that goes away while nothing new arrives would otherwise keep this loop polling.
  const signal = (ctx as Ctx & { request?: Request }).request?.signal;
  while (!signal?.aborted) {
    const events = await log.listEvents(runId, { afterId, limit: 500 });
    for (const e of events) {
      afterId = e.id;
      yield e;
      if (TERMINAL_EVENTS.has(e.type)) return;
    }
    if (events.length === 500) continue;
    const run = await log.getRun(runId);
    // A run that ended without a terminal event (its process died): stop after a few quiet polls.
    if (!run || TERMINAL_RUN_STATUSES.includes(run.status)) { if (++endedPolls >= 4) return; }
    await new Promise((r) => setTimeout(r, ctx.services.pollMs));
  }
}
