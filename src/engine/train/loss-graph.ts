// The training graph: GPT-2 forward, mean next-token cross-entropy over the full vocabulary at chosen rows, and
// the gradient of that loss with respect to every weight input, all from the engine's own autodiff.

import { Gather, GemmTransB, Graph, Mul, ReduceSum, Reshape, Sub, grad, logSumExp, type Tensor } from '../graph';
import { gpt2Forward, weightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';

/** The name of the output holding the gradient of the loss with respect to weight `name`. */
export const gradName = (name: string) => `${name}_grad`;

/**
 * Inputs: `tokens` [batch, pos] int64, `rows` [n] int64 (flat indices b * pos + t of the scored positions),
 * `targets` [n] int64 (the token each row should predict), plus one input per weight.
 * Outputs: `loss` [] = mean over rows of logsumexp(logits) - logit[target], and `${weight}_grad` for every weight.
 */
export function trainingGraph(cfg: GPT2Config, batch: number, pos: number, n: number): Graph {
  const g = new Graph('train');
  const tokens = g.input('tokens', [batch, pos], 'int64');
  const rows = g.input('rows', [n], 'int64');
  const targets = g.input('targets', [n], 'int64');
  const w = weightInputs(g, cfg);
  const loss = crossEntropy(w.get('wte.weight')!, gpt2Forward(cfg, w, tokens), rows, targets);
  g.output(loss, 'loss');
  const names = [...w.keys()];
  grad(loss, names.map((name) => w.get(name)!)).forEach((gr, i) => {
    if (!gr) throw new Error(`trainingGraph: the loss does not depend on ${names[i]}`);
    g.output(gr, gradName(names[i]));
  });
  return g;
}

/** Mean over rows of tokenNll: the training loss. */
export function crossEntropy(wte: Tensor, x: Tensor, rows: Tensor, targets: Tensor): Tensor {
  return Mul(ReduceSum(tokenNll(wte, x, rows, targets), [0, 1]), 1 / rows.shape[0]);
}

/**
 * Next-token cross-entropy [n, 1] of the tied-unembedding logits at `rows` of `x` [batch, pos, d_model] (ln_final's
 * output), over the full vocabulary. Only the scored rows are unembedded: the [n, d_vocab] logits are the run's
 * largest tensor. The target logit is x_row . W_E[target], read without a one-hot over the vocabulary.
 */
export function tokenNll(wte: Tensor, x: Tensor, rows: Tensor, targets: Tensor): Tensor {
  const [batch, pos, d] = x.shape;
  const picked = Gather(Reshape(x, [batch * pos, d]), rows); // [n, d_model]
  const logits = GemmTransB(picked, wte); // [n, d_vocab]
  const target = ReduceSum(Mul(picked, Gather(wte, targets)), [-1], true); // [n, 1]
  return Sub(logSumExp(logits), target);
}
