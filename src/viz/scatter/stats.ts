// Agreement between attribution patching (x) and activation patching (y) over the same targets.
// Every statistic is NaN when it is undefined (fewer than 2 points, or a constant series), never 0 or 1.

/** Indices where both series are finite: a target counts once its activation patch has been computed. */
export function pairedFinite(x: ArrayLike<number>, y: ArrayLike<number>): { x: number[]; y: number[]; index: number[] } {
  if (x.length !== y.length) throw new Error(`series lengths differ: ${x.length} vs ${y.length}`);
  const out = { x: [] as number[], y: [] as number[], index: [] as number[] };
  for (let i = 0; i < x.length; i++) {
    if (Number.isFinite(x[i]) && Number.isFinite(y[i])) {
      out.x.push(x[i]);
      out.y.push(y[i]);
      out.index.push(i);
    }
  }
  return out;
}

/** Pearson's r, two-pass (centre first) for stability on values like logit diffs near 3.55 +- 1e-4. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  if (n !== y.length) throw new Error(`series lengths differ: ${n} vs ${y.length}`);
  if (n < 2) return NaN;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** 1-based ranks; tied values share the average of the ranks they span (as scipy.stats.rankdata 'average'). */
export function averageRanks(v: ArrayLike<number>): Float64Array {
  const n = v.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && v[order[j + 1]] === v[order[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) ranks[order[t]] = r;
    i = j + 1;
  }
  return ranks;
}

/** Spearman's rho: Pearson's r of the average ranks, so it is right with ties too. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new Error(`series lengths differ: ${x.length} vs ${y.length}`);
  if (x.length < 2) return NaN;
  return pearson(averageRanks(x), averageRanks(y));
}

/** Indices of the k largest |v|; ties broken by lower index so the answer is deterministic. */
export function topKByMagnitude(v: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: v.length }, (_, i) => i)
    .sort((a, b) => Math.abs(v[b]) - Math.abs(v[a]) || a - b)
    .slice(0, Math.max(0, Math.min(k, v.length)));
}

/**
 * |topk(|x|) ∩ topk(|y|)| / k, with k capped at n. Answers "do both methods name the same most important targets",
 * which correlation over hundreds of near-zero targets hides. NaN for n < 2 (with one point the answer is trivially 1).
 */
export function topKOverlap(x: ArrayLike<number>, y: ArrayLike<number>, k = 10): number {
  if (x.length !== y.length) throw new Error(`series lengths differ: ${x.length} vs ${y.length}`);
  const kk = Math.min(Math.floor(k), x.length);
  if (x.length < 2 || kk < 1) return NaN;
  const a = new Set(topKByMagnitude(x, kk));
  let hit = 0;
  for (const i of topKByMagnitude(y, kk)) if (a.has(i)) hit++;
  return hit / kk;
}

export interface AgreementStats {
  n: number;
  pearson: number;
  spearman: number;
  topK: number;
  /** The k actually used: min(k, n). */
  k: number;
}

export function agreement(x: ArrayLike<number>, y: ArrayLike<number>, k = 10): AgreementStats {
  return {
    n: x.length,
    pearson: pearson(x, y),
    spearman: spearman(x, y),
    topK: topKOverlap(x, y, k),
    k: Math.min(k, x.length),
  };
}

/**
 * An estimator against the exact patch: Pearson r, Spearman rho and top-k recall (topKOverlap) over the targets
 * whose exact patch is computed. An unsigned estimator (magnitudes: GradDrop, AtP*) is compared with |exact|, since
 * it does not claim a sign.
 */
export function estimatorAgreement(estimate: ArrayLike<number>, exact: ArrayLike<number>, signed: boolean, k = 10): AgreementStats {
  const p = pairedFinite(estimate, exact);
  return agreement(p.x, signed ? p.y : p.y.map(Math.abs), k);
}

export interface VerifiedPoint {
  estimate: number;
  exact: number;
  /** Among the estimator's top K (false: a random other). */
  top: boolean;
}

export interface VerificationStats {
  k: number;
  /** Mean |estimate - exact| over the top K (signed) or mean ||estimate| - |exact|| (unsigned). */
  meanAbsError: number;
  /** Top-K cells whose estimate has the exact patch's sign (signed estimators only; NaN otherwise). */
  signAgree: number;
  /** Mean |exact| of the top K and of the random others: does the estimator's top K hold the big effects? */
  meanAbsExactTop: number;
  meanAbsExactRandom: number;
}

/** Summary numbers of one "Verify top K" (verify.ts's cells), pure so the line the app shows is tested. */
export function verificationStats(cells: readonly VerifiedPoint[], signed: boolean): VerificationStats {
  const top = cells.filter((c) => c.top);
  const rest = cells.filter((c) => !c.top);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  return {
    k: top.length,
    meanAbsError: mean(top.map((c) => (signed ? Math.abs(c.estimate - c.exact) : Math.abs(Math.abs(c.estimate) - Math.abs(c.exact))))),
    signAgree: signed ? top.filter((c) => Math.sign(c.estimate) === Math.sign(c.exact)).length : NaN,
    meanAbsExactTop: mean(top.map((c) => Math.abs(c.exact))),
    meanAbsExactRandom: mean(rest.map((c) => Math.abs(c.exact))),
  };
}
