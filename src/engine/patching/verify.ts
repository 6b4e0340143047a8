// Verify top K (issue #12): exactly patch the K cells an estimator ranks highest by |estimate|, plus R others drawn
// at random (seeded), so a user sees where the estimate holds; with a full exact sweep at hand, also how many of
// the true top K (by |exact|) the estimator's top K found.
import { mulberry32 } from '../model/checkpoint';
import type { Experiment } from './experiment';
import type { Family } from './families';
import { ravel, topK, unravel, type Labelled } from './labelled';
import type { SweepOptions } from './activation';

export interface VerifiedCell {
  index: number[];
  estimate: number;
  exact: number;
  /** Among the estimator's top K (false: one of the random others). */
  top: boolean;
}

export interface Verification {
  family: Family;
  k: number;
  cells: VerifiedCell[];
  /** With a full exact sweep: |estimator's top K ∩ true top K| / K. */
  recall?: number;
}

export interface VerifyOptions extends SweepOptions {
  k: number;
  /** Random others besides the top K (default K). */
  random?: number;
  seed?: number;
  /** A full exact sweep of the family, for the recall of the true top K. */
  exact?: Labelled;
}

export type PatchCells = (exp: Experiment, family: Family, indices: number[][], opts?: SweepOptions) => Promise<Float64Array>;

export async function verifyTopK(patchCells: PatchCells, exp: Experiment, family: Family, estimate: Labelled, opts: VerifyOptions): Promise<Verification> {
  const n = estimate.data.length;
  const k = Math.min(opts.k, n);
  if (!Number.isInteger(opts.k) || opts.k < 1) throw new Error(`Verify top K needs K >= 1, got ${opts.k}.`);
  const top = topK(estimate, k).map((e) => e.index);
  const flatTop = new Set(top.map((i) => ravel(estimate.shape, i)));
  const others: number[][] = [];
  const want = Math.min(opts.random ?? k, n - flatTop.size);
  const rand = mulberry32(opts.seed ?? 1);
  const taken = new Set(flatTop);
  while (others.length < want) {
    const f = Math.floor(rand() * n);
    if (taken.has(f)) continue;
    taken.add(f);
    others.push(unravel(estimate.shape, f));
  }
  const indices = [...top, ...others];
  const exact = await patchCells(exp, family, indices, opts);
  const cells = indices.map((index, i) => ({ index, estimate: estimate.data[ravel(estimate.shape, index)], exact: exact[i], top: i < top.length }));
  let recall: number | undefined;
  if (opts.exact) {
    const truth = new Set(topK(opts.exact, k).map((e) => ravel(estimate.shape, e.index)));
    recall = [...flatTop].filter((f) => truth.has(f)).length / k;
  }
  return { family, k, cells, recall };
}
