// Exact ablations (issue 13, item 4) against the float64 reference: the ablated run (clean by default) rerun with the
// hook's cell entries set to zero, to their per-position mean over reference prompts, or to a drawn reference
// prompt's values; attribution's zero and mean modes on the ablated run against finite-difference gradients.
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { ActivationPatcher } from './activation';
import { ablatedExperiment, ablationSweepPairs, familyHooks, meanActivations, type AblatedRun, type AblationMode } from './ablation';
import { runAttribution } from './attribution';
import { experimentFromTokens } from './experiment';
import type { Family } from './families';
import { referenceForward, toFloat64Weights, referenceForwardF64 } from '../../../test/reference/gpt2-f64';
import { refCell, refIndices } from '../../../test/reference/cells-f64';
import { hookGradFD } from '../../../test/reference/finite-diff';
import * as M from '../../../test/reference/metrics-f64';
import { mulberry32, randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());
const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, name: 'tiny-ablation' });
const weights = randomWeights(cfg, 51);
const w64 = toFloat64Weights(cfg, weights);
const P = 5;
const clean = [randomTokens(cfg, P, 61), randomTokens(cfg, P, 62), randomTokens(cfg, P, 63)];
const corrupted = clean.map((c, i) => c.map((t, p) => (p === 2 ? (t + 3 + i) % cfg.dVocab : t)));
const answers = [4, 9, 13];
const wrongs = [11, 2, 6];
const reference = [randomTokens(cfg, P, 71), randomTokens(cfg, P, 72), randomTokens(cfg, P, 73), randomTokens(cfg, P, 74)];
const exp = experimentFromTokens({ clean, corrupted, answers, wrongs });
const metric = (b: number) => (l: Float64Array) => M.logitDiff(l, P, cfg.dVocab, answers[b], wrongs[b]);
const runOf = (ablated: AblatedRun) => (ablated === 'clean' ? clean : corrupted);

/** Plain loops: each hook's mean over the reference prompts, entry by entry (so per position). */
function refMeans(hook: string): Float64Array {
  const acts = reference.map((t) => referenceForward(cfg, weights, t).cache.get(hook)!.data);
  return acts[0].map((_, i) => acts.reduce((a, x) => a + x[i], 0) / acts.length);
}

/** The resample draw, written from its definition: the first mulberry32 draw seeded by seed * 1000003 + pair. */
const drawn = (seed: number, pair: number) => Math.floor(mulberry32(seed * 1000003 + pair)() * reference.length);

/** Reference ablation of every cell for each pair: metric(run with the cell's entries replaced) - metric(run). */
function refAblation(family: Family, mode: AblationMode, ablated: AblatedRun, seed = 0): number[][] {
  return runOf(ablated).map((tokens, b) => {
    const base = metric(b)(referenceForward(cfg, weights, tokens).logits);
    return refIndices(family, cfg, P).map((cell) => {
      const { hook, entries } = refCell(family, cfg, P, cell);
      const value = mode === 'zero' ? null : mode === 'mean' ? refMeans(hook) : referenceForward(cfg, weights, reference[drawn(seed, b)]).cache.get(hook)!.data;
      const { logits } = referenceForwardF64(cfg, w64, tokens, {
        hooks: {
          [hook]: (v) => {
            const out = v.slice();
            for (const e of entries) out[e] = value ? value[e] : 0;
            return out;
          },
        },
      });
      return metric(b)(logits) - base;
    });
  });
}

describe('exact ablation per pair against the reference', () => {
  const patcher = new ActivationPatcher(rt, cfg);
  const sweep = patcher.sweepPairs.bind(patcher);
  it.each([
    ['zero', 'clean', 'head_out'], ['mean', 'clean', 'head_out'], ['resample', 'clean', 'mlp_out'],
    ['zero', 'corrupted', 'resid_pre'], ['mean', 'corrupted', 'pattern'], ['resample', 'corrupted', 'head_out_all_pos'],
  ] as const)('%s ablation of the %s run, %s', async (mode, ablated, family) => {
    await rt.setWeights(weights);
    const means = mode === 'mean' ? await meanActivations(rt, cfg, reference, familyHooks(cfg, [family]), 3) : undefined;
    const r = await ablationSweepPairs(sweep, exp, family, { mode, ablated, means, reference, seed: 7 });
    const ref = refAblation(family, mode, ablated, 7);
    expectClose(`${mode} ${ablated} ${family}`, r.values.data, ref.flat(), 1e-4, 1e-6);
    const runMetric = runOf(ablated).map((t, b) => metric(b)(referenceForward(cfg, weights, t).logits));
    expectClose('the ablated run\'s own metric', r.run, runMetric, 1e-4);
  });

  it('resample draws per dataset pair, not per batch position: pair indices pick the same prompts', async () => {
    await rt.setWeights(weights);
    const one = experimentFromTokens({ clean: [clean[2]], corrupted: [corrupted[2]], answers: [answers[2]], wrongs: [wrongs[2]] });
    const alone = await ablationSweepPairs(sweep, one, 'mlp_out', { mode: 'resample', ablated: 'clean', reference, seed: 7, pairIndices: [2] });
    const all = await ablationSweepPairs(sweep, exp, 'mlp_out', { mode: 'resample', ablated: 'clean', reference, seed: 7 });
    const n = alone.values.data.length;
    expectClose('pair 2 alone vs in the batch', alone.values.data, all.values.data.subarray(2 * n, 3 * n), 1e-5, 1e-6);
    expect(new Set([0, 1, 2, 3, 4, 5].map((p) => drawn(7, p))).size).toBeGreaterThan(1);
  });
});

describe('attribution of ablations on the ablated run', () => {
  /** Reference: per cell, sum over pairs and entries of (replacement - run) * FD grad at the run, / N. */
  function refAttribution(family: Family, mode: 'zero' | 'mean', ablated: AblatedRun): number[] {
    const indices = refIndices(family, cfg, P);
    const out = new Array<number>(indices.length).fill(0);
    runOf(ablated).forEach((tokens, b) => {
      const run = referenceForward(cfg, weights, tokens);
      for (let l = 0; l < cfg.nLayers; l++) {
        const { hook } = refCell(family, cfg, P, indices.find((i) => i[0] === l)!);
        const grad = hookGradFD(cfg, weights, tokens, metric(b), hook, undefined, 1e-4);
        const act = run.cache.get(hook)!.data;
        const repl = mode === 'mean' ? refMeans(hook) : null;
        indices.forEach((cell, n) => {
          if (cell[0] === l) for (const e of refCell(family, cfg, P, cell).entries) out[n] += ((repl ? repl[e] : 0) - act[e]) * grad[e] / runOf(ablated).length;
        });
      }
    });
    return out;
  }

  it.each([['zero', 'clean'], ['mean', 'clean'], ['mean', 'corrupted']] as const)('%s, ablating the %s run (mean over the reference prompts)', async (mode, ablated) => {
    await rt.setWeights(weights);
    const families: Family[] = ['head_out', 'mlp_out'];
    const reference_ = mode === 'mean' ? await meanActivations(rt, cfg, reference, familyHooks(cfg, families)) : undefined;
    const res = await runAttribution(rt, cfg, ablatedExperiment(exp, ablated), { families, mode, reference: reference_, perPair: true });
    for (const f of families) expectClose(`${mode} ${ablated} ${f}`, res.values[f]!.data, refAttribution(f, mode, ablated), 2e-3, 1e-5);
  });
});
