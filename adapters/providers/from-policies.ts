import type { Policies } from '../../assets/policies/index.ts';
import type { MarketDataProvider } from '../../core/market-data.ts';
import { ResilientProvider, resilienceOptionsFromPolicy, sourcesFromConfig, type ResilienceEvent } from './resilient.ts';
import { SyntheticProvider } from './synthetic.ts';

/** The synthetic source of `sources.yaml` (when enabled), for the pairs of `universe.yaml`. */
export function syntheticProviderFrom(p: Policies, id: string): SyntheticProvider | undefined {
  const entry = p.sources.providers[id];
  if (!entry || entry.type !== 'Synthetic' || !entry.enabled) return undefined;
  return new SyntheticProvider({
    id,
    seed: entry.seed,
    pairs: p.universe.pairs.map((pair) => {
      const leg = (l: typeof pair.leg_A) => ({ symbol: l.canonical_symbol, price0: entry.legs[l.canonical_symbol].price0, tickSize: l.tick_size, annualVol: entry.legs[l.canonical_symbol].annual_vol, assetClass: l.asset_class });
      const params = entry.pairs[pair.pair_id];
      return { pairId: pair.pair_id, legA: leg(pair.leg_A), legB: leg(pair.leg_B), beta: params.beta, halfLifeBars: params.half_life_bars, spreadVol: params.spread_vol };
    }),
  });
}

/**
 * Every enabled source of `sources.yaml` behind one provider: priority failover and fail-back,
 * circuit breakers, rate limits and retries from `pipeline_policy.yaml`, conflicts by `diff_thresh`.
 */
export function marketDataFrom(p: Policies, opts: { onEvent?: (e: ResilienceEvent) => void } = {}): ResilientProvider {
  const custom: Record<string, MarketDataProvider> = {};
  for (const [id, entry] of Object.entries(p.sources.providers)) {
    const syn = entry.type === 'Synthetic' ? syntheticProviderFrom(p, id) : undefined;
    if (syn) custom[id] = syn;
  }
  return new ResilientProvider({
    sources: sourcesFromConfig(p.sources.providers, { custom }, p.pipeline),
    ...resilienceOptionsFromPolicy({ ...p.pipeline, diff_thresh: p.sources.diff_thresh }),
    onEvent: opts.onEvent,
  });
}
