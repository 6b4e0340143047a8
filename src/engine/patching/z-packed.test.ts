// The packed hook_z patch runs (z-packed.ts, model/gpt2-packed.ts) against the independent float64 reference: a
// model deep enough (4 layers) that packed runs go through full middle layers and the trimmed last one, two pairs,
// metric positions before the last (cells after them change nothing), runs split across several cells, the source
// run's values and an ablation's zeros. Each case also checks that the packed graph is the one that ran.
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import type { Runtime } from '../runtime/types';
import { ActivationPatcher } from './activation';
import { replacementFeed } from './ablation';
import { experimentFromTokens, type Experiment } from './experiment';
import { PACKED_LIMITS, packedRuns, zCell } from './z-packed';
import { prepareMetric } from './metrics';
import type { Family, MetricName } from './types';
import { referenceForward } from '../../../test/reference/gpt2-f64';
import { refCell, refIndices } from '../../../test/reference/cells-f64';
import type { Metric } from '../../../test/reference/finite-diff';
import { referencePatch } from '../../../test/reference/patch-f64';
import * as M from '../../../test/reference/metrics-f64';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());
// Every graph key run through the patcher, to see which patch graph served a sweep.
const keys: string[] = [];
const spy: Runtime = Object.assign(Object.create(rt) as Runtime, {
  run: (key: string, ...rest: [never, never]) => (keys.push(key), rt.run(key, ...rest)),
  runKeeping: (key: string, ...rest: [never, never, never, never]) => (keys.push(key), rt.runKeeping!(key, ...rest)),
});

const cfg = tinyConfig({ nLayers: 4, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, name: 'tiny-z-packed' });
const weights = randomWeights(cfg, 57);
const P = 6;
const clean = [randomTokens(cfg, P, 71), randomTokens(cfg, P, 72)];
const corrupted = clean.map((c, i) => c.map((t, p) => (p === 0 || p === 2 || p === 4 ? (t + 5 + i) % cfg.dVocab : t)));
const [answers, wrongs] = [[3, 8], [12, 19]];
const POSITIONS = [1, 3, 4]; // mean_logprob's positions: the last is not among them

function refMetric(name: MetricName, b: number, exp: Experiment): Metric {
  if (name === 'logit_diff') return (l) => M.logitDiff(l, P, cfg.dVocab, answers[b], wrongs[b]);
  if (name === 'prob') return (l) => M.prob(l, P, cfg.dVocab, answers[b]);
  const targets = POSITIONS.map((p) => (p + 1 < P ? exp.clean[b][p + 1] : answers[b]));
  return (l) => M.meanLogProb(l, P, cfg.dVocab, POSITIONS, targets);
}

function makeExp(metric: MetricName, direction: 'denoising' | 'noising'): Experiment {
  return experimentFromTokens({
    clean, corrupted, answers, wrongs, positions: metric === 'mean_logprob' ? POSITIONS : undefined,
    spec: { metric: { name: metric }, direction, options: { freezeLayerNorm: false, freezeAttention: false } },
  });
}

/** Reference: each cell's entries replaced (by the source run's values, or by `replace`), the metric's mean change over the pairs. */
function reference(exp: Experiment, family: Family, replace?: number): number[] {
  const [base, source] = exp.spec.direction === 'denoising' ? [exp.corrupted, exp.clean] : [exp.clean, exp.corrupted];
  const metric = (b: number) => refMetric(exp.spec.metric.name, b, exp);
  const baseMetric = [0, 1].map((b) => metric(b)(referenceForward(cfg, weights, base[b]).logits, P, cfg.dVocab));
  return refIndices(family, cfg, P).map((cell) => {
    const { hook, entries } = refCell(family, cfg, P, cell);
    let m = 0;
    for (let b = 0; b < 2; b++) {
      const set = new Set(entries);
      const patched = replace === undefined
        ? referencePatch(cfg, weights, { target: base[b], source: source[b], hook, mask: entries, metric: metric(b) })
        : metric(b)(referenceForward(cfg, weights, base[b], { hooks: { [hook]: (v) => v.map((x, i) => (set.has(i) ? replace : x)) } }).logits, P, cfg.dVocab);
      m += patched - baseMetric[b];
    }
    return m / 2;
  });
}

describe.each(['denoising', 'noising'] as const)('packed hook_z patches, %s', (direction) => {
  it.each([
    ['logit_diff', 'head_out', 3],
    ['mean_logprob', 'head_out', undefined],
    ['prob', 'head_out_all_pos', 2],
    ['logit_diff', 'head_out_all_pos', undefined],
  ] as const)('%s, %s, %s patches per run: equal the float64 reference', async (metric, family, perRun) => {
    await rt.setWeights(weights);
    const exp = await prepareMetric(rt, cfg, makeExp(metric, direction));
    keys.length = 0;
    const got = await new ActivationPatcher(spy, cfg).sweep(exp, family, { patchesPerRun: perRun });
    expectClose(`${metric} ${family}`, got.data, reference(exp, family), 1e-4, 1e-5);
    // Layers 0..2 packed (one graph each), the last layer through the plain patch graph.
    expect(new Set(keys.filter((k) => k.startsWith('patch-zp:')).map((k) => k.split(':').at(-1)!.split('@')[0]))).toEqual(new Set([0, 1, 2].map((l) => `blocks.${l}.attn.hook_z`)));
    expect(keys.some((k) => k.startsWith('patch:') && k.includes('blocks.3.attn.hook_z'))).toBe(true);
    // Symbolic sizes: one session per layer serves every run size and prompt length (runtime/symbolic.ts).
    expect(keys.filter((k) => k.startsWith('patch-zp:')).every((k) => k.endsWith('@symbolic'))).toBe(true);
  });
});

it('zero ablation of hook_z through the packed runs equals the float64 reference', async () => {
  await rt.setWeights(weights);
  const exp = makeExp('logit_diff', 'denoising');
  keys.length = 0;
  const got = await new ActivationPatcher(spy, cfg).sweep(exp, 'head_out', { replacement: (_hook, shape) => replacementFeed('zero', shape) });
  expectClose('zero ablation', got.data, reference(exp, 'head_out', 0), 1e-4, 1e-5);
  expect(keys.some((k) => k.startsWith('patch-zp:'))).toBe(true);
});

it('runs of a long prompt stay within the limits on padded keys, values and scores, and cover every cell once', () => {
  const big = { ...cfg, nHeads: 12, dHead: 4, dModel: 48, nCtx: 1024 };
  const P = 600;
  const exp = experimentFromTokens({ clean: [Array.from({ length: P }, (_, i) => i % 30)], corrupted: [Array.from({ length: P }, (_, i) => (i + 1) % 30)], answers: [1], wrongs: [2] });
  const cells = Array.from({ length: big.nHeads * P }, (_, i) => zCell(big, exp, 'head_out', [0, Math.floor(i / P), i % P]));
  const runs = packedRuns(big, exp, cells);
  expect(runs.flat().sort((a, b) => a - b)).toEqual(cells.map((_, i) => i));
  for (const run of runs) {
    const Q = Math.max(...run.map((i) => P - cells[i].start));
    const tokens = run.reduce((n, i) => n + P - cells[i].start, 0);
    if (run.length > 1) {
      expect(tokens).toBeLessThanOrEqual(PACKED_LIMITS.tokens);
      expect(run.length * P).toBeLessThanOrEqual(PACKED_LIMITS.rowPositions);
      expect(run.length * big.nHeads * Q * P).toBeLessThanOrEqual(PACKED_LIMITS.scores);
    }
    // Rows sorted by first position: the query slots a run pads are few beyond the tokens it computes.
    expect(run.length * Q).toBeLessThanOrEqual(tokens + run.length * 24);
  }
});
