import { describe, expect, it } from 'vitest';
import { GPT2ConfigError, parseGPT2Config } from './config';

// config.json of openai-community/gpt2 on the Hugging Face hub, verbatim.
const GPT2_CONFIG_JSON = `{
  "activation_function": "gelu_new",
  "architectures": [
    "GPT2LMHeadModel"
  ],
  "attn_pdrop": 0.1,
  "bos_token_id": 50256,
  "embd_pdrop": 0.1,
  "eos_token_id": 50256,
  "initializer_range": 0.02,
  "layer_norm_epsilon": 1e-05,
  "model_type": "gpt2",
  "n_ctx": 1024,
  "n_embd": 768,
  "n_head": 12,
  "n_layer": 12,
  "n_positions": 1024,
  "resid_pdrop": 0.1,
  "summary_activation": null,
  "summary_first_dropout": 0.1,
  "summary_proj_to_labels": true,
  "summary_type": "cls_index",
  "summary_use_proj": true,
  "task_specific_params": {
    "text-generation": {
      "do_sample": true,
      "max_length": 50
    }
  },
  "vocab_size": 50257
}`;

// config.json of distilbert/distilgpt2.
const DISTILGPT2_CONFIG_JSON = `{
  "_num_labels": 1,
  "activation_function": "gelu_new",
  "architectures": [
    "GPT2LMHeadModel"
  ],
  "attn_pdrop": 0.1,
  "bos_token_id": 50256,
  "embd_pdrop": 0.1,
  "eos_token_id": 50256,
  "id2label": {
    "0": "LABEL_0"
  },
  "initializer_range": 0.02,
  "label2id": {
    "LABEL_0": 0
  },
  "layer_norm_epsilon": 1e-05,
  "model_type": "gpt2",
  "n_ctx": 1024,
  "n_embd": 768,
  "n_head": 12,
  "n_layer": 6,
  "n_positions": 1024,
  "resid_pdrop": 0.1,
  "summary_activation": null,
  "summary_first_dropout": 0.1,
  "summary_proj_to_labels": true,
  "summary_type": "cls_index",
  "summary_use_proj": true,
  "task_specific_params": {
    "text-generation": {
      "do_sample": true,
      "max_length": 50
    }
  },
  "vocab_size": 50257
}`;

// gpt2-medium's config.json; large and xl differ only in the sizes.
const GPT2_MEDIUM = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 1024,
  n_head: 16,
  n_layer: 24,
  n_positions: 1024,
  n_special: 0,
  predict_special_tokens: true,
  resid_pdrop: 0.1,
  summary_activation: null,
  summary_first_dropout: 0.1,
  summary_proj_to_labels: true,
  summary_type: 'cls_index',
  summary_use_proj: true,
  task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } },
  vocab_size: 50257,
};

const expectConfigError = (json: unknown, message: string) => {
  expect(() => parseGPT2Config(json, 'm')).toThrow(new GPT2ConfigError(message));
};

describe('parseGPT2Config', () => {
  it('reads gpt2', () => {
    expect(parseGPT2Config(JSON.parse(GPT2_CONFIG_JSON), 'gpt2')).toEqual({
      name: 'gpt2',
      nLayers: 12,
      nHeads: 12,
      dModel: 768,
      dHead: 64,
      dMlp: 3072,
      nCtx: 1024,
      dVocab: 50257,
      layerNormEps: 1e-5,
      activation: 'gelu_new',
    });
  });

  it('reads distilgpt2 (a gpt2 with 6 layers)', () => {
    const cfg = parseGPT2Config(JSON.parse(DISTILGPT2_CONFIG_JSON), 'distilgpt2');
    expect(cfg).toMatchObject({ nLayers: 6, nHeads: 12, dModel: 768, dHead: 64, dMlp: 3072, nCtx: 1024 });
  });

  it.each([
    ['gpt2-medium', {}, [24, 16, 1024, 64]],
    ['gpt2-large', { n_layer: 36, n_head: 20, n_embd: 1280 }, [36, 20, 1280, 64]],
    ['gpt2-xl', { n_layer: 48, n_head: 25, n_embd: 1600 }, [48, 25, 1600, 64]],
  ])('reads %s', (name, sizes, [nLayers, nHeads, dModel, dHead]) => {
    const cfg = parseGPT2Config({ ...GPT2_MEDIUM, ...sizes }, name);
    expect(cfg).toMatchObject({ name, nLayers, nHeads, dModel, dHead, dMlp: 4 * dModel, dVocab: 50257 });
  });

  it('uses n_inner when set, 4 * n_embd when null or absent', () => {
    expect(parseGPT2Config({ ...GPT2_MEDIUM, n_inner: 100 }, 'm').dMlp).toBe(100);
    expect(parseGPT2Config({ ...GPT2_MEDIUM, n_inner: null }, 'm').dMlp).toBe(4096);
  });

  it('falls back to n_ctx for old configs, and to defaults for epsilon and activation', () => {
    const { n_positions: _, layer_norm_epsilon: __, activation_function: ___, ...old } = GPT2_MEDIUM;
    expect(parseGPT2Config({ ...old, n_ctx: 512 }, 'm')).toMatchObject({ nCtx: 512, layerNormEps: 1e-5 });
  });

  it('accepts a config without model_type when architectures says GPT2LMHeadModel', () => {
    const { model_type: _, ...noType } = GPT2_MEDIUM;
    expect(parseGPT2Config(noType, 'm').nLayers).toBe(24);
  });

  it('rejects models that are not GPT-2, naming what it found', () => {
    expectConfigError(
      { model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_size: 4096 },
      'm is not a GPT-2 model: its config.json has model_type "llama" and architectures [LlamaForCausalLM]; ' +
        'Patchwork runs the GPT-2 family (model_type "gpt2", e.g. gpt2, distilgpt2, gpt2-medium)',
    );
    const { model_type: _, architectures: __, ...bare } = GPT2_MEDIUM;
    expectConfigError(
      bare,
      'm is not a GPT-2 model: its config.json has no model_type and no architectures; ' +
        'Patchwork runs the GPT-2 family (model_type "gpt2", e.g. gpt2, distilgpt2, gpt2-medium)',
    );
    expectConfigError([1], 'config.json of m is not a JSON object');
  });

  it('rejects n_embd not divisible by n_head', () => {
    expectConfigError(
      { ...GPT2_MEDIUM, n_head: 7 },
      'config.json of m: n_embd 1024 is not divisible by n_head 7, so heads cannot split it',
    );
  });

  it('rejects missing or non-integer sizes', () => {
    const { n_layer: _, ...noLayers } = GPT2_MEDIUM;
    expectConfigError(noLayers, 'config.json of m: n_layer must be a positive integer; it is missing');
    expectConfigError({ ...GPT2_MEDIUM, n_embd: '768' }, 'config.json of m: n_embd must be a positive integer; got "768"');
    expectConfigError({ ...GPT2_MEDIUM, n_inner: 0 }, 'config.json of m: n_inner must be a positive integer; got 0');
    expectConfigError(
      { ...GPT2_MEDIUM, layer_norm_epsilon: -1 },
      'config.json of m: layer_norm_epsilon must be a positive number, got -1',
    );
  });

  it('rejects GPT-2 variants whose computation differs', () => {
    expectConfigError(
      { ...GPT2_MEDIUM, activation_function: 'relu' },
      'config.json of m: activation_function "relu" is not supported; Patchwork implements GPT-2\'s "gelu_new" (tanh approximation)',
    );
    expectConfigError(
      { ...GPT2_MEDIUM, scale_attn_by_inverse_layer_idx: true },
      'config.json of m: scale_attn_by_inverse_layer_idx true is not supported',
    );
    expectConfigError({ ...GPT2_MEDIUM, scale_attn_weights: false }, 'config.json of m: scale_attn_weights false is not supported');
    // The defaults, as newer transformers versions write them, are fine.
    const modern = { ...GPT2_MEDIUM, scale_attn_weights: true, scale_attn_by_inverse_layer_idx: false, reorder_and_upcast_attn: false };
    expect(parseGPT2Config(modern, 'm').nLayers).toBe(24);
  });
});
