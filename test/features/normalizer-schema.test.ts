import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  applyNormalizer, canonicalJson, DEFAULT_FEATURE_CONFIG, FEATURE_NAMES, FeatureEngine, featureSchema, fitNormalizer, OUTPUT_NAMES,
  quantileSorted, resolveFeatureConfig, SelectedFeatureEngine, schemaHash, syntheticPair,
} from '../../assets/features/engine/index.ts';

const REPO = join(import.meta.dirname, '..', '..');

describe('fitNormalizer / applyNormalizer', () => {
  // 1..100 plus one huge outlier: quantiles (linear interpolation) tame it.
  const values = [...Array.from({ length: 100 }, (_, i) => i + 1), 1e9];
  const rows = values.map((v, i) => ({ x: v, y: i % 2 ? 3 : 3, warm: i < 10 ? null : i }));

  it('winsorises at the 1 %/99 % training quantiles, then centres on the median and scales by MAD·1.4826', () => {
    const p = fitNormalizer(rows, ['x']);
    const sorted = Float64Array.from(values).sort();
    expect(p.features.x.lower).toBeCloseTo(quantileSorted(sorted, 0.01), 12);
    expect(p.features.x.lower).toBeCloseTo(2, 12); // 0.01·100 = rank 1 → value 2
    expect(p.features.x.upper).toBeCloseTo(100, 3); // rank 99 → value 100 (plus a hair of interpolation)
    expect(p.features.x.median).toBe(51);
    // |x − 51| over the winsorised values: median 25 → scale 25·1.4826.
    expect(p.features.x.scale).toBeCloseTo(25 * 1.4826, 9);
    expect(p.features.x.count).toBe(101);
  });

  it('applies exactly the saved parameters and clips to [−5, 5]', () => {
    const params = JSON.parse(JSON.stringify(fitNormalizer(rows, ['x'])));
    const scale = 25 * 1.4826;
    expect(applyNormalizer(params, { x: 51 }).x).toBe(0);
    expect(applyNormalizer(params, { x: 76 }).x).toBeCloseTo(25 / scale, 12);
    // Beyond the training range: winsorised to the saved bound, not refitted on the new data.
    expect(applyNormalizer(params, { x: 1e12 }).x).toBe((params.features.x.upper - 51) / scale);
    expect(applyNormalizer(params, { x: null }).x).toBeNull();
    const tight = fitNormalizer(rows, ['x'], { lowerQuantile: 0, upperQuantile: 1 });
    expect(applyNormalizer(tight, { x: 1e9 }).x).toBe(5);
  });

  it('skips warm-up nulls; MAD = 0 falls back to the std, a constant to 1; bad input is an error', () => {
    const p = fitNormalizer(rows, ['warm', 'y']);
    expect(p.features.warm.count).toBe(91);
    expect(p.features.y.scale).toBe(1);
    const mostlyFlat = Array.from({ length: 100 }, (_, i) => ({ v: i < 80 ? 7 : 8 }));
    const q = fitNormalizer(mostlyFlat, ['v'], { lowerQuantile: 0, upperQuantile: 1 });
    expect(q.features.v.scale).toBeCloseTo(Math.sqrt(0.16), 12);
    expect(() => fitNormalizer([{ v: null }], ['v'])).toThrow(/no non-null/);
    expect(() => fitNormalizer([{ v: Number.NaN }], ['v'])).toThrow(/non-finite/);
    expect(() => applyNormalizer(p, { y: 1 })).toThrow(/no feature "warm"/);
  });

  it('works on engine rows: fit on a training window, apply to later rows', () => {
    const { a, b } = syntheticPair({ n: 2_000, seed: 4 });
    const e = new FeatureEngine();
    const rows = a.map((bar, i) => e.update(bar, b[i]));
    const params = fitNormalizer(rows.slice(0, 1_500), FEATURE_NAMES);
    for (const row of rows.slice(1_500)) {
      const out = applyNormalizer(params, row);
      expect(Object.keys(out)).toEqual([...FEATURE_NAMES]);
      for (const v of Object.values(out)) expect(Math.abs(v as number)).toBeLessThanOrEqual(5);
    }
  });
});

describe('feature schema', () => {
  const manifest = parse(readFileSync(join(REPO, 'configs/base/features.yaml'), 'utf8'));
  const names: string[] = [...manifest.features.value.active, ...manifest.features.value.experimental].map((f: { name: string }) => f.name);

  it('covers the manifest: float64 columns, windows, half-lives, normalisation, engine version', () => {
    expect(names).toEqual([...FEATURE_NAMES]);
    const s = featureSchema({}, names);
    expect(s.names).toEqual(names);
    expect(Object.values(s.dtypes).every((d) => d === 'float64')).toBe(true);
    expect(s.windows).toMatchObject({ z_ema: 180, atr_spread: 14, vol_ratio_spread: 180, slope_z: 20, ema_gap_spread: 26 });
    expect(s.half_lives).toEqual({ z_ema: 12 });
    expect(s.normalization).toMatchObject({ method: 'winsorize_robust_z', lower_quantile: 0.01, upper_quantile: 0.99, clip: [-5, 5] });
    expect(s.config).toEqual(DEFAULT_FEATURE_CONFIG);
    expect(s.warmup_bars.delta_z).toBe(359);
  });

  it('hashes canonical JSON: key order does not matter, any content change does', () => {
    const s = featureSchema({}, names);
    const h = schemaHash(s);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    const reordered = Object.fromEntries(Object.entries(s).reverse());
    expect(schemaHash(reordered as typeof s)).toBe(h);
    expect(canonicalJson({ b: 1, a: [2, { d: 1, c: 2 }] })).toBe('{"a":[2,{"c":2,"d":1}],"b":1}');
    expect(schemaHash(featureSchema({ zWindow: 120 }, names))).not.toBe(h);
    expect(schemaHash(featureSchema({}, [...names].reverse()))).not.toBe(h); // column order matters
    expect(schemaHash(featureSchema({}, names, { clip: 4 }))).not.toBe(h);
    expect(schemaHash(featureSchema({}, names))).toBe(h);
  });

  it('rejects unknown or repeated names', () => {
    expect(() => featureSchema({}, ['delta_z', 'nope'])).toThrow(/unknown feature "nope"/);
    expect(() => featureSchema({}, ['delta_z', 'delta_z'])).toThrow(/twice/);
  });
});

describe('config and selection', () => {
  it('defaults are the seed values; overrides are validated', () => {
    expect(DEFAULT_FEATURE_CONFIG).toMatchObject({ betaWindow: 180, betaHalfLife: 72, madRatioThreshold: 2, huberK: 1.345, zWindow: 180, zClip: 5, zEmaHalfLife: 12, atrPeriod: 14, halfLifeMax: 240, emaFastSpan: 12, emaSlowSpan: 26, slopeWindow: 20, rsiPeriod: 14 });
    expect(resolveFeatureConfig({ zWindow: 90 }).zWindow).toBe(90);
    expect(() => resolveFeatureConfig({ zWindow: 1 })).toThrow(/zWindow/);
    expect(() => resolveFeatureConfig({ betaWindow: 10.5 })).toThrow(/betaWindow/);
    expect(() => resolveFeatureConfig({ huberK: Number.NaN })).toThrow(/huberK/);
    expect(() => resolveFeatureConfig({ zwindow: 3 } as never)).toThrow(/unknown feature config key "zwindow"/);
  });

  it('a selected engine emits only the requested names, in order, and resumes from its snapshot', () => {
    const { a, b } = syntheticPair({ n: 600, seed: 9 });
    const sel = new SelectedFeatureEngine(['z_ema', 'delta_z', 'beta']);
    const out = a.map((bar, i) => sel.update(bar, b[i]));
    expect(Object.keys(out[599])).toEqual(['z_ema', 'delta_z', 'beta']);
    const full = new FeatureEngine();
    const rows = a.map((bar, i) => full.update(bar, b[i]));
    expect(out[599]).toEqual({ z_ema: rows[599].z_ema, delta_z: rows[599].delta_z, beta: rows[599].beta });
    const resumed = SelectedFeatureEngine.restore(JSON.parse(JSON.stringify(sel.snapshot())));
    expect(resumed.names).toEqual(['z_ema', 'delta_z', 'beta']);
    expect(() => new SelectedFeatureEngine(['zz'])).toThrow(/unknown feature/);
  });

  it('the allocation-free updateValues gives the same numbers as update, NaN where update has null', () => {
    const { a, b } = syntheticPair({ n: 1_400, seed: 8, kind: 'outliers' }); // spikes from bar 1000: Huber bars too
    const rowsEngine = new FeatureEngine({ betaWindow: 60, zWindow: 60, madRatioWindow: 60 }), valuesEngine = new FeatureEngine(rowsEngine.config);
    for (let i = 0; i < a.length; i++) {
      const row = rowsEngine.update(a[i], b[i]);
      const values = valuesEngine.updateValues(a[i], b[i]);
      expect(Array.from(values, (v) => (Number.isNaN(v) ? null : v))).toEqual(OUTPUT_NAMES.map((k) => row[k]));
      expect(valuesEngine.lastRobust).toBe(row.robust);
    }
  });

  it('rejects bars it cannot use', () => {
    const e = new FeatureEngine();
    expect(() => e.update({ high: 1, low: 1, close: 0 }, { high: 1, low: 1, close: 1 })).toThrow(/leg A/);
    expect(() => e.update({ high: 1, low: 1, close: 1 }, { high: Number.NaN, low: 1, close: 1 })).toThrow(/leg B/);
    expect(e.barCount).toBe(0);
  });
});
