// Attribution and activation patching against the independent float64 reference: activation patches against
// reruns of the reference with the activation replaced; attribution against (source - base) * finite-difference
// gradients of the reference, for every family, both directions.
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { ActivationPatcher } from './activation';
import { runAttribution } from './attribution';
import { experimentFromTokens, type Experiment } from './experiment';
import { FAMILIES } from './families';
import { prepareMetric } from './metrics';
import type { Family, MetricName } from './types';
import { referenceForward } from '../../../test/reference/gpt2-f64';
import { REF_FAMILIES, refCell, refIndices } from '../../../test/reference/cells-f64';
import { hookGradFD, type Metric } from '../../../test/reference/finite-diff';
import { referencePatch } from '../../../test/reference/patch-f64';
import * as M from '../../../test/reference/metrics-f64';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());

const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, name: 'tiny-patching' });
const weights = randomWeights(cfg, 21);
const P = 5;
const clean = [randomTokens(cfg, P, 31), randomTokens(cfg, P, 32)];
// Corrupted prompts differ from clean at two positions, as a name swap would.
const corrupted = clean.map((c, i) => c.map((t, p) => (p === 1 || p === 3 ? (t + 7 + i) % cfg.dVocab : t)));
const answers = [4, 9];
const wrongs = [11, 2];

function refMetric(name: MetricName, pair: number, exp: Experiment): Metric {
  const [a, w] = [exp.answers[pair], exp.wrongs[pair]];
  switch (name) {
    case 'logit_diff': return (l) => M.logitDiff(l, P, cfg.dVocab, a, w);
    case 'logit': return (l) => M.logit(l, P, cfg.dVocab, a);
    case 'logprob': return (l) => M.logProb(l, P, cfg.dVocab, a);
    case 'prob': return (l) => M.prob(l, P, cfg.dVocab, a);
    case 'basket': return (l) => M.answerVsBasket(l, P, cfg.dVocab, a, exp.basket);
    // KL from the clean run's distribution at the last position (held fixed: it does not depend on the run's input).
    case 'kl': {
      const src = referenceForward(cfg, weights, exp.clean[pair]).logits;
      return (l) => M.klDivergence(src, l, P, cfg.dVocab);
    }
    case 'mean_logprob': {
      const targets = exp.positions.map((p) => (p + 1 < P ? exp.clean[pair][p + 1] : a));
      return (l) => M.meanLogProb(l, P, cfg.dVocab, exp.positions, targets);
    }
    default:
      throw new Error(`no logit reference for ${name} (internal metrics: internal-metrics.test.ts)`);
  }
}

function makeExp(metric: MetricName, direction: 'denoising' | 'noising', extra: Partial<Experiment['spec']['options']> = {}) {
  return experimentFromTokens({
    clean, corrupted, answers, wrongs,
    basket: metric === 'basket' ? [4, 9, 11, 2, 17] : undefined,
    positions: metric === 'mean_logprob' ? [1, 2, 4] : undefined,
    spec: { metric: { name: metric }, direction, options: { freezeLayerNorm: false, freezeAttention: false, ...extra } },
  });
}

const roles = (exp: Experiment) => (exp.spec.direction === 'denoising' ? { base: exp.corrupted, source: exp.clean } : { base: exp.clean, source: exp.corrupted });

/** Reference attribution for every cell of `family`: sum over pairs and the cell's entries of D * FD-grad / N. */
function referenceAttribution(exp: Experiment, family: Family, freeze?: (h: string) => boolean, mode: 'patch' | 'zero' | 'mean' = 'patch'): Float64Array {
  const indices = refIndices(family, cfg, P);
  const out = new Float64Array(indices.length);
  const { base, source } = roles(exp);
  for (let b = 0; b < exp.nPairs; b++) {
    const metric = refMetric(exp.spec.metric.name, b, exp);
    const baseRun = referenceForward(cfg, weights, base[b]);
    const srcRun = referenceForward(cfg, weights, source[b]);
    for (let l = 0; l < cfg.nLayers; l++) {
      const { hook } = refCell(family, cfg, P, indices.find((i) => i[0] === l)!);
      const grad = hookGradFD(cfg, weights, base[b], metric, hook, undefined, 1e-4, { freeze });
      const baseAct = baseRun.cache.get(hook)!.data;
      let D: Float64Array;
      if (mode === 'zero') D = baseAct.map((x) => -x);
      else if (mode === 'mean') {
        // Mean over every prompt, clean and corrupted, entry by entry (so per position).
        const all = [...exp.clean, ...exp.corrupted].map((t) => referenceForward(cfg, weights, t).cache.get(hook)!.data);
        D = baseAct.map((x, i) => all.reduce((a, r) => a + r[i], 0) / all.length - x);
      } else D = srcRun.cache.get(hook)!.data.map((s, i) => s - baseAct[i]);
      indices.forEach((cell, n) => {
        if (cell[0] !== l) return;
        for (const e of refCell(family, cfg, P, cell).entries) out[n] += (D[e] * grad[e]) / exp.nPairs;
      });
    }
  }
  return out;
}

/** Reference activation patch of every cell: mean over pairs of metric(patched base) - metric(base). */
function referenceSweep(exp: Experiment, family: Family, metricName: MetricName = 'logit_diff'): number[] {
  const { base, source } = roles(exp);
  const baseMetric = [0, 1].map((b) => refMetric(metricName, b, exp)(referenceForward(cfg, weights, base[b]).logits, P, cfg.dVocab));
  return refIndices(family, cfg, P).map((cell) => {
    const { hook, entries } = refCell(family, cfg, P, cell);
    let m = 0;
    for (let b = 0; b < 2; b++)
      m += referencePatch(cfg, weights, { target: base[b], source: source[b], hook, mask: entries, metric: refMetric(metricName, b, exp) }) - baseMetric[b];
    return m / 2;
  });
}

it('the reference knows every family of the table, and no other', () => {
  expect(Object.keys(REF_FAMILIES).sort()).toEqual([...FAMILIES].sort());
});

describe.each(['denoising', 'noising'] as const)('attribution patching, %s', (direction) => {
  const exp = makeExp('logit_diff', direction);
  it.each(FAMILIES)('%s equals sum((source - base) * finite-difference grad)', async (family) => {
    await rt.setWeights(weights);
    const res = await runAttribution(rt, cfg, exp);
    expectClose(`attr.${family}`, res.values[family]!.data, referenceAttribution(exp, family), 2e-3, 1e-4);
    const refClean = (b: number) => refMetric('logit_diff', b, exp)(referenceForward(cfg, weights, clean[b]).logits, P, cfg.dVocab);
    expect(res.metric.clean).toBeCloseTo((refClean(0) + refClean(1)) / 2, 4);
  });

  it('per-position values sum to the all-position values', async () => {
    await rt.setWeights(weights);
    const { values: v } = await runAttribution(rt, cfg, exp);
    const [L, H] = [cfg.nLayers, cfg.nHeads];
    const sumLast = (x: Float64Array, inner: number) => Array.from({ length: x.length / inner }, (_, i) => x.slice(i * inner, (i + 1) * inner).reduce((a, b) => a + b, 0));
    expectClose('head_out summed over pos', sumLast(v.head_out!.data, P), v.head_out_all_pos!.data, 1e-5, 1e-6);
    for (const x of ['q', 'k', 'v'] as const) expectClose(`${x}_by_pos summed`, sumLast(v[`${x}_by_pos`]!.data, P), v[x]!.data, 1e-5, 1e-6);
    expectClose('pattern_by_pos summed', sumLast(v.pattern_by_pos!.data, P * P), v.pattern!.data, 1e-5, 1e-6);
    expectClose('pattern_by_pos summed over keys', sumLast(v.pattern_by_pos!.data, P), v.pattern_dest!.data, 1e-5, 1e-6);
    expectClose('pattern_dest summed over queries', sumLast(v.pattern_dest!.data, P), v.pattern!.data, 1e-5, 1e-6);
    expect(v.head_out_all_pos!.shape).toEqual([L, H]);
  });
});

describe('attribution with other metrics and options', () => {
  it.each(['logit', 'logprob', 'prob', 'basket', 'mean_logprob', 'kl'] as const)('metric %s', async (metric) => {
    await rt.setWeights(weights);
    const exp = await prepareMetric(rt, cfg, makeExp(metric, 'denoising'));
    const res = await runAttribution(rt, cfg, exp, { families: ['resid_pre', 'head_out', 'mlp_post'] });
    for (const f of ['resid_pre', 'head_out', 'mlp_post'] as const)
      expectClose(`${metric} ${f}`, res.values[f]!.data, referenceAttribution(exp, f), 2e-3, 1e-5);
  });

  it.each(['zero', 'mean'] as const)('%s ablation: sum((replacement - base) * grad)', async (mode) => {
    await rt.setWeights(weights);
    const exp = makeExp('logit_diff', 'denoising');
    const families: Family[] = ['resid_mid', 'head_out', 'pattern', 'mlp_post'];
    const res = await runAttribution(rt, cfg, exp, { families, mode });
    for (const f of families) expectClose(`${mode} ${f}`, res.values[f]!.data, referenceAttribution(exp, f, undefined, mode), 2e-3, 1e-5);
  });

  it.each([
    { ln: true, pattern: false, family: 'resid_pre' as Family },
    { ln: false, pattern: true, family: 'q' as Family },
    { ln: false, pattern: true, family: 'head_out' as Family },
  ])('freeze LayerNorm $ln, freeze attention $pattern: $family', async ({ ln, pattern, family }) => {
    await rt.setWeights(weights);
    const exp = makeExp('logit_diff', 'denoising', { freezeLayerNorm: ln, freezeAttention: pattern });
    const res = await runAttribution(rt, cfg, exp, { families: [family] });
    const freeze = (h: string) => (ln && h.endsWith('hook_scale')) || (pattern && h.endsWith('hook_pattern'));
    expectClose(family, res.values[family]!.data, referenceAttribution(exp, family, freeze), 2e-3, 1e-5);
  });
});

describe.each(['denoising', 'noising'] as const)('activation patching, %s', (direction) => {
  const exp = makeExp('logit_diff', direction);
  const patcher = new ActivationPatcher(rt, cfg);
  it.each(FAMILIES)('%s matches the float64 reference rerun with the activation replaced', async (family) => {
    await rt.setWeights(weights);
    // Exact suffix starts (every position its own graph) when denoising, the default buckets when noising.
    const got = await patcher.sweep(exp, family, { patchesPerRun: 7, positionBucket: direction === 'denoising' ? 1 : undefined });
    const want = referenceSweep(exp, family);
    expectClose(`patch.${family}`, got.data, want, 1e-4, 1e-4);
  });

  it('a single cell equals that cell of the sweep, and sweeps report progress and cancel', async () => {
    await rt.setWeights(weights);
    const sweep = await patcher.sweep(exp, 'head_out');
    expect(await patcher.patch(exp, 'head_out', [1, 1, 3])).toBeCloseTo(sweep.data[1 * 2 * P + 1 * P + 3], 6);
    const seen: number[] = [];
    await patcher.sweep(exp, 'resid_pre', { patchesPerRun: 3, onProgress: (d) => seen.push(d) });
    expect(seen.at(-1)).toBe(10);
    expect(seen.every((d, i) => i === 0 || d > seen[i - 1])).toBe(true);
    const ctl = new AbortController();
    const run = patcher.sweep(exp, 'resid_mid', { patchesPerRun: 2, signal: ctl.signal, onProgress: () => ctl.abort() });
    await expect(run).rejects.toThrow(/cancelled/);
  });
});

describe('activation patching with other metrics', () => {
  it.each(['mean_logprob', 'basket', 'prob', 'kl'] as const)('%s on resid_mid and head_out matches the reference', async (metric) => {
    await rt.setWeights(weights);
    const exp = await prepareMetric(rt, cfg, makeExp(metric, 'denoising'));
    const patcher = new ActivationPatcher(rt, cfg);
    for (const family of ['resid_mid', 'head_out'] as const) {
      const got = await patcher.sweep(exp, family, { positionBucket: 1 });
      const want = referenceSweep(exp, family, metric);
      expectClose(`${metric} ${family}`, got.data, want, 1e-4, 1e-4);
    }
  });
});

