// The training gradients against central finite differences of the independent float64 reference, and a few real
// training steps of the toy model's shape.
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { windowMeans } from './curve';
import { toyVocabSubset, trainBatches, type TrainBatch } from './data';
import { Adam } from './adam';
import { initWeights } from './init';
import { TOY_CONFIG } from './toy';
import { lossAndGrads, train } from './train';
import { compactBatch, compactConfig, trainedIds } from './vocab';
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
  // Unequal row weights (summing to 1), one of them zero, as a batch with padding rows has.
  const rowWeight = [
    [0.1, 0.05, 0.2, 0, 0.15, 0.1],
    [0.1, 0.25, 0.05],
  ];
  const batch: TrainBatch = {
    batch: 2,
    pos,
    tokens: seqs.flat(),
    rows: scored.flatMap((ts, b) => ts.map((t) => b * pos + t)),
    targets: scored.flatMap((ts, b) => ts.map((t) => seqs[b][t + 1])),
    weights: rowWeight.flat(),
  };

  /** Weighted sum over sequence b's scored rows of -log softmax(logits[t])[token t + 1], on the reference's logits. */
  const nllSum = (b: number) => (logits: Float64Array, _nPos: number, dVocab: number) =>
    scored[b].reduce((s, t, i) => {
      const row = logits.subarray(t * dVocab, (t + 1) * dVocab);
      return s + rowWeight[b][i] * (logSumExp(row) - row[seqs[b][t + 1]]);
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

    const refLoss = nllSum(0)(referenceForward(cfg, weights, seqs[0]).logits, pos, cfg.dVocab) +
      nllSum(1)(referenceForward(cfg, weights, seqs[1]).logits, pos, cfg.dVocab);
    expect(loss).toBeCloseTo(refLoss, 4);

    for (const [name, idx] of PROBES) {
      const fd0 = paramGradFD(cfg, weights, seqs[0], nllSum(0), name, idx, 1e-4);
      const fd1 = paramGradFD(cfg, weights, seqs[1], nllSum(1), name, idx, 1e-4);
      const fd = idx.map((_, i) => fd0[i] + fd1[i]);
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
    data: { batch: 4, minHalf: 4, maxHalf: 8, maxPrefix: 4 },
    steps: 30,
    schedule: { peak: 3e-3, warmup: 2, minRatio: 0.1 },
    initSeed: 3,
    dataSeed: 4,
  };
  const ids = trainedIds(subset);

  it('lowers the loss of a fixed batch within a few Adam steps on its gradients', async () => {
    // The data is random by design, so the first steps of a real run can only reach the uniform loss; a fixed batch
    // can be fitted, and a few steps on it must lower its loss (a broken gradient rule would not).
    const probe = compactBatch(trainBatches(subset, { batch: 4, minHalf: 4, maxHalf: 8, maxPrefix: 4 }, 9)(), ids);
    const cfg = compactConfig(TOY_CONFIG, ids);
    const weights = initWeights(cfg, 3);
    const adam = new Adam(weights);
    const losses: number[] = [];
    for (let step = 0; step < 30; step++) {
      const { loss, grads } = await lossAndGrads(rt, cfg, weights, probe);
      losses.push(loss);
      adam.step(grads, 3e-3);
    }
    const after = (await lossAndGrads(rt, cfg, weights, probe)).loss;
    console.log(`toy shape, 30 Adam steps on one batch of 4: loss ${losses[0].toFixed(3)} -> ${after.toFixed(3)}`);
    expect(Math.abs(losses[0] - Math.log(ids.length))).toBeLessThan(0.1); // N(0, 0.02) init: near uniform
    expect(after).toBeLessThan(losses[0] - 1);
    const windows = windowMeans(losses, 5);
    windows.slice(1).forEach((w, i) => expect(w).toBeLessThan(windows[i]));
  });

  it('is deterministic: same seeds, same losses and weights', async () => {
    const a = await train(rt, { ...opts, steps: 3 });
    const b = await train(rt, { ...opts, steps: 3 });
    expect(b.losses).toEqual(a.losses);
    const differing = [...a.compact].filter(([name, t]) => !t.data.every((x, i) => x === b.compact.get(name)!.data[i]));
    expect(differing.map(([name]) => name)).toEqual([]);
  });
});
