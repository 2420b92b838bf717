import { createHash } from 'node:crypto';
import { z } from 'zod';
import { defineAsset, input, type AssetDefinition } from '../../core/definitions/asset.ts';
import type { JsonObject } from '../../core/event-log/port.ts';
import { identity } from '../../core/partitions/mappings.ts';
import type { ObjectStore } from '../../core/ports.ts';
import { improvementCI } from '../backtests/engine/index.ts';
import type { GroupBacktestResult } from '../backtests/asset.ts';
import type { PipelinePartitions } from '../canonical_bars/partitions.ts';
import type { TrainedModels } from '../models/asset.ts';
import type { Policies } from '../policies/index.ts';
import type { ThetaDecision } from '../theta/asset.ts';
import {
  adoptionGate, createBundle, kpisFromMetrics, modelBundleFiles, publishBundle, resolveSigningKeys, signBundle,
  type AdoptionDecision, type ModelRegistry, type ModelStage,
} from './engine/index.ts';

export interface PublishedModel {
  version: string;
  modelVersion: string;
  group: string;
  timeframe: string;
  bundleKey: string;
  keyId: string;
  stage: ModelStage;
  /** The champion it was judged against (null: none). */
  champion: string | null;
  gate: AdoptionDecision;
  acceptance: { passed: boolean; reasons: string[] };
  theta: { theta1: number; theta2: number };
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * A group's model, θ and normalisation as one Ed25519-signed bundle, registered in the model
 * registry and promoted to production only when it passes the backtest acceptance gate and the
 * adoption gate against the current champion (seed 002 採用判定); otherwise it stays in staging
 * with the reasons. Content-addressed: a rerun with the same inputs publishes nothing new.
 */
export function publishedModelsAsset(policies: Policies, partitions: PipelinePartitions, deps: { models: AssetDefinition<TrainedModels, any, any>; theta: AssetDefinition<ThetaDecision, any, any>; backtests: AssetDefinition<GroupBacktestResult, any, any> }) {
  return defineAsset({
    key: 'published_models',
    description: 'Signed bundle of a group\'s models, calibration, feature schema, θ and normalisation, registered and promoted when it passes the acceptance and adoption gates.',
    group: 'models',
    kinds: ['model', 'registry'],
    partitions: partitions.modelWindows,
    codeVersion: '1',
    ins: { models: input(deps.models, { mapping: identity() }), theta: input(deps.theta, { mapping: identity() }), backtests: input(deps.backtests, { mapping: identity() }) },
    config: z.strictObject({}),
    retry: { maxAttempts: 1 },
    async compute(ctx, ins) {
      const [{ value: m }] = await ins.models.loadAll();
      const [{ value: th }] = await ins.theta.loadAll();
      const [{ value: bt }] = await ins.backtests.loadAll();
      const registry = ctx.resources.modelRegistry as ModelRegistry | undefined;
      if (!registry) throw new Error('published_models needs a model registry resource (resources.modelRegistry)');
      const store = ctx.resources.objectStore as ObjectStore;
      // Key references (ENV:/VAULT:) go through the instance's secret resolver; embedded, the key pair under $ORRERY_HOME needs none.
      const secrets = ctx.resources.secrets as { resolve(ref: string): Promise<string> } | undefined;
      const resolveSecret = (ref: string) => (secrets ? secrets.resolve(ref) : Promise.reject(new Error(`no secret resolver (resources.secrets) to read ${ref}`)));
      const keys = await resolveSigningKeys({ resolveSecret, home: ctx.resources.home as string | undefined, generate: true });

      const onnx = { model_ai1: await store.get(m.artifacts['model_ai1.onnx'].key), model_ai2: await store.get(m.artifacts['model_ai2.onnx'].key) };
      const featureSchema = JSON.parse(Buffer.from(await store.get(m.artifacts['feature_schema.json'].key)).toString('utf8')) as JsonObject;
      const files = modelBundleFiles({ onnx, calibration: m.calibrators as never, featureSchema, theta: th.applied, normalisation: m.normalizer as never });
      const k = bt.kpis;
      const metrics = {
        sharpe: k.sharpe, max_dd: k.maxDd, ai2_false_stop_rate: k.ai2FalseStopRate, e_per_trade: k.ePerTrade,
        ann_return: k.annReturn, trades_per_year: k.tradesPerYear, calmar: k.calmar, win_rate: k.winRate, halt_rate: k.haltRate,
        ai1_oos_auc: m.metrics.oos.ai1.auc, ai2_oos_pr_auc: m.metrics.oos.ai2.pr_auc,
        acceptance: bt.acceptance.passed, model_version: m.modelVersion, feature_schema_hash: m.schemaHash,
        // The daily returns, so a later candidate's improvement CI can pair days with this one.
        daily: bt.daily as never,
      } satisfies JsonObject;
      // The version names the model and everything published with it (θ, backtest).
      const version = `${m.modelVersion}.${sha(JSON.stringify([th.applied, metrics])).slice(0, 8)}`;
      const bundle = signBundle(createBundle({ version, group: m.group, timeframe: m.timeframe, files, createdAt: new Date(m.cutoff), metadata: { model_version: m.modelVersion, theta: th.applied as never, kpis: { sharpe: k.sharpe, max_dd: k.maxDd, trades_per_year: k.tradesPerYear } } }), keys.privateKey);
      const published = await publishBundle(store, bundle, keys.publicKey);
      const record = await registry.register(version, m.group, m.timeframe, published.key, metrics, th.applied, { actor: 'orrery', requestId: ctx.runId });

      const champion = await registry.champion(m.group, m.timeframe);
      const judged = champion && champion.version !== version ? champion : null;
      let improvement = null;
      if (judged) {
        // Paired on the days both backtests cover.
        const old = new Map(((judged.metrics.daily ?? []) as Array<{ date: string; ret: number }>).map((d) => [d.date, d.ret]));
        const common = bt.daily.filter((d) => old.has(d.date));
        if (common.length >= 20) {
          const ci = improvementCI(common.map((d) => d.ret), common.map((d) => old.get(d.date)!), { statistic: 'mean', seed: ctx.seed });
          improvement = { lower: ci.lower, upper: ci.upper, level: ci.level };
        }
      }
      const gate = adoptionGate({
        candidate: { sharpe: k.sharpe, maxDrawdown: k.maxDd, ai2FalseStopRate: k.ai2FalseStopRate, expectancyPerTrade: k.ePerTrade },
        champion: judged ? kpisFromMetrics(judged.metrics) : null,
        improvementCi: improvement,
      });
      let stage: ModelStage = record.stage;
      if (champion?.version === version) stage = 'production';
      else if (gate.passed && bt.acceptance.passed) {
        stage = (await registry.promote(version, 'production', 'orrery', `adoption gate passed${judged ? ` against ${judged.version}` : ''}`, { requestId: ctx.runId, gate })).stage;
      }
      const value: PublishedModel = {
        version, modelVersion: m.modelVersion, group: m.group, timeframe: m.timeframe, bundleKey: published.key, keyId: published.keyId, stage,
        champion: judged?.version ?? null, gate, acceptance: { passed: bt.acceptance.passed, reasons: bt.acceptance.reasons }, theta: th.applied,
      };
      return {
        value,
        metadata: {
          version, stage, champion: value.champion, bundle: published.key, key_id: published.keyId,
          gate_passed: gate.passed, gate_reasons: gate.reasons, acceptance: bt.acceptance.passed, acceptance_reasons: bt.acceptance.reasons,
          theta1: th.applied.theta1, theta2: th.applied.theta2, sharpe: k.sharpe, max_dd: k.maxDd,
        },
      };
    },
  });
}
