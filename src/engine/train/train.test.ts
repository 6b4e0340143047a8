// The training gradients against central finite differences of the independent float64 reference, and a few real
// training steps of the toy model's shape.
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { windowMeans } from './curve';
import { toyVocabSubset, type TrainBatch } from './data';
import { initWeights } from './init';
import { TOY_CONFIG } from './toy';
import { lossAndGrads, train } from './train';
import { paramGradFD } from '../../../test/reference/finite-diff';
import { referenceForward } from '../../../test/reference/gpt2-f64';
import { logSumExp } from '../../../test/reference/metrics-f64';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());

describe('parameter gradients of the training loss', () => {
  const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, nCtx: 16 });
  const pos = 7;
  const seqs = [randomTokens(cfg, pos, 21), randomTokens(cfg, pos, 22)];
  // Scored rows (t predicts token t + 1): all of sequence 0, a few of sequence 1, so the row gather is exercised.
  const scored = [
    [0, 1, 2, 3, 4, 5],
    [1, 4, 5],
  ];
  const batch: TrainBatch = {
    batch: 2,
    pos,
    tokens: seqs.flat(),
    rows: scored.flatMap((ts, b) => ts.map((t) => b * pos + t)),
    targets: scored.flatMap((ts, b) => ts.map((t) => seqs[b][t + 1])),
  };
  const n = batch.rows.length;

  /** Sum over sequence b's scored rows of -log softmax(logits[t])[token t + 1], on the reference's logits. */
  const nllSum = (b: number) => (logits: Float64Array, _nPos: number, dVocab: number) =>
    scored[b].reduce((s, t) => {
      const row = logits.subarray(t * dVocab, (t + 1) * dVocab);
      return s + logSumExp(row) - row[seqs[b][t + 1]];
    }, 0);

  // A spread of entries of every kind of weight: embeddings (target and non-target rows), attention, MLP, LayerNorm.
  const PROBES: [string, number[]][] = [
    ['wte.weight', [0, 9, 8 * seqs[0][3] + 2, 8 * seqs[1][5] + 7, 8 * 29 + 4]],
    ['wpe.weight', [0, 8 * 3 + 1, 8 * 6 + 5]],
    ['h.0.attn.c_attn.weight', [0, 8 * 3 + 5, 8 * 5 + 13, 8 * 7 + 22]],
    ['h.0.attn.c_attn.bias', [2, 10, 20]],
    ['h.1.attn.c_proj.weight', [5, 40, 63]],
    ['h.0.ln_1.weight', [1, 6]],
    ['h.1.ln_2.bias', [0, 7]],
    ['h.1.mlp.c_fc.weight', [3, 50, 95]],
    ['h.0.mlp.c_proj.bias', [4]],
    ['ln_f.weight', [2, 5]],
  ];

  it('match central finite differences of the float64 reference for entries of every weight kind', async () => {
    const weights = randomWeights(cfg, 5);
    const { loss, grads } = await lossAndGrads(rt, cfg, weights, batch);

    const refLoss = (nllSum(0)(referenceForward(cfg, weights, seqs[0]).logits, pos, cfg.dVocab) +
      nllSum(1)(referenceForward(cfg, weights, seqs[1]).logits, pos, cfg.dVocab)) / n;
    expect(loss).toBeCloseTo(refLoss, 4);

    for (const [name, idx] of PROBES) {
      const fd0 = paramGradFD(cfg, weights, seqs[0], nllSum(0), name, idx, 1e-4);
      const fd1 = paramGradFD(cfg, weights, seqs[1], nllSum(1), name, idx, 1e-4);
      const fd = idx.map((_, i) => (fd0[i] + fd1[i]) / n);
      const got = idx.map((i) => grads.get(name)![i]);
      expectClose(`${name}_grad`, got, fd, 2e-3, 1e-4);
    }
  });
});

describe('training the toy model shape', () => {
  const subset = toyVocabSubset();
  const opts = {
    cfg: TOY_CONFIG,
    subset,
    data: { batch: 4, minHalf: 4, maxHalf: 8 },
    steps: 30,
    schedule: { peak: 3e-3, warmup: 2, minRatio: 0.1 },
    initSeed: 3,
    dataSeed: 4,
  };

  it('lowers the loss on a fixed batch within a few steps, from a fixed init', async () => {
    const probe: TrainBatch = (() => {
      const a = subset.slice(10, 18);
      const tokens = [50256, ...a, ...a];
      const rows = tokens.slice(0, -1).map((_, t) => t);
      return { batch: 1, pos: tokens.length, tokens, rows, targets: rows.map((t) => tokens[t + 1]) };
    })();
    const init = initWeights(TOY_CONFIG, 3);
    const before = (await lossAndGrads(rt, TOY_CONFIG, init, probe)).loss;
    expect(Math.abs(before - Math.log(TOY_CONFIG.dVocab))).toBeLessThan(0.3); // N(0, 0.02) init: near uniform over 50257
    const { weights, losses } = await train(rt, { ...opts, init });
    const after = (await lossAndGrads(rt, TOY_CONFIG, weights, probe)).loss;
    const [first, last] = [windowMeans(losses, 6)[0], windowMeans(losses, 6)[5]];
    console.log(`toy shape, 30 steps of batch 4: training loss ${first.toFixed(3)} -> ${last.toFixed(3)} (first and last 5 steps), probe ${before.toFixed(3)} -> ${after.toFixed(3)}`);
    expect(after).toBeLessThan(before - 1);
    expect(last).toBeLessThan(first - 1);
  });

  it('is deterministic: same seeds, same losses and weights', async () => {
    const a = await train(rt, { ...opts, steps: 3 });
    const b = await train(rt, { ...opts, steps: 3 });
    expect(b.losses).toEqual(a.losses);
    // Compared by hand: a deep equality over 3.2M floats takes vitest seconds.
    const differing = [...a.weights].filter(([name, t]) => !t.data.every((x, i) => x === b.weights.get(name)!.data[i]));
    expect(differing.map(([name]) => name)).toEqual([]);
  });
});
