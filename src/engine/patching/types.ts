// Result types shared by the patching engine, the CLI, the worker and the views.

/** Axis names follow TransformerLens. */
export type AxisName = 'layer' | 'pos' | 'head' | 'query_pos' | 'key_pos' | 'neuron';

/** A dense array that carries its axis names, so every plot labels itself. Row-major. */
export interface Labelled {
  axes: AxisName[];
  shape: number[];
  data: Float64Array;
}

/**
 * Patch target families. Layouts (CLI JSON contract for the first nine):
 *   resid_pre, resid_mid, resid_post, attn_out, mlp_out: [layer, pos]
 *   head_out: [layer, head, pos]            (blocks.L.attn.hook_z at one head and position)
 *   head_out_all_pos: [layer, head]         (hook_z of one head, every position)
 *   q, k, v: [layer, head]                  (the head's whole hook_q/k/v, every position)
 *   q_by_pos, k_by_pos, v_by_pos: [layer, head, pos]
 *   pattern: [layer, head]                  (the head's whole hook_pattern)
 *   pattern_by_pos: [layer, head, query_pos, key_pos]
 *   mlp_post: [layer, pos, neuron]          (blocks.L.mlp.hook_post, one neuron)
 */
export type Family =
  | 'resid_pre' | 'resid_mid' | 'resid_post' | 'attn_out' | 'mlp_out'
  | 'head_out' | 'head_out_all_pos'
  | 'q' | 'k' | 'v' | 'q_by_pos' | 'k_by_pos' | 'v_by_pos'
  | 'pattern' | 'pattern_by_pos'
  | 'mlp_post';

export const FAMILY_AXES: Record<Family, AxisName[]> = {
  resid_pre: ['layer', 'pos'],
  resid_mid: ['layer', 'pos'],
  resid_post: ['layer', 'pos'],
  attn_out: ['layer', 'pos'],
  mlp_out: ['layer', 'pos'],
  head_out: ['layer', 'head', 'pos'],
  head_out_all_pos: ['layer', 'head'],
  q: ['layer', 'head'],
  k: ['layer', 'head'],
  v: ['layer', 'head'],
  q_by_pos: ['layer', 'head', 'pos'],
  k_by_pos: ['layer', 'head', 'pos'],
  v_by_pos: ['layer', 'head', 'pos'],
  pattern: ['layer', 'head'],
  pattern_by_pos: ['layer', 'head', 'query_pos', 'key_pos'],
  mlp_post: ['layer', 'pos', 'neuron'],
};

export type Direction = 'denoising' | 'noising';

export type MetricName = 'logit_diff' | 'logprob' | 'prob' | 'logit' | 'basket' | 'mean_logprob';

/** One (clean, corrupted) prompt pair with its answer tokens, as the user typed them (text, not ids). */
export interface PromptPair {
  clean: string;
  corrupted: string;
  /** Text of the single answer token, e.g. " Mary". */
  answer: string;
  /** Text of the single wrong-answer token, e.g. " John" (used by logit_diff). */
  wrong: string;
}

export interface MetricSpec {
  name: MetricName;
  /** Token texts for the `basket` metric: answer vs logsumexp of these. */
  basket?: string[];
  /** Positions for `mean_logprob` (indices into the prompt; the target at p is the token at p + 1). */
  positions?: number[];
}

export interface AttributionOptions {
  /** No gradient through ln*.hook_scale (LayerNorm scales treated as constants). */
  freezeLayerNorm: boolean;
  /** No gradient through attn.hook_pattern (attention patterns treated as constants). */
  freezeAttention: boolean;
}

/** What the user asks for; the engine resolves texts to tokens and validates. */
export interface ExperimentSpec {
  pairs: PromptPair[];
  metric: MetricSpec;
  direction: Direction;
  options: AttributionOptions;
  /** Prepend <|endoftext|> as BOS, as TransformerLens does (default true). */
  prependBos: boolean;
}
