// The graph GPT-2 against the independent float64 reference (test/reference): every hook, logits, and the
// gradient of a metric with respect to every hook (central finite differences of the reference).
import { afterAll, describe, expect, it } from 'vitest';
import { Graph, Mul, ReduceSum, Slice, grad, stopGradient, type Tensor } from '../graph';
import { createNodeRuntime } from '../runtime/node';
import type { Fetched } from '../runtime/types';
import { gpt2Forward, unembed, weightInputs } from './gpt2';
import type { GPT2Config, Weights } from './types';
import { hookNames, hookShape, referenceForward } from '../../../test/reference/gpt2-f64';

/** Hook names and shapes from the reference (independent of gpt2.ts), with the batch axis. */
const hookShapes = (cfg: GPT2Config, batch: number, pos: number) =>
  new Map(hookNames(cfg).map((n) => [n, [batch, ...hookShape(cfg, n, pos)]]));
import { hookGradFD } from '../../../test/reference/finite-diff';
import { logitDiff } from '../../../test/reference/metrics-f64';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());

const CONFIGS: { label: string; cfg: GPT2Config; seqs: number[] }[] = [
  { label: '3 layers, n_head != d_head', cfg: tinyConfig({ nLayers: 3, nHeads: 2, dModel: 16 }), seqs: [1, 21] },
  { label: '1 layer, n_inner = 24', cfg: tinyConfig({ nLayers: 1, nHeads: 4, dModel: 12, dHead: 3, dMlp: 24 }), seqs: [1, 20] },
  { label: '4 layers, 8 heads of 2', cfg: tinyConfig({ nLayers: 4, nHeads: 8, dModel: 16, dHead: 2, dMlp: 40, nCtx: 24 }), seqs: [7, 24] },
];

function forwardGraph(cfg: GPT2Config, batch: number, pos: number): Graph {
  const g = new Graph('forward');
  const tokens = g.input('tokens', [batch, pos], 'int64');
  const w = weightInputs(g, cfg);
  const x = gpt2Forward(cfg, w, tokens, (name, t) => g.output(t, name));
  g.output(unembed(cfg, w, x), 'logits');
  return g;
}

function tokenFeed(seqs: number[][]) {
  return { dtype: 'int64' as const, shape: [seqs.length, seqs[0].length], data: BigInt64Array.from(seqs.flat(), BigInt) };
}

/** Row `b` of a [batch, ...] output. */
function row(t: Fetched, b: number): Float32Array {
  const n = t.data.length / t.shape[0];
  return t.data.subarray(b * n, (b + 1) * n);
}

describe.each(CONFIGS)('GPT-2 graph vs float64 reference: $label', ({ cfg, seqs }) => {
  let weights: Weights;
  it.each(seqs)('every hook and the logits agree within 1e-4 relative (seq %i, batch 2)', async (pos) => {
    weights ??= randomWeights(cfg, 7);
    await rt.setWeights(weights);
    const toks = [randomTokens(cfg, pos, 11), randomTokens(cfg, pos, 12)];
    const out = await rt.run(`fwd-${cfg.nLayers}-${cfg.dModel}-${pos}`, () => forwardGraph(cfg, 2, pos), { tokens: tokenFeed(toks) });
    const names = [...hookShapes(cfg, 2, pos).keys()];
    expect(Object.keys(out).sort()).toEqual([...names, 'logits'].sort());
    for (let b = 0; b < 2; b++) {
      const ref = referenceForward(cfg, weights, toks[b]);
      for (const name of names) {
        expect(out[name].shape).toEqual(hookShapes(cfg, 2, pos).get(name));
        expectClose(`${name}[${b}]`, row(out[name], b), ref.cache.get(name)!.data, 1e-4);
      }
      expectClose(`logits[${b}]`, row(out.logits, b), ref.logits, 1e-4);
    }
  });
});

describe('gradients of a metric with respect to every hook', () => {
  const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30 });
  const pos = 6;
  const [answer, wrong] = [3, 17];

  function gradGraph(freeze: { ln: boolean; pattern: boolean }): Graph {
    const g = new Graph('grad');
    const tokens = g.input('tokens', [1, pos], 'int64');
    const coef = g.input('coef', [1, 1, cfg.dVocab]);
    const w = weightInputs(g, cfg);
    const hooks = new Map<string, Tensor>();
    const x = gpt2Forward(cfg, w, tokens, (name, t) => {
      const frozen = (freeze.ln && name.endsWith('hook_scale')) || (freeze.pattern && name.endsWith('hook_pattern'));
      const v = frozen ? stopGradient(t) : t;
      hooks.set(name, v);
      return v;
    });
    const logits = unembed(cfg, w, Slice(x, 1, pos - 1, pos)); // [1, 1, d_vocab]
    const metric = ReduceSum(Mul(logits, coef), [0, 1, 2]);
    g.output(metric, 'metric');
    const names = [...hooks.keys()];
    grad(metric, names.map((n) => hooks.get(n)!)).forEach((gr, i) => {
      if (gr) g.output(gr, `${names[i]}_grad`);
    });
    return g;
  }

  it.each([
    { ln: false, pattern: false },
    { ln: true, pattern: false },
    { ln: false, pattern: true },
  ])('agree with central finite differences (freeze LN $ln, freeze pattern $pattern)', async (freeze) => {
    const weights = randomWeights(cfg, 3);
    await rt.setWeights(weights);
    const toks = randomTokens(cfg, pos, 5);
    const coef = new Float32Array(cfg.dVocab);
    coef[answer] = 1;
    coef[wrong] = -1;
    const out = await rt.run(`grad-${freeze.ln}-${freeze.pattern}`, () => gradGraph(freeze), {
      tokens: tokenFeed([toks]),
      coef: { dtype: 'float32', shape: [1, 1, cfg.dVocab], data: coef },
    });
    const metric = (logits: Float64Array) => logitDiff(logits, pos, cfg.dVocab, answer, wrong);
    const ref = referenceForward(cfg, weights, toks);
    expect(out.metric.data[0]).toBeCloseTo(metric(ref.logits), 4);
    const isFrozen = (n: string) => (freeze.ln && n.endsWith('hook_scale')) || (freeze.pattern && n.endsWith('hook_pattern'));
    let checked = 0;
    for (const [name, shape] of hookShapes(cfg, 1, pos)) {
      const size = shape.reduce((a, b) => a * b, 1);
      // Every entry of small hooks; a spread of entries of larger ones.
      const idx = size <= 48 ? [...Array(size).keys()] : [...Array(48).keys()].map((i) => Math.floor((i * size) / 48));
      const fd = hookGradFD(cfg, weights, toks, metric, name, idx, 1e-4, { freeze: isFrozen });
      const gOut = out[`${name}_grad`];
      const got = gOut ? idx.map((i) => gOut.data[i]) : idx.map(() => 0);
      // Masked attention scores carry -inf; their gradient is 0 in both.
      expectClose(`${name}_grad`, got, fd, 2e-3, 1e-4);
      checked++;
    }
    expect(checked).toBe(hookShapes(cfg, 1, pos).size);
  });
});
