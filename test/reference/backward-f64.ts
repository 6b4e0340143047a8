// Float64 reverse pass of the reference GPT-2 (gpt2-f64.ts): the gradient of a linear function of the logits with
// respect to every TransformerLens hook of one sequence, written by hand from the forward's loops (llm.c style:
// each layer's backward reads the forward's recorded values). Shares no code with src/engine/graph (no autodiff).
// Checked against central finite differences in backward-f64.test.ts.
//
// Semantics, as in finite-diff.ts: a hook's gradient is the derivative of the metric with respect to the hook's
// value as used downstream. A `held` hook keeps its value and its own gradient but passes none to its inputs (a
// stop-gradient: GradDrop's dropped outputs, frozen LayerNorm scales or patterns). An edited hook (`hooks`) is a
// replacement by a constant, so it passes no gradient to its inputs either.
import type { GPT2Config } from '../../src/engine/model/types';
import { referenceForwardF64, type HookFn, type WeightsF64 } from './gpt2-f64';

export interface LogitTerm {
  pos: number;
  token: number;
  coeff: number;
}

export interface BackwardOptions {
  /** Edits (replacements by constants) applied in the forward pass, by hook name. */
  hooks?: Record<string, HookFn>;
  /** Hooks that pass no gradient to their inputs. */
  held?: string[];
}

export interface BackwardResult {
  /** The metric sum(coeff * logits[pos, token]) of the (edited) run. */
  metric: number;
  /** Every hook's value in the edited run. */
  cache: Map<string, Float64Array>;
  /** d metric / d hook, laid out as the hook (gpt2-f64.ts shapes, no batch axis). */
  grads: Map<string, Float64Array>;
}

/** Logit difference at the final position: logit(answer) - logit(wrong). */
export const logitDiffTerms = (P: number, answer: number, wrong: number): LogitTerm[] => [
  { pos: P - 1, token: answer, coeff: 1 },
  { pos: P - 1, token: wrong, coeff: -1 },
];

/** The input gradient of a Conv1D layer (W [nIn, nOut]): g [T, nOut] @ W^T = [T, nIn]. */
function backLinear(g: Float64Array, T: number, nIn: number, nOut: number, W: Float64Array): Float64Array {
  const out = new Float64Array(T * nIn);
  for (let t = 0; t < T; t++)
    for (let i = 0; i < nIn; i++) {
      let s = 0;
      const w = i * nOut;
      for (let j = 0; j < nOut; j++) s += g[t * nOut + j] * W[w + j];
      out[t * nIn + i] = s;
    }
  return out;
}

function geluNewGrad(x: number): number {
  const c = Math.sqrt(2 / Math.PI);
  const u = c * (x + 0.044715 * x * x * x);
  const th = Math.tanh(u);
  return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * c * (1 + 3 * 0.044715 * x * x);
}

export function referenceBackwardF64(cfg: GPT2Config, w: WeightsF64, tokens: number[], terms: LogitTerm[], opts: BackwardOptions = {}): BackwardResult {
  const { nLayers, nHeads: H, dModel: D, dHead: dh, dMlp, dVocab } = cfg;
  const T = tokens.length;
  const positions = [...new Set(terms.map((t) => t.pos))];
  const { logits, cache: acts } = referenceForwardF64(cfg, w, tokens, { hooks: opts.hooks, logitPositions: positions });
  const cache = new Map([...acts].map(([k, v]) => [k, v.data]));
  const metric = terms.reduce((s, t) => s + t.coeff * logits[t.pos * dVocab + t.token], 0);
  const cut = new Set([...(opts.held ?? []), ...Object.keys(opts.hooks ?? {})]);
  const grads = new Map<string, Float64Array>();
  const W = (name: string) => w.get(name)!;
  const A = (name: string) => cache.get(name)!;
  /** Records a hook's gradient; what flows on to its inputs (nothing when it is cut). */
  const at = (name: string, g: Float64Array): Float64Array => {
    grads.set(name, g);
    return cut.has(name) ? new Float64Array(g.length) : g;
  };

  // LayerNorm (gpt2-f64.ts): xc = x - mean(x); out = xc / scale * gamma + beta, scale = sqrt(mean(xc^2) + eps).
  const layerNormBack = (prefix: string, x: Float64Array, gOut: Float64Array, gamma: Float64Array): Float64Array => {
    const gN = at(`${prefix}.hook_normalized`, gOut);
    const scale = A(`${prefix}.hook_scale`);
    const gScale = new Float64Array(T);
    const gXc = new Float64Array(T * D);
    const xc = new Float64Array(T * D);
    for (let t = 0; t < T; t++) {
      let mean = 0;
      for (let i = 0; i < D; i++) mean += x[t * D + i];
      mean /= D;
      for (let i = 0; i < D; i++) {
        const c = (xc[t * D + i] = x[t * D + i] - mean);
        gXc[t * D + i] = (gN[t * D + i] * gamma[i]) / scale[t];
        gScale[t] -= (gN[t * D + i] * gamma[i] * c) / (scale[t] * scale[t]);
      }
    }
    const gS = at(`${prefix}.hook_scale`, gScale);
    const gX = new Float64Array(T * D);
    for (let t = 0; t < T; t++) {
      let m = 0;
      for (let i = 0; i < D; i++) {
        gXc[t * D + i] += (gS[t] * xc[t * D + i]) / (D * scale[t]);
        m += gXc[t * D + i];
      }
      m /= D;
      for (let i = 0; i < D; i++) gX[t * D + i] = gXc[t * D + i] - m;
    }
    return gX;
  };

  // Unembedding at the metric's positions, then ln_final.
  const wte = W('wte.weight'); // [d_vocab, d_model]
  const gLnf = new Float64Array(T * D);
  for (const { pos, token, coeff } of terms) for (let i = 0; i < D; i++) gLnf[pos * D + i] += coeff * wte[token * D + i];
  let gResid = layerNormBack('ln_final', A(`blocks.${nLayers - 1}.hook_resid_post`), gLnf, W('ln_f.weight'));

  for (let l = nLayers - 1; l >= 0; l--) {
    const b = `blocks.${l}.`;
    const p = `h.${l}.`;
    const gPost = at(b + 'hook_resid_post', gResid);
    // MLP: mlp_out = post @ c_proj + b; post = gelu_new(pre); pre = ln2 @ c_fc + b.
    const gMlpOut = at(b + 'hook_mlp_out', gPost);
    const gAct = at(b + 'mlp.hook_post', backLinear(gMlpOut, T, dMlp, D, W(p + 'mlp.c_proj.weight')));
    const pre = A(b + 'mlp.hook_pre');
    const gPre = at(b + 'mlp.hook_pre', gAct.map((g, i) => g * geluNewGrad(pre[i])));
    const gLn2 = backLinear(gPre, T, D, dMlp, W(p + 'mlp.c_fc.weight'));
    const fromLn2 = layerNormBack(b + 'ln2', A(b + 'hook_resid_mid'), gLn2, W(p + 'ln_2.weight'));
    const gMid = at(b + 'hook_resid_mid', gPost.map((g, i) => g + fromLn2[i]));

    // Attention: attn_out = z @ c_proj + b; z[q, h] = sum_k pattern[h, q, k] v[k, h]; pattern = softmax(scores).
    const gAttnOut = at(b + 'hook_attn_out', gMid);
    const gZ = at(b + 'attn.hook_z', backLinear(gAttnOut, T, D, D, W(p + 'attn.c_proj.weight')));
    const [q, k, v, pattern] = ['q', 'k', 'v', 'pattern'].map((n) => A(`${b}attn.hook_${n}`));
    const gPatternIn = new Float64Array(H * T * T);
    const gV = new Float64Array(T * D);
    for (let h = 0; h < H; h++)
      for (let qi = 0; qi < T; qi++)
        for (let ki = 0; ki < T; ki++) {
          const a = pattern[(h * T + qi) * T + ki];
          let s = 0;
          for (let e = 0; e < dh; e++) {
            s += gZ[qi * D + h * dh + e] * v[ki * D + h * dh + e];
            gV[ki * D + h * dh + e] += a * gZ[qi * D + h * dh + e];
          }
          gPatternIn[(h * T + qi) * T + ki] = s;
        }
    const gPattern = at(b + 'attn.hook_pattern', gPatternIn);
    const gScoresIn = new Float64Array(H * T * T);
    for (let row = 0; row < H * T; row++) {
      let dot = 0;
      for (let ki = 0; ki < T; ki++) dot += pattern[row * T + ki] * gPattern[row * T + ki];
      for (let ki = 0; ki < T; ki++) gScoresIn[row * T + ki] = pattern[row * T + ki] * (gPattern[row * T + ki] - dot);
    }
    const gScores = at(b + 'attn.hook_attn_scores', gScoresIn);
    const gQ = new Float64Array(T * D);
    const gK = new Float64Array(T * D);
    const scale = 1 / Math.sqrt(dh);
    for (let h = 0; h < H; h++)
      for (let qi = 0; qi < T; qi++)
        for (let ki = 0; ki <= qi; ki++) {
          const g = gScores[(h * T + qi) * T + ki] * scale;
          for (let e = 0; e < dh; e++) {
            gQ[qi * D + h * dh + e] += g * k[ki * D + h * dh + e];
            gK[ki * D + h * dh + e] += g * q[qi * D + h * dh + e];
          }
        }
    const [gq, gk, gv] = [at(b + 'attn.hook_q', gQ), at(b + 'attn.hook_k', gK), at(b + 'attn.hook_v', gV)];
    const gQkv = new Float64Array(T * 3 * D); // [pos, q | k | v]
    for (let t = 0; t < T; t++) {
      gQkv.set(gq.subarray(t * D, (t + 1) * D), t * 3 * D);
      gQkv.set(gk.subarray(t * D, (t + 1) * D), t * 3 * D + D);
      gQkv.set(gv.subarray(t * D, (t + 1) * D), t * 3 * D + 2 * D);
    }
    const gLn1 = backLinear(gQkv, T, D, 3 * D, W(p + 'attn.c_attn.weight'));
    const fromLn1 = layerNormBack(b + 'ln1', A(b + 'hook_resid_pre'), gLn1, W(p + 'ln_1.weight'));
    gResid = at(b + 'hook_resid_pre', gMid.map((g, i) => g + fromLn1[i]));
  }
  at('hook_embed', gResid);
  at('hook_pos_embed', gResid);
  return { metric, cache, grads };
}
