// Gaussian noise on the embeddings (issue 13, item 2; ROME): the corrupted run is the clean prompt with noise added to
// its token embeddings. Attribution and exact patches against the float64 reference run with the same noise added
// at hook_embed; the noise itself is reproducible from the pair's record (seed, positions, std).
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { ActivationPatcher } from './activation';
import { runAttribution } from './attribution';
import { embeddingStd, noisePairs } from './corrupt';
import { noiseTensor, parsePairs } from './dataset';
import { experimentFromTokens } from './experiment';
import type { Family } from './families';
import { referenceForwardF64, toFloat64Weights, type HookFn } from '../../../test/reference/gpt2-f64';
import { refCell, refIndices } from '../../../test/reference/cells-f64';
import { hookGradFD } from '../../../test/reference/finite-diff';
import * as M from '../../../test/reference/metrics-f64';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());
const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, name: 'tiny-noise' });
const weights = randomWeights(cfg, 81);
const w64 = toFloat64Weights(cfg, weights);
const P = 5;
const clean = [randomTokens(cfg, P, 91), randomTokens(cfg, P, 92)];
const answers = [4, 9];
const wrongs = [11, 2];
const specs = [{ positions: [1, 2], std: 1.5, seed: 3 }, { positions: [2], std: 1.5, seed: 4 }];
const noise = specs.map((s) => noiseTensor(s, P, cfg.dModel, 0));

function makeExp(direction: 'denoising' | 'noising') {
  const exp = experimentFromTokens({ clean, corrupted: clean, answers, wrongs, spec: { direction } });
  const data = new Float32Array(2 * P * cfg.dModel);
  noise.forEach((n, b) => data.set(n, b * P * cfg.dModel));
  exp.noise = { data, key: JSON.stringify(specs) };
  return exp;
}

const metric = (b: number) => (l: Float64Array) => M.logitDiff(l, P, cfg.dVocab, answers[b], wrongs[b]);
/** The reference's corrupted run: the noise (as stored in float32) added to hook_embed. */
const addNoise = (b: number): Record<string, HookFn> => ({ hook_embed: (v) => v.map((x, i) => x + noise[b][i]) });
const run = (b: number, noised: boolean) => referenceForwardF64(cfg, w64, clean[b], { hooks: noised ? addNoise(b) : {} });

describe('Gaussian-noise corruption', () => {
  it('the noise: N(0, std^2) at the positions only, the same from the same record, 0 elsewhere', () => {
    const a = noiseTensor({ positions: [1, 3], std: 2, seed: 7 }, 6, 4, 1);
    expect(Array.from(noiseTensor({ positions: [1, 3], std: 2, seed: 7 }, 6, 4, 1))).toEqual(Array.from(a));
    for (let p = 0; p < 6; p++) {
      const row = Array.from(a.subarray(p * 4, (p + 1) * 4));
      if (p === 2 || p === 4) expect(row.some((x) => x !== 0)).toBe(true);
      else expect(row).toEqual([0, 0, 0, 0]);
    }
    const big = noiseTensor({ positions: [0], std: 3, seed: 1 }, 1, 20000, 0);
    expect(embeddingStd(big)).toBeGreaterThan(2.9);
    expect(embeddingStd(big)).toBeLessThan(3.1);
    // Generated records parse back as the pairs format (noise field included).
    const gen = noisePairs([{ clean: 'a b c', corrupted: 'x', answer: ' d', wrong: ' e' }], 5, [1], 0.4);
    expect(gen[0]).toMatchObject({ corrupted: 'a b c', noise: { positions: [1], std: 0.4, seed: 5 * 1000003 } });
    expect(parsePairs(JSON.stringify(gen[0]), 'jsonl')[0].noise).toEqual(gen[0].noise);
    expect(() => parsePairs('{"clean": "a", "corrupted": "b", "answer": " c", "noise": {"positions": [0], "std": 1, "seed": 1}}', 'jsonl')).toThrow(/line 1, field "noise": a noise pair corrupts the clean prompt itself/);
    expect(() => parsePairs('{"clean": "a", "corrupted": "a", "answer": " c", "noise": {"positions": [0], "std": -1, "seed": 1}}', 'jsonl')).toThrow(/field "noise": must be/);
  });

  it.each(['denoising', 'noising'] as const)('attribution and exact patches (%s) match the reference with noise at hook_embed', async (direction) => {
    await rt.setWeights(weights);
    const exp = makeExp(direction);
    const families: Family[] = ['resid_pre', 'head_out', 'mlp_out'];
    const res = await runAttribution(rt, cfg, exp, { families });
    const corruptedMetric = [0, 1].map((b) => metric(b)(run(b, true).logits));
    expect(res.metric.corrupted).toBeCloseTo((corruptedMetric[0] + corruptedMetric[1]) / 2, 4);
    const denoising = direction === 'denoising';
    for (const f of families) {
      const indices = refIndices(f, cfg, P);
      const want = new Array<number>(indices.length).fill(0);
      for (let b = 0; b < 2; b++) {
        const [cl, co] = [run(b, false), run(b, true)];
        const [base, source] = denoising ? [co, cl] : [cl, co];
        for (let l = 0; l < cfg.nLayers; l++) {
          const { hook } = refCell(f, cfg, P, indices.find((i) => i[0] === l)!);
          const grad = hookGradFD(cfg, weights, clean[b], metric(b), hook, undefined, 1e-4, { hooks: denoising ? addNoise(b) : {} });
          const [s, x] = [source.cache.get(hook)!.data, base.cache.get(hook)!.data];
          indices.forEach((cell, n) => {
            if (cell[0] === l) for (const e of refCell(f, cfg, P, cell).entries) want[n] += ((s[e] - x[e]) * grad[e]) / 2;
          });
        }
      }
      expectClose(`attribution ${f}`, res.values[f]!.data, want, 2e-3, 1e-5);
    }
    const patcher = new ActivationPatcher(rt, cfg);
    for (const f of ['resid_pre', 'head_out_all_pos'] as const) {
      const got = await patcher.sweep(exp, f);
      const want = refIndices(f, cfg, P).map((cell) => {
        const { hook, entries } = refCell(f, cfg, P, cell);
        let m = 0;
        for (let b = 0; b < 2; b++) {
          const source = run(b, !denoising).cache.get(hook)!.data;
          const baseHooks = denoising ? addNoise(b) : {};
          const patched = referenceForwardF64(cfg, w64, clean[b], {
            hooks: { ...baseHooks, [hook]: (v) => { const o = v.slice(); for (const e of entries) o[e] = source[e]; return o; } },
          });
          m += (metric(b)(patched.logits) - metric(b)(run(b, denoising).logits)) / 2;
        }
        return m;
      });
      expectClose(`patch ${f}`, got.data, want, 1e-4, 1e-6);
    }
  });
});
