// `patchwork attribute|patch|edges|path|circuit`: the same engine as the browser, for scripts, CI and regression checks.
// Output JSON keys and layouts are a contract (issue #3); progress and timings go to stderr.
// Exit codes: 0 success, 2 bad input of any kind (usage, prompts, checkpoint, output path), 130 interrupted.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { loadModelFromDir } from '../engine/model/weights-node';
import { boundThreads, createNodeRuntime } from '../engine/runtime/node';
import {
  CONTRACT_FAMILIES, ExperimentError, FAMILIES, METRICS, familyAxes, PatchingEngine, named, parseFamilies, topK,
  type Experiment, type ExperimentSpec, type Family, type Labelled, type MetricName,
} from '../engine/patching';
import { ESTIMATORS, METHODS, checkMethod, type Method } from '../engine/patching/estimators';
import { checkFinite } from '../engine/patching/finite';
import { inspectCommand } from './inspect';
import { patchTogether, patchedCells, registerCircuitCommands } from './circuits';
import { checkOutputPath, writeJson, writeJsonFile } from './json-out';

export interface CommonOpts {
  model: string;
  clean: string;
  corrupted: string;
  answer: string;
  wrong?: string;
  json?: string;
  metric: MetricName;
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
    pairs: [{ clean: o.clean, corrupted: o.corrupted, answer: o.answer, wrong: o.wrong ?? '' }],
    metric: { name: o.metric, basket: o.basket?.split('|'), positions: o.positions },
    direction: o.direction,
    options: { freezeLayerNorm: !!o.freezeLn, freezeAttention: !!o.freezeAttn },
    prependBos: o.bos,
  };
}

/** Checks what can be checked without the model (output path first: nothing is computed only to be lost). */
function preflight(o: CommonOpts) {
  if (o.json !== undefined) checkOutputPath(o.json);
  if (o.metric === 'logit_diff' && o.wrong === undefined)
    throw new UsageError('--wrong is required for the logit_diff metric (the default), which measures logit(answer) - logit(wrong answer): give e.g. --wrong " John", or choose another --metric.');
}

export async function setup(o: CommonOpts): Promise<{ engine: PatchingEngine; exp: Experiment }> {
  preflight(o);
  const t0 = performance.now();
  const { config, weights } = await loadModelFromDir(o.model);
  log(`loaded ${config.name} (${config.nLayers} layers, ${config.nHeads} heads, d_model ${config.dModel}) in ${(performance.now() - t0).toFixed(0)} ms`);
  const { threads, note } = boundThreads(o.threads);
  if (note) log(note);
  const engine = await PatchingEngine.create(createNodeRuntime({ threads }), config, weights);
  try {
    const exp = engine.resolve(spec(o));
    for (const w of exp.warnings ?? []) log(`warning: ${w}`);
    return { engine, exp };
  } catch (e) {
    await engine.dispose();
    throw e;
  }
}

export function header(exp: Experiment, metric: { clean: number; corrupted: number }) {
  const one = exp.nPairs === 1;
  return {
    tokens: {
      clean: one ? exp.clean[0] : exp.clean,
      corrupted: one ? exp.corrupted[0] : exp.corrupted,
      answer: one ? exp.answers[0] : exp.answers,
      wrong: one ? (exp.wrongs[0] >= 0 ? exp.wrongs[0] : null) : exp.wrongs,
    },
    metric: { name: exp.spec.metric.name, clean: metric.clean, corrupted: metric.corrupted },
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

async function attribute(o: CommonOpts & { families?: Family[]; mode: 'patch' | 'zero' | 'mean'; topK: number; method: Method; steps: number; patched?: string }) {
  checkMethod(o.method, o.steps);
  if (o.method !== 'atp' && o.mode !== 'patch') throw new UsageError(`--method ${o.method} estimates patches: use it without --mode ${o.mode}.`);
  const { engine, exp } = await setup(o);
  try {
    const families = o.families ?? CONTRACT_FAMILIES;
    const t0 = performance.now();
    const res = await engine.attribute(exp, { families, mode: o.mode, method: o.method, steps: o.steps, patched: patchedCells(engine, exp, o.patched) });
    log(`attribution (${families.length} families, ${ESTIMATORS[o.method].title}${o.steps > 1 ? `, ${o.steps} steps` : ''}) in ${(performance.now() - t0).toFixed(0)} ms`);
    checkFinite('attribution', res.metric, families.map((f) => [f, res.values[f]!]));
    const values: Record<string, unknown> = Object.fromEntries(families.map((f) => [f, res.values[f]!]));
    // MLP neurons are many: also list the strongest by |attribution|.
    if (res.values.mlp_post) values.mlp_post_top = topK(res.values.mlp_post, o.topK).map((e) => named(familyAxes('mlp_post'), e));
    emit(o, { ...header(exp, res.metric), method: res.method, steps: res.steps, attribution: values });
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

async function patch(o: CommonOpts & { families?: Family[]; targets?: Family[]; together?: string }) {
  const { engine, exp } = await setup(o);
  try {
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
        checkFinite('activation patching', undefined, [[f, values[f]]]);
      }
    } finally {
      progress.stop();
    }
    emit(o, { ...header(exp, metric), activation: values });
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

const FAMILIES_HELP = `comma-separated families, from: ${FAMILIES.join(', ')}`;

export function common(cmd: Command): Command {
  return cmd
    .requiredOption('--model <dir>', 'Hugging Face layout folder: config.json + model.safetensors (or shards + model.safetensors.index.json)')
    .requiredOption('--clean <text>', 'clean prompt')
    .requiredOption('--corrupted <text>', 'corrupted prompt (same number of tokens)')
    .requiredOption('--answer <text>', 'answer token, e.g. " Mary" (one token)')
    .option('--wrong <text>', 'wrong-answer token, e.g. " John" (one token; required for logit_diff)')
    .option('--json <file>', 'write the result here instead of stdout')
    .addOption(new Option('--metric <name>', 'metric').choices(METRICS as string[]).default('logit_diff'))
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
    .action((o) => attribute(o));
  common(p.command('patch').description('exact activation patching of every cell of the given families'))
    .option('--families <list>', `${FAMILIES_HELP} (default: ${CONTRACT_FAMILIES.join(',')})`, families)
    .addOption(new Option('--targets <list>', 'the same as --families (its older name)').argParser(families).conflicts('families'))
    .option('--together <cells>', 'instead: patch these cells together in one run, and each alone, e.g. "head_out_all_pos[1][0],mlp_out[0][10]"')
    .action((o) => patch(o));
  inspectCommand(p);
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
