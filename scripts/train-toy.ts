// Train a toy model (docs/models/toy-induction.md, docs/models/toy-ioi.md) and write it in the Hugging Face GPT-2
// layout:
//   npx tsx scripts/train-toy.ts [--task induction|ioi] [--out DIR] [--steps N] [--batch N] [--lr X] ...
// Gradients come from the engine's autodiff on onnxruntime-node; Adam runs in TypeScript. Same flags, same thread
// count -> same weights. Training runs on the compact vocabulary (src/engine/train/vocab.ts); the written checkpoint
// has the full GPT-2 vocabulary, its untrained rows sealed to one logit far below every trained one.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { hfConfigJson, mulberry32 } from '../src/engine/model/checkpoint';
import { encodeSafetensors, roundToDtype, type FloatDtype, type TensorToWrite } from '../src/engine/model/safetensors';
import { BOS_TOKEN, encode } from '../src/engine/model/tokenizer';
import type { GPT2Config, Weights } from '../src/engine/model/types';
import { loadModelFromDir } from '../src/engine/model/weights-node';
import { createNodeRuntime } from '../src/engine/runtime/node';
import type { Runtime } from '../src/engine/runtime/types';
import { asciiPlot, windowMeans } from '../src/engine/train/curve';
import { repeatedSequences, toyVocabSubset, type RepeatSpec } from '../src/engine/train/data';
import { bestHead, checkSeal, evaluateInduction, evaluateIoi, minLogSumExp } from '../src/engine/train/eval';
import { ioiBatches, ioiMaxLength, ioiSentences, ioiVocabSubset } from '../src/engine/train/ioi-data';
import { IOI_CONFIG, IOI_EVAL_SEED, IOI_MODEL_DIR, TOY_CONFIG, TOY_EVAL, TOY_MODEL_DIR } from '../src/engine/train/toy';
import { train, type BatchSource } from '../src/engine/train/train';
import { compactConfig, sealUntrainedRows, trainedIds } from '../src/engine/train/vocab';

type Values = Record<string, string | undefined>;

/** What differs between the toy models: shape, data, defaults, and what to measure after training. */
interface Task {
  cfg: GPT2Config;
  out: string;
  subset: number[];
  defaults: { steps: number; batch: number; lr: number; initSeed: number };
  describe(batch: number): string;
  data(batch: number, v: Values): RepeatSpec | BatchSource;
  /** Held-out sequences whose lowest log-sum-exp places the sealed logit. */
  probe(): number[][];
  report(rt: Runtime, cfg: GPT2Config, weights: Weights): Promise<void>;
}

const fmt = (xs: number[]) => xs.map((x) => x.toFixed(3)).join(' ');

const TASKS: Record<string, () => Task> = {
  induction: () => {
    const subset = toyVocabSubset();
    return {
      cfg: TOY_CONFIG,
      out: TOY_MODEL_DIR,
      subset,
      defaults: { steps: 8000, batch: 32, lr: 1e-3, initSeed: 1 },
      describe: (batch) => `${batch} sequences BOS + A + A (L 8..31) over ${subset.length} words`,
      data: (batch, v) => {
        const spec = { batch, minHalf: Number(v['min-half'] ?? 8), maxHalf: Number(v['max-half'] ?? 31), maxPrefix: Number(v['max-prefix'] ?? 0) };
        if (!(spec.minHalf >= 1 && spec.maxHalf >= spec.minHalf && spec.maxPrefix >= 0)) throw new Error('--min-half, --max-half, --max-prefix: need 1 <= min <= max and prefix >= 0');
        return spec;
      },
      probe: () => {
        const next = repeatedSequences(subset, 4242);
        const seqs = Array.from({ length: 31 }, (_, i) => next(i + 1).tokens);
        const rng = mulberry32(4243);
        seqs.push(...Array.from({ length: 8 }, () => [BOS_TOKEN, ...Array.from({ length: TOY_CONFIG.nCtx - 1 }, () => subset[Math.floor(rng() * subset.length)])]));
        return seqs;
      },
      report: async (rt, cfg, weights) => {
        const e = await evaluateInduction(rt, cfg, weights, subset, TOY_EVAL);
        const prev = bestHead(e.prevToken, 0);
        const ind = bestHead(e.prefixMatching, 1);
        console.log(
          `held-out: first-half loss ${e.firstHalfLoss.toFixed(3)} (ln ${subset.length} = ${e.uniformLoss.toFixed(3)}), ` +
            `second-half loss ${e.secondHalfLoss.toFixed(3)} (${e.inductionLoss.toFixed(3)} without its first token)`,
        );
        console.log(`previous-token head ${prev.head}: ${prev.score.toFixed(3)}; induction head ${ind.head}: ${ind.score.toFixed(3)}`);
        for (let l = 0; l < cfg.nLayers; l++) console.log(`  layer ${l} prev-token ${fmt(e.prevToken[l])} | prefix-matching ${fmt(e.prefixMatching[l])}`);
      },
    };
  },
  ioi: () => {
    const subset = ioiVocabSubset();
    const pos = ioiMaxLength();
    return {
      cfg: IOI_CONFIG,
      out: IOI_MODEL_DIR,
      subset,
      defaults: { steps: 4000, batch: 64, lr: 1e-3, initSeed: 1 },
      describe: (batch) => `${batch} templated IOI sentences over ${subset.length} tokens`,
      data: (batch) => ({ pos, stream: (seed) => ioiBatches(batch, pos, seed) }),
      probe: () => {
        const next = ioiSentences(4242);
        return Array.from({ length: 64 }, () => next().tokens);
      },
      report: async (rt, cfg, weights) => {
        const next = ioiSentences(IOI_EVAL_SEED);
        const held = Array.from({ length: 200 }, () => {
          const s = next();
          return { tokens: s.tokens, sToken: encode(s.s)[0] };
        });
        const e = await evaluateIoi(rt, cfg, weights, held);
        console.log(`held-out (200 sentences): logit(IO) - logit(S) ${e.logitDiff.toFixed(3)}, IO above S in ${(100 * e.accuracy).toFixed(1)}%, mean p(IO) ${e.ioProb.toFixed(3)}`);
      },
    };
  },
};

async function main(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      task: { type: 'string', default: 'induction' },
      out: { type: 'string' },
      steps: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      warmup: { type: 'string', default: '100' },
      'min-lr-ratio': { type: 'string', default: '0.05' },
      'weight-decay': { type: 'string', default: '0' },
      'min-half': { type: 'string' },
      'max-half': { type: 'string' },
      'max-prefix': { type: 'string' },
      'init-seed': { type: 'string' },
      'embed-std': { type: 'string', default: '0.02' },
      'data-seed': { type: 'string', default: '1' },
      'seal-margin': { type: 'string', default: '30' },
      threads: { type: 'string', default: '1' },
      dtype: { type: 'string', default: 'F16' },
    },
  });
  const makeTask = TASKS[String(v.task)];
  if (!makeTask) throw new Error(`--task must be one of ${Object.keys(TASKS).join(', ')}, got ${v.task}`);
  const task = makeTask();
  const num = (k: keyof typeof v, fallback?: number) => {
    const x = v[k] === undefined ? fallback : Number(v[k]);
    if (x === undefined || !Number.isFinite(x)) throw new Error(`--${k} must be a number, got ${v[k]}`);
    return x;
  };
  const dtype = String(v.dtype).toUpperCase() as FloatDtype;
  if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new Error(`--dtype must be F32, F16 or BF16`);
  const steps = num('steps', task.defaults.steps);
  const batch = num('batch', task.defaults.batch);
  const cfg = task.cfg;
  const subset = task.subset;
  const threads = num('threads');
  const rt = createNodeRuntime({ threads });
  console.log(
    `toy model (${v.task}): ${cfg.nLayers} layers, d_model ${cfg.dModel}, ${cfg.nHeads} heads, d_mlp ${cfg.dMlp}, ` +
      `n_ctx ${cfg.nCtx}; ${steps} steps of ${task.describe(batch)}; ${threads} threads`,
  );
  const data = task.data(batch, v);

  const bar = new cliProgress.SingleBar(
    { format: 'training [{bar}] {value}/{total} | loss {loss} | lr {lr} | {duration_formatted} | ETA {eta_formatted}', etaBuffer: 50, noTTYOutput: true, notTTYSchedule: 10_000 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(steps, 0, { loss: '-', lr: '-' });
  const started = performance.now();
  const { weights, compact, losses } = await train(
    rt,
    {
      cfg,
      subset,
      data,
      steps,
      schedule: { peak: num('lr', task.defaults.lr), warmup: num('warmup'), minRatio: num('min-lr-ratio') },
      adam: { weightDecay: num('weight-decay') },
      initSeed: num('init-seed', task.defaults.initSeed),
      embedStd: num('embed-std'),
      dataSeed: num('data-seed'),
    },
    ({ step, loss, lr }) => bar.update(step + 1, { loss: loss.toFixed(3), lr: lr.toExponential(2) }),
  );
  bar.stop();
  const seconds = (performance.now() - started) / 1000;

  const windows = windowMeans(losses, 10);
  console.log(`\n${steps} steps in ${seconds.toFixed(0)} s; loss ${losses[0].toFixed(3)} -> ${windows[9].toFixed(3)} (mean of the last 10%)`);
  console.log(asciiPlot(losses).join('\n'));
  console.log(`window means (10% each): ${windows.map((x) => x.toFixed(3)).join(' ')}`);

  // Seal the untrained rows: one logit, `seal-margin` nats below the smallest log-sum-exp of the trained logits seen
  // on held-out sequences, so together they hold a negligible share of probability.
  // The seal is computed on the weights as the file will store them (ln_f's γ and β rounded to the dtype); the rows
  // themselves round too, which the check on the written file below measures.
  const ids = trainedIds(subset);
  const rows = new Map(ids.map((id, i) => [id, i]));
  const probeSeqs = task.probe();
  const probe = probeSeqs.map((s) => s.map((t) => rows.get(t)!));
  const lowest = await minLogSumExp(rt, compactConfig(cfg, ids), compact, probe);
  const sealed = Math.floor(lowest - num('seal-margin'));
  roundTo(weights, dtype);
  const alpha = sealUntrainedRows(weights, ids, sealed);
  const largest = Math.max(...Array.from(weights.get('ln_f.weight')!.data, (g) => Math.abs(alpha / g)));
  if (dtype !== 'F32' && largest > 60000) throw new Error(`the sealed rows reach ${largest.toFixed(0)}, beyond ${dtype}: use --dtype F32`);
  console.log(`untrained rows sealed at logit ${sealed} (lowest trained log-sum-exp seen ${lowest.toFixed(2)}; row = ${alpha.toPrecision(4)} / ln_f.weight)`);

  const out = v.out ?? task.out;
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
  await writeFile(join(out, 'config.json'), JSON.stringify(hfConfigJson(cfg), null, 2) + '\n');
  await writeFile(join(out, 'model.safetensors'), encodeSafetensors(toWrite(weights, dtype), metadata));
  await writeFile(join(out, 'vocab_subset.json'), JSON.stringify(subset) + '\n');
  const curve = losses.map((loss, step) => ({ step, loss: Number(loss.toFixed(5)) }));
  await writeFile(join(out, 'loss-curve.json'), '[\n' + curve.map((p) => JSON.stringify(p)).join(',\n') + '\n]\n');
  console.log(`wrote ${out}/{config.json, model.safetensors (${dtype}), vocab_subset.json, loss-curve.json}`);

  // Measure what was written (after rounding to the file's dtype), on held-out data.
  const saved = await loadModelFromDir(out, cfg.name);
  const trainedSet = new Set(ids);
  let untrainedId = 0;
  while (trainedSet.has(untrainedId)) untrainedId++;
  const seal = await checkSeal(rt, saved.config, saved.weights, probeSeqs.slice(0, 8), untrainedId, cfg.dVocab - ids.length);
  console.log(`written file: untrained logit ${seal.minLogit.toFixed(2)} .. ${seal.maxLogit.toFixed(2)} on held-out sequences; their total probability at most ${seal.maxMass.toExponential(2)}`);
  if (seal.maxMass > 1e-6) throw new Error(`untrained tokens take ${seal.maxMass.toExponential(2)} of the probability: raise --seal-margin`);
  await task.report(rt, saved.config, saved.weights);
  await rt.dispose();
}

/** Rounds every weight, in place, to the values `dtype` stores. */
function roundTo(weights: Weights, dtype: FloatDtype): void {
  for (const t of weights.values()) t.data.set(roundToDtype(dtype, t.data));
}

function toWrite(weights: Weights, dtype: FloatDtype): Map<string, TensorToWrite> {
  return new Map([...weights].map(([name, t]) => [name, { dtype, shape: t.shape, data: t.data }]));
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
