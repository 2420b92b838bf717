import type { Policies } from '../../assets/policies/index.ts';
import { SyntheticProvider } from './synthetic.ts';

/** The synthetic source of `sources.yaml`, for the pairs of `universe.yaml`. */
export function syntheticProviderFrom(p: Policies): SyntheticProvider | undefined {
  const entry = Object.values(p.sources.providers).find((s) => s.type === 'Synthetic' && s.enabled);
  if (!entry || entry.type !== 'Synthetic') return undefined;
  const syn = entry;
  return new SyntheticProvider({
    seed: syn.seed,
    pairs: p.universe.pairs.map((pair) => {
      const leg = (l: typeof pair.leg_A) => ({ symbol: l.canonical_symbol, price0: syn.legs[l.canonical_symbol].price0, tickSize: l.tick_size, annualVol: syn.legs[l.canonical_symbol].annual_vol, assetClass: l.asset_class });
      const params = syn.pairs[pair.pair_id];
      return { pairId: pair.pair_id, legA: leg(pair.leg_A), legB: leg(pair.leg_B), beta: params.beta, halfLifeBars: params.half_life_bars, spreadVol: params.spread_vol };
    }),
  });
}
