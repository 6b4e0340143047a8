// The training graph: GPT-2 forward, weighted next-token cross-entropy at chosen rows, and
// the gradient of that loss with respect to every weight input, all from the engine's own autodiff.

import { Gather, GemmTransB, Graph, Mul, ReduceSum, Reshape, Sub, grad, logSumExp, type Tensor } from '../graph';
import { gpt2Forward, weightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';

/** The name of the output holding the gradient of the loss with respect to weight `name`. */
export const gradName = (name: string) => `${name}_grad`;

/**
 * Inputs: `tokens` [batch, pos] int64, `rows` [n] int64 (flat indices b * pos + t of the scored positions),
 * `targets` [n] int64 (the token each row should predict), `row_weights` [n, 1] float32, plus one input per weight.
 * Outputs: `loss` [] = sum over rows of weight * (logsumexp(logits) - logit[target]), and `${weight}_grad` for every
 * weight.
 */
export function trainingGraph(cfg: GPT2Config, batch: number, pos: number, n: number): Graph {
  const g = new Graph('train');
  const tokens = g.input('tokens', [batch, pos], 'int64');
  const rows = g.input('rows', [n], 'int64');
  const targets = g.input('targets', [n], 'int64');
  const rowWeights = g.input('row_weights', [n, 1], 'float32');
  const w = weightInputs(g, cfg);
  const nll = tokenNll(w.get('wte.weight')!, gpt2Forward(cfg, w, tokens), rows, targets);
  const loss = ReduceSum(Mul(nll, rowWeights), [0, 1]);
  g.output(loss, 'loss');
  const names = [...w.keys()];
  grad(loss, names.map((name) => w.get(name)!)).forEach((gr, i) => {
    if (!gr) throw new Error(`trainingGraph: the loss does not depend on ${names[i]}`);
    g.output(gr, gradName(names[i]));
  });
  return g;
}

/**
 * Next-token cross-entropy [n, 1] of the tied-unembedding logits at `rows` of `x` [batch, pos, d_model] (ln_final's
 * output), over every row of `wte` (the toy model trains on a compact vocabulary: vocab.ts). Only the scored rows
 * are unembedded: the [n, rows] logits are the run's largest tensor. The target logit is x_row . W_E[target], read
 * without a one-hot over the vocabulary.
 */
export function tokenNll(wte: Tensor, x: Tensor, rows: Tensor, targets: Tensor): Tensor {
  const [batch, pos, d] = x.shape;
  const picked = Gather(Reshape(x, [batch * pos, d]), rows); // [n, d_model]
  const logits = GemmTransB(picked, wte); // [n, rows of wte]
  const target = ReduceSum(Mul(picked, Gather(wte, targets)), [-1], true); // [n, 1]
  return Sub(logSumExp(logits), target);
}
