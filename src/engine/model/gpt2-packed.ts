// GPT-2's blocks over packed tokens (issue 15: the sweep's speed). Many rows (sequences) that each need only a
// suffix of their positions recomputed, each suffix starting at its own position, share one run: their tokens are
// packed into one [tokens, d_model] matrix, so every matrix product (the bulk of the work) runs on exactly the
// tokens that change, with no padding. Attention alone goes through a padded [rows, pos] layout: each row's keys
// and values are its own computed ones from its first computed position on and a cached run's before it, gathered by
// an index the caller builds; queries that are not computed there are garbage and are never read back.
//
// Same arithmetic as gpt2.ts's block (ln_1, c_attn, causal softmax attention, c_proj, ln_2, gelu_new MLP), with no
// hooks: the packed layout has no TransformerLens shape. activation.ts's patch runs use it; its numbers are checked
// against the float64 reference rerun in patching.test.ts.
import { Add, Arange, Concat, Div, Gather, GatherND, Less, MatMul, Reshape, Slice, Transpose, Where, geluNew, layerNorm, softmax, type Tensor } from '../graph';
import type { WeightInputs } from './gpt2';
import type { GPT2Config } from './types';

export interface PackedLayout {
  /** int64 [rows, pos]: for each row and position, the key/value row in concat(cached [c, d_model], computed [tokens, d_model]). */
  kv: Tensor;
  /**
   * int64 [rows, Q]: the queries, aligned to the end: slot j of a row is position pos - Q + j, the token computed
   * there, or any valid token where the row computes none (Q: the most positions any row computes).
   */
  query: Tensor;
  /** int64 [tokens, 2]: each token's (row, query slot). */
  back: Tensor;
  /** The cached run's keys and values of layer l, [c, d_model] each (c: cached rows, e.g. pairs x positions). */
  cached: (layer: number) => { k: Tensor; v: Tensor };
  /** The last layer: int64 [rows, K], the tokens read out, and int64 [K] their positions (queries, causal mask). */
  final: { tokens: Tensor; positions: Tensor };
}

/**
 * Blocks `from`.. of GPT-2 on packed tokens x [tokens, d_model] (blocks.{from}.hook_resid_pre). The last block
 * computes keys and values for every token but the rest only at `final.tokens`; returns ln_final's output there,
 * [rows, K, d_model].
 */
export function packedForward(cfg: GPT2Config, w: WeightInputs, x: Tensor, from: number, layout: PackedLayout): Tensor {
  const W = (name: string) => w.get(name)!;
  const { nHeads: H, dHead: dh, dModel: D } = cfg;
  const g = x.graph;
  const [R, P] = layout.kv.shape;
  const Q = layout.query.shape[1];
  // keys <= query: [Q, pos] for the query slots (positions pos - Q..pos - 1), [K, pos] at the last layer.
  const keysUpTo = (queries: Tensor) =>
    Less(Reshape(Arange(g, 0, P), [1, P]), Reshape(Add(queries, g.constant([1], [], 'int64')), [queries.shape[0], 1]));
  const fullMask = keysUpTo(Arange(g, P - Q, P));
  const finalMask = keysUpTo(layout.final.positions);
  const heads = (t: Tensor, n: number) => Transpose(Reshape(t, [R, n, H, dh]), [0, 2, 1, 3]); // [rows, head, n, d_head]
  /** Attention of queries q [rows, n, d_model] over every row's keys and values, padded: [rows, n, d_model]. */
  const attend = (l: number, q: Tensor, k: Tensor, v: Tensor, mask: Tensor) => {
    const n = q.shape[1];
    const c = layout.cached(l);
    const kAll = Gather(Concat([c.k, k], 0), layout.kv); // [rows, pos, d_model]
    const vAll = Gather(Concat([c.v, v], 0), layout.kv);
    const raw = Div(MatMul(heads(q, n), Transpose(Reshape(kAll, [R, P, H, dh]), [0, 2, 3, 1])), Math.sqrt(dh)); // [rows, head, n, pos]
    const z = MatMul(softmax(Where(mask, raw, -Infinity)), heads(vAll, P)); // [rows, head, n, d_head]
    return Reshape(Transpose(z, [0, 2, 1, 3]), [R, n, D]);
  };
  const mlp = (l: number, residMid: Tensor) => residualMlp(cfg, w, l, residMid);
  const last = cfg.nLayers - 1;
  for (let l = from; l < last; l++) {
    const p = `h.${l}.`;
    const ln1 = layerNorm(x, W(p + 'ln_1.weight'), W(p + 'ln_1.bias'), cfg.layerNormEps).out;
    const qkv = Add(MatMul(ln1, W(p + 'attn.c_attn.weight')), W(p + 'attn.c_attn.bias')); // [tokens, 3 * d_model]
    const part = (i: number) => Slice(qkv, 1, i * D, (i + 1) * D);
    const z = GatherND(attend(l, Gather(part(0), layout.query), part(1), part(2), fullMask), layout.back); // [tokens, d_model]
    x = mlp(l, Add(x, Add(MatMul(z, W(p + 'attn.c_proj.weight')), W(p + 'attn.c_proj.bias'))));
  }
  // The last block: keys and values at every token, the rest at the read-out tokens only.
  const p = `h.${last}.`;
  const ln1 = layerNorm(x, W(p + 'ln_1.weight'), W(p + 'ln_1.bias'), cfg.layerNormEps).out;
  const Wqkv = W(p + 'attn.c_attn.weight');
  const bqkv = W(p + 'attn.c_attn.bias');
  const kv = Add(MatMul(ln1, Slice(Wqkv, 1, D, 3 * D)), Slice(bqkv, 0, D, 3 * D)); // [tokens, 2 * d_model]
  const q = Add(MatMul(Gather(ln1, layout.final.tokens), Slice(Wqkv, 1, 0, D)), Slice(bqkv, 0, 0, D)); // [rows, K, d_model]
  const z = attend(last, q, Slice(kv, 1, 0, D), Slice(kv, 1, D, 2 * D), finalMask);
  const residMid = Add(Gather(x, layout.final.tokens), Add(MatMul(z, W(p + 'attn.c_proj.weight')), W(p + 'attn.c_proj.bias')));
  return layerNorm(mlp(last, residMid), W('ln_f.weight'), W('ln_f.bias'), cfg.layerNormEps).out;
}

/** Block l's second half without hooks: resid_mid + MLP(ln_2(resid_mid)), i.e. hook_resid_post. */
export function residualMlp(cfg: GPT2Config, w: WeightInputs, l: number, residMid: Tensor): Tensor {
  const W = (name: string) => w.get(name)!;
  const p = `h.${l}.`;
  const ln2 = layerNorm(residMid, W(p + 'ln_2.weight'), W(p + 'ln_2.bias'), cfg.layerNormEps).out;
  const post = geluNew(Add(MatMul(ln2, W(p + 'mlp.c_fc.weight')), W(p + 'mlp.c_fc.bias')));
  return Add(residMid, Add(MatMul(post, W(p + 'mlp.c_proj.weight')), W(p + 'mlp.c_proj.bias')));
}
