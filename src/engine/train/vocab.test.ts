// The compact-vocabulary training model and the sealing of untrained rows, against the independent float64
// reference forward.
import { describe, expect, it } from 'vitest';
import type { TrainBatch } from './data';
import { compactBatch, compactConfig, expandVocab, sealUntrainedRows, trainedIds } from './vocab';
import { referenceForward } from '../../../test/reference/gpt2-f64';
import { randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { BOS_TOKEN } from '../model/tokenizer';
import type { Weights } from '../model/types';

// A full vocabulary of GPT-2's size is needed for BOS (50256) to be a row; d_model stays tiny.
const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 16, dVocab: 50257, nCtx: 16 });
const subset = [11, 262, 3290, 40000, 7];
const ids = trainedIds(subset);
const seq = [BOS_TOKEN, 262, 7, 40000, 11, 262, 7];

/** The compact model: random weights with a vocabulary of the trained rows, and random ln_f parameters. */
function compactModel(seed: number): Weights {
  return randomWeights(compactConfig(cfg, ids), seed);
}

const copy = (w: Weights): Weights => new Map([...w].map(([k, t]) => [k, { shape: t.shape, data: t.data.slice() }]));

describe('compact vocabulary', () => {
  it('lists the subset, then BOS once', () => {
    expect(ids).toEqual([...subset, BOS_TOKEN]);
    expect(trainedIds([...subset, BOS_TOKEN])).toEqual([...subset, BOS_TOKEN]);
  });

  it('renumbers a batch to compact rows and refuses a token outside them', () => {
    const b: TrainBatch = { batch: 1, pos: 3, tokens: [BOS_TOKEN, 262, 7], rows: [0, 1], targets: [262, 7], weights: [0.5, 0.5] };
    expect(compactBatch(b, ids)).toMatchObject({ tokens: [5, 1, 4], targets: [1, 4], rows: [0, 1] });
    expect(() => compactBatch({ ...b, tokens: [BOS_TOKEN, 263, 7] }, ids)).toThrow(/token 263 is not one of the trained rows/);
  });

  it('expands to the full model: the same activations and trained logits, zero logits elsewhere', () => {
    const compact = compactModel(4);
    const full = expandVocab(compact, ids, cfg);
    expect(full.get('wte.weight')!.shape).toEqual([50257, 8]);
    const small = referenceForward(compactConfig(cfg, ids), compact, seq.map((t) => ids.indexOf(t)));
    const big = referenceForward(cfg, full, seq);
    for (let p = 0; p < seq.length; p++) {
      ids.forEach((id, i) => expect(big.logits[p * 50257 + id]).toBeCloseTo(small.logits[p * ids.length + i], 9));
      for (const other of [0, 12, 50000]) expect(big.logits[p * 50257 + other]).toBe(0);
    }
  });
});

describe('sealUntrainedRows', () => {
  it('gives every untrained token the chosen logit at every position, leaving trained logits unchanged', () => {
    const compact = compactModel(5);
    const full = expandVocab(compact, ids, cfg);
    const before = referenceForward(cfg, full, seq).logits;
    const sealed = copy(full); // the reference caches its float64 copy per array: seal fresh arrays
    const alpha = sealUntrainedRows(sealed, ids, -37);
    expect(Number.isFinite(alpha)).toBe(true);
    const after = referenceForward(cfg, sealed, seq).logits;
    for (let p = 0; p < seq.length; p++) {
      for (const id of ids) expect(after[p * 50257 + id]).toBeCloseTo(before[p * 50257 + id], 9);
      for (const other of [0, 1, 12, 262 + 1, 50000, 50255]) expect(after[p * 50257 + other]).toBeCloseTo(-37, 4);
    }
    // Trained rows are untouched; untrained rows all equal.
    const wte = sealed.get('wte.weight')!.data;
    expect(Array.from(wte.subarray(262 * 8, 263 * 8))).toEqual(Array.from(compact.get('wte.weight')!.data.subarray(8, 16)));
    expect(Array.from(wte.subarray(0, 8))).toEqual(Array.from(wte.subarray(12 * 8, 13 * 8)));
  });

  it('refuses an ln_f it cannot seal with a specific message', () => {
    const full = expandVocab(compactModel(6), ids, cfg);
    full.get('ln_f.bias')!.data.fill(0);
    expect(() => sealUntrainedRows(full, ids, -30)).toThrow(/Σ β\/γ of ln_f is 0/);
    expect(() => sealUntrainedRows(full, [...ids, 50257], -30)).toThrow(/50257 is not a token id of a 50257-token vocabulary/);
    full.get('ln_f.weight')!.data[3] = 0;
    expect(() => sealUntrainedRows(full, ids, -30)).toThrow(/ln_f.weight\[3\] = 0 is too near zero/);
  });
});
