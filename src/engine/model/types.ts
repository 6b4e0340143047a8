// Shared model types. Names follow TransformerLens (n_layers, d_model, ...) in camelCase;
// weight keys keep the Hugging Face checkpoint's own names (without the `transformer.` prefix).

/** A GPT-2 family configuration, normalised from a Hugging Face config.json. */
export interface GPT2Config {
  /** Human label, e.g. "gpt2" or the folder name. */
  name: string;
  nLayers: number; // n_layer
  nHeads: number; // n_head
  dModel: number; // n_embd
  dHead: number; // n_embd / n_head
  dMlp: number; // n_inner ?? 4 * n_embd
  nCtx: number; // n_positions (n_ctx in old configs)
  dVocab: number; // vocab_size
  layerNormEps: number; // layer_norm_epsilon
  /** Only "gelu_new" (tanh approximation) is supported, as in every GPT-2 checkpoint. */
  activation: 'gelu_new';
}

/** A dense float32 host tensor, row-major. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/**
 * GPT-2 weights by Hugging Face name, always float32 on the host, e.g.
 *   wte.weight [d_vocab, d_model], wpe.weight [n_ctx, d_model],
 *   h.{l}.ln_1.weight / .bias [d_model],
 *   h.{l}.attn.c_attn.weight [d_model, 3 * d_model] (Conv1D: [in, out]; q | k | v along out), .bias [3 * d_model],
 *   h.{l}.attn.c_proj.weight [d_model, d_model], .bias [d_model],
 *   h.{l}.ln_2.weight / .bias [d_model],
 *   h.{l}.mlp.c_fc.weight [d_model, d_mlp], .bias [d_mlp],
 *   h.{l}.mlp.c_proj.weight [d_mlp, d_model], .bias [d_model],
 *   ln_f.weight / .bias [d_model].
 * The unembedding is tied: W_U = wte.weight^T.
 */
export type Weights = Map<string, HostTensor>;

/** The weight names and shapes a config requires, in checkpoint order. */
export function expectedWeightShapes(cfg: GPT2Config): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const { dModel: d, dMlp, nCtx, dVocab } = cfg;
  m.set('wte.weight', [dVocab, d]);
  m.set('wpe.weight', [nCtx, d]);
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `h.${l}.`;
    m.set(p + 'ln_1.weight', [d]);
    m.set(p + 'ln_1.bias', [d]);
    m.set(p + 'attn.c_attn.weight', [d, 3 * d]);
    m.set(p + 'attn.c_attn.bias', [3 * d]);
    m.set(p + 'attn.c_proj.weight', [d, d]);
    m.set(p + 'attn.c_proj.bias', [d]);
    m.set(p + 'ln_2.weight', [d]);
    m.set(p + 'ln_2.bias', [d]);
    m.set(p + 'mlp.c_fc.weight', [d, dMlp]);
    m.set(p + 'mlp.c_fc.bias', [dMlp]);
    m.set(p + 'mlp.c_proj.weight', [dMlp, d]);
    m.set(p + 'mlp.c_proj.bias', [d]);
  }
  m.set('ln_f.weight', [d]);
  m.set('ln_f.bias', [d]);
  return m;
}
