// Result types shared by the patching engine, the CLI, the worker and the views.

export type { AxisName, Labelled } from './labelled';
export type { Family } from './families';

export type Direction = 'denoising' | 'noising';

export type MetricName =
  | 'logit_diff' | 'logprob' | 'prob' | 'logit' | 'basket' | 'mean_logprob' | 'kl'
  // Metrics on internal activations (metric-spec.ts): they read a hook inside the model, not the logits.
  | 'attn' | 'prefix' | 'neuron' | 'dla';

/**
 * Where an internal metric reads (metric-spec.ts): attn uses layer, head, query, key; prefix and dla layer, head;
 * neuron layer, pos, neuron.
 */
export interface MetricSite {
  layer: number;
  head?: number;
  query?: number;
  key?: number;
  pos?: number;
  neuron?: number;
}

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
  /** The internal metrics' location (attn, prefix, neuron, dla). */
  site?: MetricSite;
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
