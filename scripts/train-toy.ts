// Train the toy induction model (docs/models/toy-induction.md) and write it in the Hugging Face GPT-2 layout:
//   npx tsx scripts/train-toy.ts [--out public/models/toy-induction] [--steps N] [--batch N] [--lr X] ...
// Gradients come from the engine's autodiff on onnxruntime-node; Adam runs in TypeScript. Same flags, same thread
// count -> same weights. Training runs on the compact vocabulary (src/engine/train/vocab.ts); the written checkpoint
// has the full GPT-2 vocabulary, its untrained rows sealed to one logit far below every trained one.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { hfConfigJson } from '../src/engine/model/checkpoint';
import { encodeSafetensors, type FloatDtype, type TensorToWrite } from '../src/engine/model/safetensors';
import type { Weights } from '../src/engine/model/types';
import { loadModelFromDir } from '../src/engine/model/weights-node';
import { createNodeRuntime } from '../src/engine/runtime/node';
import { asciiPlot, windowMeans } from '../src/engine/train/curve';
import { mulberry32 } from '../src/engine/model/checkpoint';
import { BOS_TOKEN } from '../src/engine/model/tokenizer';
import { repeatedSequences, toyVocabSubset } from '../src/engine/train/data';
import { bestHead, evaluateInduction, minLogSumExp } from '../src/engine/train/eval';
import { TOY_CONFIG, TOY_EVAL, TOY_MODEL_DIR } from '../src/engine/train/toy';
import { train } from '../src/engine/train/train';
import { compactConfig, sealUntrainedRows, trainedIds } from '../src/engine/train/vocab';

async function main(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string', default: TOY_MODEL_DIR },
      steps: { type: 'string', default: '8000' },
      batch: { type: 'string', default: '32' },
      lr: { type: 'string', default: '1e-3' },
      warmup: { type: 'string', default: '100' },
      'min-lr-ratio': { type: 'string', default: '0.05' },
      'weight-decay': { type: 'string', default: '0' },
      'min-half': { type: 'string', default: '8' },
      'max-half': { type: 'string', default: '31' },
      'max-prefix': { type: 'string', default: '0' },
      'init-seed': { type: 'string', default: '1' },
      'embed-std': { type: 'string', default: '0.02' },
      'data-seed': { type: 'string', default: '1' },
      'seal-margin': { type: 'string', default: '30' },
      threads: { type: 'string', default: '1' },
      dtype: { type: 'string', default: 'F16' },
    },
  });
  const num = (k: keyof typeof v) => {
    const x = Number(v[k]);
    if (!Number.isFinite(x)) throw new Error(`--${k} must be a number, got ${v[k]}`);
    return x;
  };
  const dtype = String(v.dtype).toUpperCase() as FloatDtype;
  if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new Error(`--dtype must be F32, F16 or BF16`);
  const steps = num('steps');
  const data = { batch: num('batch'), minHalf: num('min-half'), maxHalf: num('max-half'), maxPrefix: num('max-prefix') };
  const subset = toyVocabSubset();
  const threads = num('threads');
  const rt = createNodeRuntime({ threads });
  console.log(
    `toy induction model: ${TOY_CONFIG.nLayers} layers, d_model ${TOY_CONFIG.dModel}, ${TOY_CONFIG.nHeads} heads, ` +
      `d_mlp ${TOY_CONFIG.dMlp}, n_ctx ${TOY_CONFIG.nCtx}; ${subset.length} training tokens; ${steps} steps of ` +
      `${data.batch} sequences (L ${data.minHalf}..${data.maxHalf}, prefix 0..${data.maxPrefix}); ${threads} threads`,
  );

  const bar = new cliProgress.SingleBar(
    { format: 'training [{bar}] {value}/{total} | loss {loss} | lr {lr} | {duration_formatted} | ETA {eta_formatted}', etaBuffer: 50, noTTYOutput: true, notTTYSchedule: 10_000 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(steps, 0, { loss: '-', lr: '-' });
  const started = performance.now();
  const recent: string[] = [];
  const adam = { weightDecay: num('weight-decay') };
  const { weights, compact, losses } = await train(
    rt,
    {
      cfg: TOY_CONFIG,
      subset,
      data,
      steps,
      schedule: { peak: num('lr'), warmup: num('warmup'), minRatio: num('min-lr-ratio') },
      adam,
      initSeed: num('init-seed'),
      embedStd: num('embed-std'),
      dataSeed: num('data-seed'),
    },
    ({ step, loss, lr }) => {
      bar.update(step + 1, { loss: loss.toFixed(3), lr: lr.toExponential(2) });
      if ((step + 1) % 500 === 0) recent.push(`${step + 1}:${loss.toFixed(3)}`);
    },
  );
  bar.stop();
  const seconds = (performance.now() - started) / 1000;

  const windows = windowMeans(losses, 10);
  console.log(`\n${steps} steps in ${seconds.toFixed(0)} s; loss ${losses[0].toFixed(3)} -> ${windows[9].toFixed(3)} (mean of the last 10%)`);
  console.log(asciiPlot(losses).join('\n'));
  console.log(`window means (10% each): ${windows.map((x) => x.toFixed(3)).join(' ')}`);

  // Seal the untrained rows: one logit, `seal-margin` nats below the smallest log-sum-exp of the trained logits seen
  // on held-out sequences (repeated, and plain random), so together they hold a negligible share of probability.
  const ids = trainedIds(subset);
  const rows = new Map(ids.map((id, i) => [id, i]));
  const probe = repeatedSequences(subset, 4242);
  const seqs = Array.from({ length: data.maxHalf }, (_, i) => probe(i + 1, i % 2 ? 0 : data.maxPrefix).tokens);
  const rng = mulberry32(4243);
  seqs.push(...Array.from({ length: 8 }, () => [BOS_TOKEN, ...Array.from({ length: TOY_CONFIG.nCtx - 1 }, () => subset[Math.floor(rng() * subset.length)])]));
  const lowest = await minLogSumExp(rt, compactConfig(TOY_CONFIG, ids), compact, seqs.map((s) => s.map((t) => rows.get(t)!)), rows.get(BOS_TOKEN)!);
  const sealed = Math.floor(lowest - num('seal-margin'));
  const alpha = sealUntrainedRows(weights, ids, sealed);
  console.log(`untrained rows sealed at logit ${sealed} (lowest trained log-sum-exp seen ${lowest.toFixed(2)}; row = ${alpha.toPrecision(4)} / ln_f.weight)`);

  const out = String(v.out);
  await mkdir(out, { recursive: true });
  const metadata = {
    format: 'pt',
    source: 'patchwork scripts/train-toy.ts',
    argv: argv.join(' '),
    steps: String(steps),
    seconds: seconds.toFixed(0),
    final_loss: windows[9].toFixed(4),
    untrained_logit: String(sealed),
  };
  await writeFile(join(out, 'config.json'), JSON.stringify(hfConfigJson(TOY_CONFIG), null, 2) + '\n');
  await writeFile(join(out, 'model.safetensors'), encodeSafetensors(toWrite(weights, dtype), metadata));
  await writeFile(join(out, 'vocab_subset.json'), JSON.stringify(subset) + '\n');
  const curve = losses.map((loss, step) => ({ step, loss: Number(loss.toFixed(5)) }));
  await writeFile(join(out, 'loss-curve.json'), '[\n' + curve.map((p) => JSON.stringify(p)).join(',\n') + '\n]\n');
  console.log(`wrote ${out}/{config.json, model.safetensors (${dtype}), vocab_subset.json, loss-curve.json}`);

  // Measure what was written (after rounding to the file's dtype), on held-out sequences.
  const saved = await loadModelFromDir(out, TOY_CONFIG.name);
  const e = await evaluateInduction(rt, saved.config, saved.weights, subset, TOY_EVAL);
  const prev = bestHead(e.prevToken, 0);
  const ind = bestHead(e.prefixMatching, 1);
  console.log(
    `held-out: first-half loss ${e.firstHalfLoss.toFixed(3)} (ln ${subset.length} = ${e.uniformLoss.toFixed(3)}), ` +
      `second-half loss ${e.secondHalfLoss.toFixed(3)} (${e.inductionLoss.toFixed(3)} without its first token)`,
  );
  console.log(`previous-token head ${prev.head}: ${prev.score.toFixed(3)}; induction head ${ind.head}: ${ind.score.toFixed(3)}`);
  for (let l = 0; l < TOY_CONFIG.nLayers; l++) {
    console.log(`  layer ${l} prev-token ${fmt(e.prevToken[l])} | prefix-matching ${fmt(e.prefixMatching[l])}`);
  }
  await rt.dispose();
}

const fmt = (xs: number[]) => xs.map((x) => x.toFixed(3)).join(' ');

function toWrite(weights: Weights, dtype: FloatDtype): Map<string, TensorToWrite> {
  return new Map([...weights].map(([name, t]) => [name, { dtype, shape: t.shape, data: t.data }]));
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
