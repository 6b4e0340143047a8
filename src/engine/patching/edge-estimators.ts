// The estimators of estimators.ts on edges (issue #12): the QK fix for edges into a head's query or key, and the
// per-copy scores GradDrop and AtP* take magnitudes of. The R copies of the base run (GradDrop, IG) are built in
// edges.ts's edgeAttributionGraph (for nodes, attribution.ts now runs GradDrop's passes on one shared forward).
import { Add, Concat, Expand, MatMul, Mul, ReduceSum, Reshape, Slice, Sqrt, Sub, Transpose, Where, layerNorm, softmax, type Tensor } from '../graph';
import type { WeightInputs } from '../model/gpt2';
import type { GPT2Config } from '../model/types';

/**
 * QK fix of every edge u -> a{l}.h{h}<q|k> of one layer: the head's pattern recomputed exactly with its query
 * (key) input moved by sender u's change, in_q + (a_u[source] - a_u[base]) through ln_1 and W_Q (W_K), the other
 * side from the base run, then sum over (query, key) of (A_patched - A_base) * dM/dA.
 *   inQ, inK [N, pos, head_index, d_model]: the base run's query and key inputs of layer l;
 *   q, k [N, pos, head_index, d_head], pattern [N, head_index, query_pos, key_pos]: the base run's;
 *   dSenders [N, pos, S_l, d_model]: the changes of the senders upstream of layer l;
 *   G [R * N, head_index, query_pos, key_pos]: dM/dA, one per copy of the base run.
 * Returns per copy and pair [R * N, S_l, 2 * head_index] (the q edges' heads, then the k edges').
 */
export function qkFixEdges(
  cfg: GPT2Config, w: WeightInputs, l: number,
  base: { inQ: Tensor; inK: Tensor; q: Tensor; k: Tensor; pattern: Tensor }, dSenders: Tensor, G: Tensor, R: number,
): Tensor {
  const g = dSenders.graph;
  const { nHeads: H, dHead: dh, dModel: d } = cfg;
  const [N, P, S] = dSenders.shape;
  const W = (name: string) => w.get(`h.${l}.${name}`)!;
  // c_attn as one [d_model, d_head] matrix per (q|k|v, head), and its bias per (q|k|v, head).
  const Wqkv = Transpose(Reshape(W('attn.c_attn.weight'), [d, 3 * H, dh]), [1, 0, 2]); // [3 * head_index, d_model, d_head]
  const bqkv = Reshape(W('attn.c_attn.bias'), [3 * H, 1, dh]);
  const causal: number[] = [];
  for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) causal.push(j <= i ? 1 : 0);
  const attend = (scores: Tensor) => softmax(Where(g.constant(causal, [P, P], 'bool'), Mul(scores, 1 / Math.sqrt(dh)), -Infinity));

  /** Query (which = 0) or key (1) of every head with its input moved by each sender's change: [N, S, head_index, pos, d_head]. */
  const moved = (input: Tensor, which: 0 | 1) => {
    const x = Reshape(Add(Reshape(input, [N, P, 1, H, d]), Reshape(dSenders, [N, P, S, 1, d])), [N, P, S, H, d]); // [N, pos, S, head_index, d_model]
    const ln = layerNorm(x, W('ln_1.weight'), W('ln_1.bias'), cfg.layerNormEps).out;
    const perHead = Reshape(Transpose(ln, [3, 0, 1, 2, 4]), [H, N * P * S, d]); // [head_index, N x pos x S, d_model]
    const proj = MatMul(perHead, Slice(Wqkv, 0, which * H, (which + 1) * H)); // [head_index, N x pos x S, d_head]
    const withBias = Reshape(Add(proj, Slice(bqkv, 0, which * H, (which + 1) * H)), [H, N, P, S, dh]);
    return Transpose(withBias, [1, 3, 0, 2, 4]); // [N, S, head_index, pos, d_head]
  };
  const heads = (t: Tensor) => Reshape(Transpose(t, [0, 2, 1, 3]), [N, 1, H, P, dh]); // [N, 1, head_index, pos, d_head]
  const A = Reshape(base.pattern, [N, 1, H, P, P]);
  const mT5 = (t: Tensor) => Transpose(t, [0, 1, 2, 4, 3]);
  const Aq = attend(MatMul(moved(base.inQ, 0), mT5(heads(base.k)))); // [N, S, head_index, query_pos, key_pos]
  const Ak = attend(MatMul(Expand(heads(base.q), [N, S, H, P, dh]), mT5(moved(base.inK, 1))));
  // Per copy and pair: sum over (query, key) of D * G, as a matmul over query x key.
  const Gt = Transpose(Reshape(G, [R, N, H, P * P]), [1, 2, 3, 0]); // [N, head_index, query x key, R]
  const perRow = (Ap: Tensor) => {
    const D = Reshape(Transpose(Sub(Ap, A), [0, 2, 1, 3, 4]), [N, H, S, P * P]); // [N, head_index, S, query x key]
    return MatMul(D, Gt); // [N, head_index, S, R]
  };
  const both = Concat([perRow(Aq), perRow(Ak)], 1); // [N, 2 x head_index, S, R]
  return Reshape(Transpose(both, [3, 0, 2, 1]), [R * N, S, 2 * H]);
}

/** |x| summed over copies and pairs, scaled as AtP* and GradDrop average: (R / (L - 1)) * sum |x|. */
export function magnitudeMean(x: Tensor, R: number, L: number): Tensor {
  return Mul(ReduceSum(Sqrt(Mul(x, x)), [0]), R / (L - 1));
}
