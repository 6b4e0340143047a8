// The per-receiver reference against the plain float64 GPT-2: with every receiver reading the standard sum, it is
// the same model; each receiver's input is the residual stream at its place; the full and empty circuits are the
// source and base runs.
import { describe, expect, it } from 'vitest';
import { edgeForward, receiverSenders, referenceCircuit, referenceMetrics, type EdgeMetric } from './edges-f64';
import { referenceForward } from './gpt2-f64';
import { randomTokens, randomWeights, tinyConfig } from './random-weights';
import { expectClose } from '../helpers/compare';

const cfg = tinyConfig({ nLayers: 2, nHeads: 3, dModel: 12, dHead: 4, dMlp: 20, dVocab: 40 });
const weights = randomWeights(cfg, 3);
const tokens = randomTokens(cfg, 6, 8);
const P = tokens.length;

describe('edges-f64', () => {
  it('with standard inputs equals referenceForward: logits, and each receiver input is its residual stream', () => {
    const ref = referenceForward(cfg, weights, tokens);
    const all: EdgeMetric = (l) => l.all().reduce((a, x, i) => a + x * Math.sin(i + 1), 0);
    const run = edgeForward(cfg, weights, tokens, all);
    const last = ref.logits.subarray((P - 1) * cfg.dVocab, P * cfg.dVocab);
    expect(run.metric).toBeCloseTo(last.reduce((a, x, i) => a + x * Math.sin(i + 1), 0), 10);
    for (let l = 0; l < cfg.nLayers; l++) {
      for (let h = 0; h < cfg.nHeads; h++)
        for (const x of ['q', 'k', 'v']) expectClose(`a${l}.h${h}<${x}>`, run.inputs.get(`a${l}.h${h}<${x}>`)!, ref.cache.get(`blocks.${l}.hook_resid_pre`)!.data, 1e-12);
      expectClose(`m${l}`, run.inputs.get(`m${l}`)!, ref.cache.get(`blocks.${l}.hook_resid_mid`)!.data, 1e-12);
      expectClose(`m${l} out`, run.senders.get(`m${l}`)!, ref.cache.get(`blocks.${l}.hook_mlp_out`)!.data, 1e-12);
    }
    expectClose('logits input', run.inputs.get('logits')!, ref.cache.get(`blocks.${cfg.nLayers - 1}.hook_resid_post`)!.data, 1e-12);
  });

  it('graph: a head feeds later layers, its own MLP and logits; an MLP feeds later layers and logits', () => {
    const g = new Map(receiverSenders(cfg));
    expect(g.get('a0.h1<k>')).toEqual(['input']);
    expect(g.get('m0')).toEqual(['input', 'a0.h0', 'a0.h1', 'a0.h2']);
    expect(g.get('a1.h0<q>')).toEqual(['input', 'a0.h0', 'a0.h1', 'a0.h2', 'm0']);
    expect(g.get('logits')).toHaveLength(1 + 2 * 4);
  });

  it('circuits: every edge gives the source metric, none the base metric', () => {
    const metric: EdgeMetric = (l) => l.at(3) - l.at(7);
    const pairs = [{ base: tokens.map((t, i) => (i === 2 ? (t + 5) % cfg.dVocab : t)), source: tokens, metric }];
    const m = referenceMetrics(cfg, weights, pairs);
    const every = new Set(receiverSenders(cfg).flatMap(([r, us]) => us.map((u) => `${u}->${r}`)));
    expect(referenceCircuit(cfg, weights, pairs, every)).toBeCloseTo(m.source, 10);
    expect(referenceCircuit(cfg, weights, pairs, new Set())).toBeCloseTo(m.base, 10);
    expect(Math.abs(m.source - m.base)).toBeGreaterThan(1e-3);
  });
});
