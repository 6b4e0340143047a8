// GPT-2, read top to bottom: embed -> blocks -> ln_final -> unembed, built as an ONNX graph.
// Every TransformerLens hook point passes through `hook(name, tensor)`, which may record, replace or freeze the
// value; what it returns is used downstream. Shapes carry the batch axis first, as in TransformerLens.
import {
  Add, Arange, Concat, Div, Expand, Gather, GemmTransB, Identity, Less, MatMul, ReduceSum, Reshape, Slice, Transpose, Where,
  geluNew, layerNorm, softmax, type Graph, type Tensor,
} from '../graph';
import { expectedWeightShapes, type GPT2Config } from './types';

export type Hook = (name: string, t: Tensor) => Tensor;
export type WeightInputs = Map<string, Tensor>;

const identity: Hook = (_n, t) => t;

/** Declares one graph input per checkpoint tensor, named as in the checkpoint; the runtime feeds the held weights. */
export function weightInputs(g: Graph, cfg: GPT2Config): WeightInputs {
  const w: WeightInputs = new Map();
  for (const [name, shape] of expectedWeightShapes(cfg)) w.set(name, g.input(name, shape));
  return w;
}

export interface ForwardOptions {
  /** Start at blocks.{startLayer}.hook_resid_pre = `residPre` instead of embedding tokens (for patching sweeps). */
  startLayer?: number;
  residPre?: Tensor;
  /**
   * Compute only positions start.. (residPre then holds just those rows): under causal attention the earlier
   * positions are unchanged, so their keys and values come from a cached run, `past(layer)` -> [batch, start,
   * head_index, d_head] each. Hooks then see the suffix only (attention hooks: [.., query_pos >= start, key_pos]).
   */
  past?: { start: number; kv: (layer: number) => { k: Tensor; v: Tensor } };
  /**
   * Rows (indices into the computed positions) that the caller reads from the output. The last layer then computes
   * keys and values for every row but queries, attention output and MLP for these rows only, and the output has
   * just these rows: nothing after the last layer's attention mixes positions. Hooks of the last layer from q on
   * see these rows only. An int64 tensor [rows] instead of numbers: the rows are a graph input (symbolic sizes).
   */
  finalRows?: number[] | Tensor;
  /**
   * The edge graph's hooks (TransformerLens's use_split_qkv_input, use_attn_result and use_hook_mlp_in): each head's
   * query, key and value read a private copy of the residual stream, `blocks.{l}.hook_{q,k,v}_input` [batch, pos,
   * head_index, d_model] (ln1's hooks then cover all three: [batch, pos, 3 * head_index, ...]); each head's output
   * into the residual stream is `blocks.{l}.attn.hook_result` [batch, pos, head_index, d_model] (z @ W_O per head,
   * without b_O); the MLP reads `blocks.{l}.hook_mlp_in` [batch, pos, d_model], a copy of hook_resid_mid. The values
   * are those of the plain graph; only the hooks (and so what can be replaced or differentiated) differ.
   */
  edgeHooks?: boolean;
}

/** Returns ln_final's output [batch, pos, d_model]; see `unembed` for logits. */
export function gpt2Forward(cfg: GPT2Config, w: WeightInputs, tokens: Tensor | null, hook: Hook = identity, opts: ForwardOptions = {}): Tensor {
  const W = (name: string) => w.get(name)!;
  const start = opts.startLayer ?? 0;
  let resid: Tensor;
  if (start === 0 && !opts.residPre) {
    if (!tokens) throw new Error('gpt2Forward: tokens are required when starting at layer 0');
    const [batch, pos] = tokens.shape;
    if (pos > cfg.nCtx) throw new Error(`gpt2Forward: ${pos} tokens exceed the model's context of ${cfg.nCtx}`);
    const embed = hook('hook_embed', Gather(W('wte.weight'), tokens)); // [batch, pos, d_model]
    const posEmbed = hook('hook_pos_embed', Expand(Slice(W('wpe.weight'), 0, 0, pos), [batch, pos, cfg.dModel]));
    resid = Add(embed, posEmbed);
  } else {
    if (!opts.residPre) throw new Error('gpt2Forward: residPre is required when startLayer > 0');
    resid = opts.residPre;
  }
  for (let l = start; l < cfg.nLayers; l++)
    resid = block(cfg, W, l, resid, hook, opts.past, l === cfg.nLayers - 1 ? opts.finalRows : undefined, !!opts.edgeHooks);
  const lnf = layerNorm(resid, W('ln_f.weight'), W('ln_f.bias'), cfg.layerNormEps,
    (t) => hook('ln_final.hook_scale', t), (t) => hook('ln_final.hook_normalized', t));
  return lnf.out;
}

function block(
  cfg: GPT2Config, W: (n: string) => Tensor, l: number, residIn: Tensor, hook: Hook, past: ForwardOptions['past'], rows: number[] | Tensor | undefined,
  edgeHooks: boolean,
): Tensor {
  const p = `h.${l}.`;
  const b = `blocks.${l}.`;
  const [batch, nIn, d] = residIn.shape;
  const pos = rows ? (Array.isArray(rows) ? rows.length : rows.shape[0]) : nIn; // query positions computed past the key/value projection
  const { nHeads: H, dHead: dh } = cfg;
  const residPre = hook(b + 'hook_resid_pre', residIn);

  const ln1 = (x: Tensor) => layerNorm(x, W(p + 'ln_1.weight'), W(p + 'ln_1.bias'), cfg.layerNormEps,
    (t) => hook(b + 'ln1.hook_scale', t), (t) => hook(b + 'ln1.hook_normalized', t)).out;
  let heads: (i: number) => Tensor; // 0: q, 1: k, 2: v, each [batch, pos, head_index, d_head]
  if (!edgeHooks) {
    const qkv = Add(MatMul(ln1(residPre), W(p + 'attn.c_attn.weight')), W(p + 'attn.c_attn.bias')); // [batch, pos, 3 * d_model]
    heads = (i) => Reshape(Slice(qkv, 2, i * d, (i + 1) * d), [batch, nIn, H, dh]);
  } else {
    const copy = (x: string) => hook(b + `hook_${x}_input`, Expand(Reshape(residPre, [batch, nIn, 1, d]), [batch, nIn, H, d])); // [batch, pos, head_index, d_model]
    const ln = Transpose(ln1(Concat([copy('q'), copy('k'), copy('v')], 2)), [0, 2, 1, 3]); // [batch, 3 * head_index, pos, d_model]
    // c_attn as one [d_model, d_head] matrix per (q|k|v, head): [3 * head_index, d_model, d_head]
    const Wqkv = Transpose(Reshape(W(p + 'attn.c_attn.weight'), [d, 3 * H, dh]), [1, 0, 2]);
    const bqkv = Reshape(W(p + 'attn.c_attn.bias'), [3 * H, 1, dh]);
    const qkv = Transpose(Add(MatMul(ln, Wqkv), bqkv), [0, 2, 1, 3]); // [batch, pos, 3 * head_index, d_head]
    heads = (i) => Slice(qkv, 2, i * H, (i + 1) * H);
  }
  const pick = (x: Tensor) => (!rows ? x : Array.isArray(rows) ? atPositions(x, rows) : atRows(x, rows));
  const q = hook(b + 'attn.hook_q', pick(heads(0)));
  const k = hook(b + 'attn.hook_k', heads(1));
  const v = hook(b + 'attn.hook_v', heads(2));

  const start = past?.start ?? 0;
  const prefix = past && start > 0 ? past.kv(l) : undefined;
  const kAll = prefix ? Concat([prefix.k, k], 1) : k; // [batch, key_pos, head_index, d_head]
  const vAll = prefix ? Concat([prefix.v, v], 1) : v;
  const qh = Transpose(q, [0, 2, 1, 3]); // [batch, head_index, query_pos, d_head]
  const kh = Transpose(kAll, [0, 2, 3, 1]); // [batch, head_index, d_head, key_pos]
  const raw = Div(MatMul(qh, kh), Math.sqrt(dh)); // [batch, head_index, query_pos, key_pos]
  const g = residIn.graph;
  const queryRows = !rows ? Arange(g, 0, nIn) : Array.isArray(rows) ? g.constant(rows, [rows.length], 'int64') : rows; // [query_pos]
  const scores = hook(b + 'attn.hook_attn_scores', Where(causalMask(queryRows, start, start + nIn), raw, -Infinity));
  const pattern = hook(b + 'attn.hook_pattern', softmax(scores));
  const vh = Transpose(vAll, [0, 2, 1, 3]); // [batch, head_index, key_pos, d_head]
  const z = hook(b + 'attn.hook_z', Transpose(MatMul(pattern, vh), [0, 2, 1, 3])); // [batch, pos, head_index, d_head]
  let headsOut: Tensor; // [batch, pos, d_model], without b_O
  if (!edgeHooks) headsOut = MatMul(Reshape(z, [batch, pos, H * dh]), W(p + 'attn.c_proj.weight'));
  else {
    const WO = Reshape(W(p + 'attn.c_proj.weight'), [H, dh, d]); // [head_index, d_head, d_model]
    const result = hook(b + 'attn.hook_result', Transpose(MatMul(Transpose(z, [0, 2, 1, 3]), WO), [0, 2, 1, 3])); // [batch, pos, head_index, d_model]
    headsOut = ReduceSum(result, [2]);
  }
  const attnOut = hook(b + 'hook_attn_out', Add(headsOut, W(p + 'attn.c_proj.bias')));
  const residMid = hook(b + 'hook_resid_mid', Add(pick(residPre), attnOut));

  const mlpIn = edgeHooks ? hook(b + 'hook_mlp_in', Identity(residMid)) : residMid; // a copy: only the MLP reads it
  const ln2 = layerNorm(mlpIn, W(p + 'ln_2.weight'), W(p + 'ln_2.bias'), cfg.layerNormEps,
    (t) => hook(b + 'ln2.hook_scale', t), (t) => hook(b + 'ln2.hook_normalized', t));
  const pre = hook(b + 'mlp.hook_pre', Add(MatMul(ln2.out, W(p + 'mlp.c_fc.weight')), W(p + 'mlp.c_fc.bias'))); // [batch, pos, d_mlp]
  const post = hook(b + 'mlp.hook_post', geluNew(pre));
  const mlpOut = hook(b + 'hook_mlp_out', Add(MatMul(post, W(p + 'mlp.c_proj.weight')), W(p + 'mlp.c_proj.bias')));
  return hook(b + 'hook_resid_post', Add(residMid, mlpOut));
}

/**
 * [query_pos, key_pos]: true where key <= query, for queries at rows (int64 [query_pos], indices into the computed
 * positions, which begin at `start`) over keys 0..nKey-1. Computed at run time from ranges, so that under symbolic
 * sizes (graph/symbolic.ts) no [pos, pos] constant ties the graph to one prompt length.
 */
function causalMask(rows: Tensor, start: number, nKey: number): Tensor {
  const g = rows.graph;
  const limit = Add(rows, g.constant([start + 1], [], 'int64')); // query position + 1
  return Less(Reshape(Arange(g, 0, nKey), [1, nKey]), Reshape(limit, [rows.shape[0], 1]));
}

/** x [batch, n, ...] at rows `index` (int64 [k]) of axis 1: [batch, k, ...]. */
export function atRows(x: Tensor, index: Tensor): Tensor {
  const swap = [1, 0, ...x.shape.slice(2).map((_, i) => i + 2)];
  return Transpose(Gather(Transpose(x, swap), index), swap);
}

/** Tied unembedding: x [batch, n, d_model] -> logits [batch, n, d_vocab] = x @ W_E^T. */
export function unembed(cfg: GPT2Config, w: WeightInputs, x: Tensor): Tensor {
  const [batch, n] = x.shape;
  const flat = Reshape(x, [batch * n, cfg.dModel]);
  return Reshape(GemmTransB(flat, w.get('wte.weight')!), [batch, n, cfg.dVocab]);
}

/** ln_final output at the given positions only: [batch, positions.length, d_model]. */
export function atPositions(x: Tensor, positions: readonly number[]): Tensor {
  return Concat(positions.map((p) => Slice(x, 1, p, p + 1)), 1);
}
