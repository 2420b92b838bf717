/**
 * β-neutral sizing (seed 002 サイズ決定と丸め):
 *
 * 1. Targets notional_A : notional_B = 1 : |β| with notional_A + notional_B = the gross target.
 * 2. Scale both up by one factor until each leg's raw lots reach min_lot and its notional
 *    reaches the minimum notional (the ratio is kept).
 * 3. Round each leg to a whole number of lot steps (nearest), then raise it to its minimum
 *    (min_lot, minimum notional) if rounding went under.
 * 4. If the rounded ratio misses |β| by more than the tolerance (±1 %), look for the smallest
 *    gross notional (kA, kB) with kA ∈ [kA₀, 2kA₀], kB ∈ [kB₀, 2kB₀] that meets it — so a
 *    leg is never cut below its first rounding nor more than doubled. Ties go to the smaller
 *    ratio error, then the smaller kA. When none meets it, the first rounding stays and its
 *    ratio error is reported.
 *
 * Lots are handled as integer step counts so no rounding drift accumulates.
 */

/** What the sizer needs to know about one leg at the fill. */
export interface LegLot {
  /** Tick-rounded fill price. */
  price: number;
  contractSize: number;
  minLot: number;
  lotStep: number;
  /** Quote → account currency rate (1 for a USD leg in a USD account). */
  fx: number;
}

export interface PairSize {
  lotsA: number;
  lotsB: number;
  /** lots × contract size. */
  qtyA: number;
  qtyB: number;
  /** In account currency. */
  notionalA: number;
  notionalB: number;
  /** notional_B / (notional_A · |β|) − 1. */
  ratioError: number;
  /** True when step 4 moved the sizes. */
  adjusted: boolean;
}

/** Absolute slack for float noise in "is this a whole number of steps". */
const EPS = 1e-9;

// Scratch output of sizeInto: stepsA, stepsB, ratioError, adjusted.
export const SIZE_STEPS_A = 0, SIZE_STEPS_B = 1, SIZE_RATIO_ERROR = 2, SIZE_ADJUSTED = 3;

/**
 * Sizes a pair into `out` (see SIZE_*); false when no size exists (non-finite or non-positive
 * prices, β or target). Allocation-free, for the engine loop.
 */
export function sizeInto(
  out: Float64Array,
  priceA: number, csA: number, minLotA: number, stepA: number, fxA: number,
  priceB: number, csB: number, minLotB: number, stepB: number, fxB: number,
  absBeta: number, grossTarget: number, minNotional: number, tolerance: number,
): boolean {
  const uA = priceA * csA * fxA, uB = priceB * csB * fxB; // account currency per lot
  if (!(uA > 0 && uB > 0 && absBeta > 0 && grossTarget > 0) || !Number.isFinite(uA + uB + absBeta + grossTarget)) return false;
  let nA = grossTarget / (1 + absBeta), nB = grossTarget - nA;
  const f = Math.max(1, (minLotA * uA) / nA, (minLotB * uB) / nB, minNotional / nA, minNotional / nB);
  nA *= f; nB *= f;
  const vA = stepA * uA, vB = stepB * uB; // account currency per lot step
  const minA = Math.max(1, Math.ceil(minLotA / stepA - EPS), Math.ceil(minNotional / vA - EPS));
  const minB = Math.max(1, Math.ceil(minLotB / stepB - EPS), Math.ceil(minNotional / vB - EPS));
  const kA0 = Math.max(minA, Math.round(nA / vA)), kB0 = Math.max(minB, Math.round(nB / vB));
  const err0 = (kB0 * vB) / (kA0 * vA) / absBeta - 1;
  out[SIZE_STEPS_A] = kA0; out[SIZE_STEPS_B] = kB0; out[SIZE_RATIO_ERROR] = err0; out[SIZE_ADJUSTED] = 0;
  if (Math.abs(err0) <= tolerance) return true;

  // For a fixed count on one leg, the cheapest valid count on the other is the smallest one
  // inside the tolerance band, so walking the shorter axis finds the box's minimum.
  let bestA = -1, bestB = -1, bestGross = Infinity, bestErr = Infinity;
  const consider = (kA: number, kB: number) => {
    const e = Math.abs((kB * vB) / (kA * vA) / absBeta - 1);
    const g = kA * vA + kB * vB;
    if (g < bestGross || (g === bestGross && (e < bestErr || (e === bestErr && kA < bestA)))) { bestA = kA; bestB = kB; bestGross = g; bestErr = e; }
  };
  const ok = (kA: number, kB: number) => Math.abs((kB * vB) / (kA * vA) / absBeta - 1) <= tolerance;
  if (kA0 <= kB0) {
    for (let kA = kA0; kA <= 2 * kA0; kA++) {
      // Band: kB·vB ∈ kA·vA·|β|·[1 − tol, 1 + tol]; float edges are settled by ok().
      let kB = Math.max(kB0, Math.ceil((kA * vA * absBeta * (1 - tolerance)) / vB));
      while (kB > kB0 && ok(kA, kB - 1)) kB--;
      while (kB <= 2 * kB0 && !ok(kA, kB) && (kB * vB) / (kA * vA) / absBeta - 1 < 0) kB++;
      if (kB <= 2 * kB0 && ok(kA, kB)) consider(kA, kB);
    }
  } else {
    for (let kB = kB0; kB <= 2 * kB0; kB++) {
      // Band: kA·vA ∈ kB·vB / (|β|·[1 + tol, 1 − tol]).
      let kA = Math.max(kA0, Math.ceil((kB * vB) / (absBeta * (1 + tolerance) * vA)));
      while (kA > kA0 && ok(kA - 1, kB)) kA--;
      while (kA <= 2 * kA0 && !ok(kA, kB) && (kB * vB) / (kA * vA) / absBeta - 1 > 0) kA++;
      if (kA <= 2 * kA0 && ok(kA, kB)) consider(kA, kB);
    }
  }
  if (bestA > 0) {
    out[SIZE_STEPS_A] = bestA; out[SIZE_STEPS_B] = bestB;
    out[SIZE_RATIO_ERROR] = (bestB * vB) / (bestA * vA) / absBeta - 1;
    out[SIZE_ADJUSTED] = 1;
  }
  return true;
}

/** Sizes one pair trade; null when no size exists. */
export function sizePair(a: LegLot, b: LegLot, absBeta: number, grossTarget: number, minNotional: number, tolerance = 0.01): PairSize | null {
  const out = new Float64Array(4);
  if (!sizeInto(out, a.price, a.contractSize, a.minLot, a.lotStep, a.fx, b.price, b.contractSize, b.minLot, b.lotStep, b.fx, absBeta, grossTarget, minNotional, tolerance)) return null;
  const lotsA = out[SIZE_STEPS_A] * a.lotStep, lotsB = out[SIZE_STEPS_B] * b.lotStep;
  return {
    lotsA, lotsB,
    qtyA: lotsA * a.contractSize, qtyB: lotsB * b.contractSize,
    notionalA: out[SIZE_STEPS_A] * a.lotStep * a.price * a.contractSize * a.fx,
    notionalB: out[SIZE_STEPS_B] * b.lotStep * b.price * b.contractSize * b.fx,
    ratioError: out[SIZE_RATIO_ERROR],
    adjusted: out[SIZE_ADJUSTED] === 1,
  };
}
