// `patchwork attribute|patch|edges|path|circuit`: the same engine as the browser, for scripts, CI and regression checks.
// Output JSON keys and layouts are a contract (issue #3); progress and timings go to stderr.
// Exit codes: 0 success, 2 bad input of any kind (usage, prompts, checkpoint, output path), 130 interrupted.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { loadModelFromDir } from '../engine/model/weights-node';
import { boundThreads, createNodeRuntime } from '../engine/runtime/node';
import {
  CONTRACT_FAMILIES, ExperimentError, FAMILIES, familyAxes, joinExperiments, PatchingEngine, named, parseFamilies, resolveWithContinuations, topK,
  METRIC_SYNTAX, formatMetric, parseMetric,
  type AblatedRun, type AblationMode, type Experiment, type PairRecord, type ExperimentSpec, type Family, type Labelled,
} from '../engine/patching';
import { notUpstreamJson, upstreamOnly } from './upstream';
import { ESTIMATORS, METHODS, checkMethod, type Method } from '../engine/patching/estimators';
import { NonFiniteError, checkFinite } from '../engine/patching/finite';
import { corruptCommand } from './corrupt';
import { inspectCommand } from './inspect';
import { patchTogether, patchedCells, registerCircuitCommands } from './circuits';
import { checkOutputPath, writeJson, writeJsonFile } from './json-out';
import { pairsHeader, readPairs, resolveRecords, runPairs, sweepRun } from './pairs';
import { References, ablationAttributionRun, ablationRun } from './ablate';
import { forcedHeader, withPerToken } from './forced';

export interface CommonOpts {
  model: string;
  clean?: string;
  corrupted?: string;
  answer?: string;
  /** A dataset of pairs (JSONL or CSV) instead of --clean/--corrupted/--answer/--wrong. */
  pairs?: string;
  /** Pairs per batch with --pairs. */
  batch?: number;
  wrong?: string;
  json?: string;
  /** As typed: a metric name or an internal metric's location, e.g. attn:1.4:10:9 (parseMetric). */
  metric: string;
  direction: 'denoising' | 'noising';
  bos: boolean;
  freezeLn?: boolean;
  freezeAttn?: boolean;
  basket?: string;
  positions?: number[];
  threads?: number;
}

/** Bad input found by the CLI itself (beyond what commander checks); exits 2 like every input error. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const log = (msg: string) => process.stderr.write(`${msg}\n`);

function spec(o: CommonOpts): ExperimentSpec {
  return {
    pairs: o.pairs ? [] : [{ clean: o.clean!, corrupted: o.corrupted!, answer: o.answer ?? '', wrong: o.wrong ?? '' }],
    metric: { ...parseMetric(o.metric), basket: o.basket?.split('|'), positions: o.positions },
    direction: o.direction,
    options: { freezeLayerNorm: !!o.freezeLn, freezeAttention: !!o.freezeAttn },
    prependBos: o.bos,
  };
}

/** Checks what can be checked without the model (output path first: nothing is computed only to be lost). */
function preflight(o: CommonOpts) {
  if (o.json !== undefined) checkOutputPath(o.json);
  if (o.pairs !== undefined) {
    const both = (['clean', 'corrupted', 'answer', 'wrong'] as const).filter((k) => o[k] !== undefined);
    if (both.length) throw new UsageError(`--pairs gives every pair's prompts and answers: leave out ${both.map((k) => `--${k}`).join(', ')}.`);
    return;
  }
  for (const [k, v] of [['clean', 'text'], ['corrupted', 'text'], ['answer', 'text']] as const)
    if (o[k] === undefined && !(k === 'answer' && ['kl', 'attn', 'prefix', 'neuron'].includes(parseMetric(o.metric).name))) throw new UsageError(`required option '--${k} <${v}>' not specified (or give a dataset with --pairs FILE).`);
  if (o.metric === 'logit_diff' && o.wrong === undefined)
    throw new UsageError('--wrong is required for the logit_diff metric (the default), which measures logit(answer) - logit(wrong answer): give e.g. --wrong " John", or choose another --metric.');
}

/**
 * Loads the model and resolves the prompts. With --pairs, `pairs` holds one experiment per pair (and their file
 * records), and `exp` all of them as one batch (commands without per-pair output average over them), which needs
 * one token length: otherwise a clear message, unless `anyLength` (attribute, patch), where `exp` is then the
 * first pair alone.
 */
export async function setup(o: CommonOpts, anyLength = false): Promise<{ engine: PatchingEngine; exp: Experiment; pairs?: { exps: Experiment[]; records: PairRecord[] } }> {
  preflight(o);
  const records = o.pairs !== undefined ? readPairs(o.pairs) : undefined;
  const t0 = performance.now();
  const { config, weights } = await loadModelFromDir(o.model);
  log(`loaded ${config.name} (${config.nLayers} layers, ${config.nHeads} heads, d_model ${config.dModel}) in ${(performance.now() - t0).toFixed(0)} ms`);
  const { threads, note } = boundThreads(o.threads);
  if (note) log(note);
  const engine = await PatchingEngine.create(createNodeRuntime({ threads }), config, weights);
  try {
    if (records) {
      const exps = resolveRecords(records, spec(o), engine, o.pairs!);
      const pairs = { exps, records };
      const lengths = [...new Set(exps.map((e) => `${e.nPos} tokens${e.spec.metric.name === 'mean_logprob' ? ` (positions ${e.positions.join(',')})` : ''}`))];
      if (lengths.length === 1) return { engine, pairs, exp: joinExperiments(exps) };
      if (anyLength) return { engine, pairs, exp: exps[0] };
      throw new ExperimentError([{ field: 'pairs', message: `This command averages over pairs in one batch, so they need one token length (and metric positions); ${o.pairs} has ${lengths.join(', ')}. attribute and patch take pairs of different lengths.` }]);
    }
    const exp = resolveWithContinuations(spec(o), engine.cfg); // several answer tokens: teacher forcing
    for (const w of exp.warnings ?? []) log(`warning: ${w}`);
    return { engine, exp };
  } catch (e) {
    await engine.dispose();
    throw e;
  }
}

export function header(exp: Experiment, metric: { clean: number; corrupted: number }) {
  if (exp.forced) return forcedHeader(exp, metric); // multi-token answers
  const one = exp.nPairs === 1;
  return {
    tokens: {
      clean: one ? exp.clean[0] : exp.clean,
      corrupted: one ? exp.corrupted[0] : exp.corrupted,
      answer: one ? (exp.answers[0] >= 0 ? exp.answers[0] : null) : exp.answers, // kl: no answer (null)
      wrong: one ? (exp.wrongs[0] >= 0 ? exp.wrongs[0] : null) : exp.wrongs,
    },
    metric: { name: formatMetric(exp.spec.metric), clean: metric.clean, corrupted: metric.corrupted },
    direction: exp.spec.direction,
  };
}

/**
 * Writes the result as JSON to --json or stdout, streamed (result arrays may be Labelled values, written without
 * building nested arrays or one big string); a file appears only once complete.
 */
export function emit(o: CommonOpts, result: object): void {
  if (o.json) {
    writeJsonFile(o.json, result);
    log(`wrote ${o.json}`);
  } else {
    writeJson((chunk) => process.stdout.write(chunk), result); // synchronous for files and pipes on Linux
    process.stdout.write('\n');
  }
}

type AblateCli = { ablate: AblatedRun; reference?: string; seed: number };

/**
 * Zero, mean or resample ablation (ablate.ts), one pair or a dataset: per pair, then the mean (and per_pair, sem
 * with --pairs). `kind` says whether the values are exact or attribution estimates.
 */
async function ablation(o: CommonOpts & AblateCli & { families?: Family[]; targets?: Family[] }, mode: AblationMode, kind: 'activation' | 'attribution') {
  if (o.reference !== undefined) readPairs(o.reference); // a bad reference file fails before the model loads
  const { engine, exp, pairs } = await setup(o, true);
  try {
    const exps = pairs?.exps ?? [exp];
    const families = o.families ?? o.targets ?? CONTRACT_FAMILIES;
    const refs = new References(engine, { ...o, bos: o.bos }, exps);
    const run = kind === 'activation' ? ablationRun(engine, refs, mode, o, families) : ablationAttributionRun(engine, refs, mode as 'zero' | 'mean', o, families);
    const res = await runPairs(`${mode} ablation${kind === 'attribution' ? ' (attribution)' : ''}`, exps, families, run, o.batch);
    const ablated = { clean: res.metric.clean, corrupted: res.metric.corrupted };
    checkFinite(kind === 'activation' ? 'ablation' : 'attribution', undefined, families.map((f) => [f, upstreamOnly(exp, f, res.mean[f]!)]));
    if (!Number.isFinite(ablated[o.ablate])) throw new NonFiniteError(`The ${o.ablate} metric is ${ablated[o.ablate]}: the model's activations overflow float32, or its weights are damaged.`);
    const about = {
      mode, ablated_run: o.ablate,
      reference: { prompts: refs.source, count: refs.count(), ...(mode === 'mean' ? { mean: 'per position' } : {}), ...(mode === 'resample' ? { seed: o.seed } : {}) },
    };
    const head = pairs ? await pairsHeader(pairs.exps, pairs.records, res, engine) : header(exp, ablated);
    const body = pairs ? { [kind]: res.mean, per_pair: res.perPair, sem: res.sem } : { [kind]: res.mean };
    emit(o, { ...head, ...about, ...body, not_upstream: notUpstreamJson(exp, res.mean) });
  } finally {
    await engine.dispose();
  }
}

async function attribute(o: CommonOpts & AblateCli & { families?: Family[]; mode: 'patch' | 'zero' | 'mean'; topK: number; method: Method; steps: number; patched?: string }) {
  checkMethod(o.method, o.steps);
  if (o.method !== 'atp' && o.mode !== 'patch') throw new UsageError(`--method ${o.method} estimates patches: use it without --mode ${o.mode}.`);
  if (o.pairs !== undefined) {
    if (o.method !== 'atp') throw new UsageError(`--pairs gives per-pair values with plain attribution patching (--method atp), not ${o.method}.`);
    if (o.patched !== undefined) throw new UsageError('--patched takes one prompt pair, not --pairs.');
  }
  if (o.mode !== 'patch') {
    if (o.patched !== undefined) throw new UsageError(`--patched attributes patches, not --mode ${o.mode}.`);
    return ablation(o, o.mode, 'attribution');
  }
  const { engine, exp, pairs } = await setup(o, true);
  try {
    const families = o.families ?? CONTRACT_FAMILIES;
    if (pairs) {
      const res = await runPairs('attribution', pairs.exps, families, async (batch) => {
        const r = await engine.attribute(batch, { families, mode: o.mode, perPair: true });
        return { metric: r.pairs!.metric, values: r.pairs!.values };
      }, o.batch);
      checkFinite('attribution', res.metric, families.map((f) => [f, upstreamOnly(exp, f, res.mean[f]!)]));
      const values: Record<string, unknown> = { ...res.mean };
      if (res.mean.mlp_post) values.mlp_post_top = topK(res.mean.mlp_post, o.topK).map((e) => named(familyAxes('mlp_post'), e));
      return emit(o, { ...(await pairsHeader(pairs.exps, pairs.records, res, engine)), method: 'atp', steps: 1, attribution: values, per_pair: res.perPair, sem: res.sem, not_upstream: notUpstreamJson(exp, res.mean) });
    }
    const t0 = performance.now();
    const res = await engine.attribute(exp, { families, mode: o.mode, method: o.method, steps: o.steps, patched: patchedCells(engine, exp, o.patched) });
    log(`attribution (${families.length} families, ${ESTIMATORS[o.method].title}${o.steps > 1 ? `, ${o.steps} steps` : ''}) in ${(performance.now() - t0).toFixed(0)} ms`);
    checkFinite('attribution', res.metric, families.map((f) => [f, upstreamOnly(exp, f, res.values[f]!)]));
    const values: Record<string, unknown> = Object.fromEntries(families.map((f) => [f, res.values[f]!]));
    // MLP neurons are many: also list the strongest by |attribution|.
    if (res.values.mlp_post) values.mlp_post_top = topK(res.values.mlp_post, o.topK).map((e) => named(familyAxes('mlp_post'), e));
    emit(o, { ...(await withPerToken(engine, exp, header(exp, res.metric))), method: res.method, steps: res.steps, attribution: values, not_upstream: notUpstreamJson(exp, res.values) });
  } finally {
    await engine.dispose();
  }
}

/**
 * Progress of a sweep on stderr: bars on a terminal; plain lines (at most one per family every 2 s) when stderr is
 * a file or pipe, where cli-progress printed its raw template ("{family}") and a bogus duration (issue 14, item 9).
 */
function sweepProgress() {
  if (process.stderr.isTTY) {
    const bars = new cliProgress.MultiBar(
      { stream: process.stderr, format: ' {family} [{bar}] {value}/{total} patches | {duration}s', hideCursor: false },
      cliProgress.Presets.shades_classic,
    );
    return {
      start(family: string) {
        const bar = bars.create(1, 0, { family: family.padEnd(16) });
        return { update: (done: number, total: number) => (bar.setTotal(total), bar.update(done)), end: () => {} };
      },
      stop: () => bars.stop(),
    };
  }
  return {
    start(family: string) {
      const t0 = performance.now();
      let last = t0;
      let n = 0;
      const seconds = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
      log(`patching ${family}`);
      return {
        update(done: number, total: number) {
          n = total;
          if (performance.now() - last >= 2000 && done < total) {
            last = performance.now();
            log(`patching ${family}: ${done}/${total} patches, ${seconds()}`);
          }
        },
        end: () => log(`patched ${family}: ${n} patches in ${seconds()}`),
      };
    },
    stop: () => {},
  };
}

async function patch(o: CommonOpts & AblateCli & { families?: Family[]; targets?: Family[]; together?: string; mode: 'patch' | AblationMode }) {
  if (o.pairs !== undefined && o.together !== undefined) throw new UsageError('--together takes one prompt pair, not --pairs.');
  if (o.mode !== 'patch') {
    if (o.together !== undefined) throw new UsageError(`--together patches cells together; use it without --mode ${o.mode}.`);
    return ablation(o, o.mode, 'activation');
  }
  const { engine, exp, pairs } = await setup(o, true);
  try {
    if (pairs) {
      const families = o.families ?? o.targets ?? CONTRACT_FAMILIES;
      const res = await runPairs('activation patching', pairs.exps, families, sweepRun(engine, families), o.batch);
      checkFinite('activation patching', res.metric, families.map((f) => [f, upstreamOnly(exp, f, res.mean[f]!)]));
      return emit(o, { ...(await pairsHeader(pairs.exps, pairs.records, res, engine)), activation: res.mean, per_pair: res.perPair, sem: res.sem, not_upstream: notUpstreamJson(exp, res.mean) });
    }
    const metric = await engine.metrics(exp);
    checkFinite('activation patching', metric, []);
    if (o.together !== undefined) return emit(o, { ...header(exp, metric), ...(await patchTogether(engine, exp, o.together)) });
    const values: Record<string, Labelled> = {};
    const progress = sweepProgress();
    try {
      for (const f of o.families ?? o.targets ?? CONTRACT_FAMILIES) {
        const p = progress.start(f);
        values[f] = await engine.sweep(exp, f, { onProgress: p.update });
        p.end();
        checkFinite('activation patching', undefined, [[f, upstreamOnly(exp, f, values[f])]]);
      }
    } finally {
      progress.stop();
    }
    emit(o, { ...(await withPerToken(engine, exp, header(exp, metric))), activation: values, not_upstream: notUpstreamJson(exp, values) });
  } finally {
    await engine.dispose();
  }
}

function families(v: string): Family[] {
  try {
    return parseFamilies(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/** Whole numbers only: Number.parseInt read "0x2" as 0 and "-5" as a count (issue 16). */
function wholeNumber(min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`give a whole number >= ${min}.`);
    return n;
  };
}

function positionList(v: string): number[] {
  const items = v.split(',');
  const bad = items.filter((s) => !/^\s*\d+\s*$/.test(s));
  if (bad.length)
    throw new InvalidArgumentError(`${bad.map((s) => (s.trim() ? `"${s}" is not a position` : 'an empty item')).join(', ')}: give whole numbers separated by commas, e.g. 3,7,12.`);
  return items.map(Number);
}

/** --ablate, --reference and --seed mean something only for an ablation (--mode zero|mean|resample). */
function ablationOnly(o: { mode: string }, cmd: Command): void {
  const given = ['ablate', 'reference', 'seed'].filter((k) => cmd.getOptionValueSource(k) === 'cli');
  if (o.mode === 'patch' && given.length)
    throw new UsageError(`${given.map((k) => `--${k}`).join(', ')} ${given.length > 1 ? 'go' : 'goes'} with --mode zero|mean${cmd.name() === 'patch' ? '|resample' : ''} (ablations), not with patching.`);
}

const ablateOption = () =>
  new Option('--ablate <run>', 'with --mode zero|mean|resample: the run to ablate (values: metric(ablated run) - metric(run))').choices(['clean', 'corrupted']).default('clean');

const FAMILIES_HELP = `comma-separated families, from: ${FAMILIES.join(', ')}`;

function metricArg(text: string): string {
  try {
    parseMetric(text);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  return text;
}

export function common(cmd: Command): Command {
  return cmd
    .requiredOption('--model <dir>', 'Hugging Face layout folder: config.json + model.safetensors (or shards + model.safetensors.index.json)')
    .option('--clean <text>', 'clean prompt (required unless --pairs)')
    .option('--corrupted <text>', 'corrupted prompt (same number of tokens; required unless --pairs)')
    .option('--answer <text>', 'answer, e.g. " Mary" (required unless --pairs or --metric kl; several tokens: scored by teacher forcing, the sum of their log-probs)')
    .option('--pairs <file>', 'a dataset of prompt pairs instead: JSONL or CSV with clean, corrupted, answer, wrong (optional positions, answer_tokens, wrong_tokens) per line')
    .option('--batch <n>', 'with --pairs: pairs per batch (default: about 512 tokens)', wholeNumber(1))
    .option('--wrong <text>', 'wrong answer, e.g. " John" (required for logit_diff; several tokens: teacher forcing)')
    .option('--json <file>', 'write the result here instead of stdout')
    .addOption(new Option('--metric <name>', `metric: ${METRIC_SYNTAX} (attn: a head's attention from query to key; prefix: its prefix-matching score; neuron: an MLP neuron's activation; dla: a head's direct logit attribution)`)
      .argParser(metricArg).default('logit_diff'))
    .addOption(new Option('--direction <d>', 'denoising: clean into corrupted; noising: the reverse').choices(['denoising', 'noising']).default('denoising'))
    .option('--basket <tokens>', 'basket metric: tokens separated by |, e.g. " Mary| John"')
    .option('--positions <list>', 'mean_logprob: comma-separated positions, e.g. 3,7,12', positionList)
    .option('--no-bos', 'do not prepend <|endoftext|> (TransformerLens prepends it by default)')
    .option('--threads <n>', 'CPU threads (default and maximum: all cores)', wholeNumber(1));
}

export function program(): Command {
  // exitOverride: commander's usage errors throw instead of exiting 1, so main() exits 2 as the README promises.
  const p = new Command('patchwork').description('Attribution patching and activation patching on GPT-2 models').showHelpAfterError().exitOverride();
  common(p.command('attribute').description('attribution patching for every target from two forward passes and one backward pass'))
    .option('--families <list>', `${FAMILIES_HELP} (default: ${CONTRACT_FAMILIES.join(',')})`, families)
    .addOption(new Option('--mode <mode>', 'what replaces each activation').choices(['patch', 'zero', 'mean']).default('patch'))
    .option('--freeze-ln', 'no gradient through LayerNorm scales')
    .option('--freeze-attn', 'no gradient through attention patterns')
    .option('--top-k <k>', 'with mlp_post: list the k neurons with the largest |attribution| as mlp_post_top', wholeNumber(1), 20)
    .addOption(new Option('--method <name>', `estimator: ${METHODS.map((m) => `${m} (${ESTIMATORS[m].title})`).join(', ')}; graddrop and atp-star give magnitudes`).choices(METHODS).default('atp'))
    .option('--steps <m>', 'integrated-gradient steps for ig-inputs and ig-layer (alpha = k/m, k = 0..m-1; 1 = plain AtP)', wholeNumber(1), 1)
    .option('--patched <cells>', 'attribute on the run with these cells already patched, e.g. "head_out_all_pos[1][0],mlp_out[0][10]"')
    .addOption(ablateOption())
    .option('--reference <file>', 'zero/mean: a pairs file whose clean prompts the mean is taken over, per position (default: every prompt, clean and corrupted)')
    .action((o, cmd: Command) => (ablationOnly(o, cmd), attribute(o)));
  common(p.command('patch').description('exact activation patching of every cell of the given families'))
    .option('--families <list>', `${FAMILIES_HELP} (default: ${CONTRACT_FAMILIES.join(',')})`, families)
    .addOption(new Option('--targets <list>', 'the same as --families (its older name)').argParser(families).conflicts('families'))
    .option('--together <cells>', 'instead: patch these cells together in one run, and each alone, e.g. "head_out_all_pos[1][0],mlp_out[0][10]"')
    .addOption(new Option('--mode <mode>', 'patch: source values; zero, mean (per position, over --reference), resample (a --reference prompt drawn per pair): exact ablations').choices(['patch', 'zero', 'mean', 'resample']).default('patch'))
    .addOption(ablateOption())
    .option('--reference <file>', 'mean/resample: a pairs file whose clean prompts are the reference (default: every prompt, clean and corrupted)')
    .option('--seed <n>', 'resample: the seed of the draws', wholeNumber(0), 0)
    .action((o, cmd: Command) => (ablationOnly(o, cmd), patch(o)));
  inspectCommand(p);
  corruptCommand(p);
  registerCircuitCommands(p, { common, setup, emit, header });
  return p;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  // Ctrl-C: exit at once with the shell's code for SIGINT. Output files are written synchronously and renamed when
  // complete (json-out.ts), so this handler never runs in the middle of one and no partial file is left.
  if (process.listenerCount('SIGINT') === 0) {
    process.once('SIGINT', () => {
      log('patchwork: interrupted');
      process.exit(130);
    });
  }
  try {
    await program().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander has printed its message (and the help); --help and --version exit 0.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    if (e instanceof ExperimentError) {
      log(`patchwork: the experiment cannot run:\n${e.issues.map((i) => `  - ${i.message}`).join('\n')}`);
    } else log(`patchwork: ${(e as Error).message}`);
    process.exitCode = 2;
  }
}
