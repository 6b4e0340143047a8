// GPT-2 family config.json (Hugging Face transformers' GPT2Config) -> GPT2Config.

import type { GPT2Config } from './types';

export class GPT2ConfigError extends Error {
  override readonly name = 'GPT2ConfigError';
}

export function parseGPT2Config(json: unknown, name: string): GPT2Config {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new GPT2ConfigError(`config.json of ${name} is not a JSON object`);
  }
  const c = json as Record<string, unknown>;
  checkIsGPT2(c, name);

  const nLayers = positiveInteger(c, 'n_layer', name);
  const nHeads = positiveInteger(c, 'n_head', name);
  const dModel = positiveInteger(c, 'n_embd', name);
  // Old configs (2019) name the context length n_ctx; n_positions is the field the model actually uses.
  const nCtx = positiveInteger(c, c.n_positions !== undefined ? 'n_positions' : 'n_ctx', name);
  const dVocab = positiveInteger(c, 'vocab_size', name);
  const dMlp = c.n_inner === undefined || c.n_inner === null ? 4 * dModel : positiveInteger(c, 'n_inner', name);
  const layerNormEps = c.layer_norm_epsilon === undefined ? 1e-5 : c.layer_norm_epsilon;
  if (typeof layerNormEps !== 'number' || !(layerNormEps > 0)) {
    throw new GPT2ConfigError(
      `config.json of ${name}: layer_norm_epsilon must be a positive number, got ${JSON.stringify(layerNormEps)}`,
    );
  }
  if (dModel % nHeads !== 0) {
    throw new GPT2ConfigError(
      `config.json of ${name}: n_embd ${dModel} is not divisible by n_head ${nHeads}, so heads cannot split it`,
    );
  }
  return { name, nLayers, nHeads, dModel, dHead: dModel / nHeads, dMlp, nCtx, dVocab, layerNormEps, activation: 'gelu_new' };
}

function checkIsGPT2(c: Record<string, unknown>, name: string): void {
  const architectures = Array.isArray(c.architectures) ? c.architectures.map(String) : [];
  const isGPT2 = c.model_type === undefined ? architectures.includes('GPT2LMHeadModel') : c.model_type === 'gpt2';
  if (!isGPT2) {
    const found = [
      c.model_type === undefined ? 'no model_type' : `model_type ${JSON.stringify(c.model_type)}`,
      architectures.length ? `architectures [${architectures.join(', ')}]` : 'no architectures',
    ].join(' and ');
    throw new GPT2ConfigError(
      `${name} is not a GPT-2 model: its config.json has ${found}; Patchwork runs the GPT-2 family ` +
        `(model_type "gpt2", e.g. gpt2, distilgpt2, gpt2-medium)`,
    );
  }
  const activation = c.activation_function ?? 'gelu_new';
  if (activation !== 'gelu_new') {
    throw new GPT2ConfigError(
      `config.json of ${name}: activation_function ${JSON.stringify(activation)} is not supported; ` +
        `Patchwork implements GPT-2's "gelu_new" (tanh approximation)`,
    );
  }
  // These GPT2Config options change the attention computation itself (e.g. Stanford CRFM's Mistral checkpoints
  // scale by the inverse layer index), so running such a model as plain GPT-2 would silently give wrong numbers.
  if (c.scale_attn_weights === false) {
    throw new GPT2ConfigError(`config.json of ${name}: scale_attn_weights false is not supported`);
  }
  if (c.scale_attn_by_inverse_layer_idx === true) {
    throw new GPT2ConfigError(`config.json of ${name}: scale_attn_by_inverse_layer_idx true is not supported`);
  }
}

function positiveInteger(c: Record<string, unknown>, field: string, name: string): number {
  const v = c[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    const got = v === undefined ? 'it is missing' : `got ${JSON.stringify(v)}`;
    throw new GPT2ConfigError(`config.json of ${name}: ${field} must be a positive integer; ${got}`);
  }
  return v;
}

/** The GPT-2 sizes on the hub by repo (their config.json's n_layer, n_head, n_embd; all: vocab 50257, context 1024). */
const HUB_SIZES: Record<string, [nLayers: number, nHeads: number, dModel: number]> = {
  'openai-community/gpt2': [12, 12, 768],
  'distilbert/distilgpt2': [6, 12, 768],
  'openai-community/gpt2-medium': [24, 16, 1024],
  'openai-community/gpt2-large': [36, 20, 1280],
  'openai-community/gpt2-xl': [48, 25, 1600],
};

/**
 * The config of a known hub model, before anything is downloaded: the memory check (memory.ts) and the picker's
 * sizes use it, so that a model too big for this machine is refused without downloading gigabytes first.
 */
export function knownHubConfig(repo: string, name: string): GPT2Config | undefined {
  const size = HUB_SIZES[repo];
  if (!size) return undefined;
  const [nLayers, nHeads, dModel] = size;
  return { name, nLayers, nHeads, dModel, dHead: dModel / nHeads, dMlp: 4 * dModel, nCtx: 1024, dVocab: 50257, layerNormEps: 1e-5, activation: 'gelu_new' };
}
