// Write a deterministic random GPT-2 checkpoint as a Hugging Face layout folder (config.json + model.safetensors).
//   npx tsx scripts/make-checkpoint.ts --out DIR [--preset gpt2-small|tiny]
//     [--layers N --heads N --d-model N --d-mlp N --n-ctx N --vocab N] [--seed N] [--dtype F32|F16|BF16]

import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CHECKPOINT_PRESETS, hfConfigJson } from '../src/engine/model/checkpoint';
import { parseGPT2Config } from '../src/engine/model/config';
import type { FloatDtype } from '../src/engine/model/safetensors';
import type { GPT2Config } from '../src/engine/model/types';
import { writeRandomCheckpoint } from '../src/engine/model/weights-node';

const USAGE = `usage: npx tsx scripts/make-checkpoint.ts --out DIR [--preset ${Object.keys(CHECKPOINT_PRESETS).join('|')}]
  [--layers N] [--heads N] [--d-model N] [--d-mlp N] [--n-ctx N] [--vocab N] [--seed N] [--dtype F32|F16|BF16]
--d-mlp defaults to 4 * d-model when --d-model is given; other sizes default to the preset (gpt2-small).`;

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      preset: { type: 'string', default: 'gpt2-small' },
      layers: { type: 'string' },
      heads: { type: 'string' },
      'd-model': { type: 'string' },
      'd-mlp': { type: 'string' },
      'n-ctx': { type: 'string' },
      vocab: { type: 'string' },
      seed: { type: 'string', default: '0' },
      dtype: { type: 'string', default: 'F32' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.out) throw new UsageError('--out DIR is required');
  const preset = CHECKPOINT_PRESETS[values.preset as keyof typeof CHECKPOINT_PRESETS];
  if (!preset) throw new UsageError(`unknown preset ${values.preset}`);
  const dtype = values.dtype.toUpperCase();
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') throw new UsageError(`unknown dtype ${values.dtype}`);

  const dModel = int(values['d-model'], '--d-model') ?? preset.dModel;
  const sized: GPT2Config = {
    ...preset,
    nLayers: int(values.layers, '--layers') ?? preset.nLayers,
    nHeads: int(values.heads, '--heads') ?? preset.nHeads,
    dModel,
    dMlp: int(values['d-mlp'], '--d-mlp') ?? (values['d-model'] ? 4 * dModel : preset.dMlp),
    nCtx: int(values['n-ctx'], '--n-ctx') ?? preset.nCtx,
    dVocab: int(values.vocab, '--vocab') ?? preset.dVocab,
  };
  const out = resolve(values.out);
  // Round-trip through the config parser: it derives dHead and rejects sizes a loader would reject.
  const cfg = parseGPT2Config(hfConfigJson(sized), basename(out));
  const seed = int(values.seed, '--seed') ?? 0;
  return run(out, cfg, seed, dtype);
}

async function run(out: string, cfg: GPT2Config, seed: number, dtype: FloatDtype): Promise<void> {
  const start = performance.now();
  const { bytes } = await writeRandomCheckpoint(out, cfg, seed, dtype);
  const seconds = ((performance.now() - start) / 1000).toFixed(1);
  console.log(
    `wrote ${out} (${(bytes / 1e6).toFixed(1)} MB ${dtype}, ${cfg.nLayers} layers, ${cfg.nHeads} heads, ` +
      `d_model ${cfg.dModel}, d_mlp ${cfg.dMlp}, n_ctx ${cfg.nCtx}, vocab ${cfg.dVocab}, seed ${seed}) in ${seconds} s`,
  );
}

class UsageError extends Error {}

function int(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${flag} must be a non-negative integer, got ${value}`);
  return n;
}

main(process.argv.slice(2)).catch((e: Error) => {
  console.error(`make-checkpoint: ${e.message}`);
  if (e instanceof UsageError || e.name === 'TypeError') console.error(USAGE);
  process.exitCode = 1;
});
