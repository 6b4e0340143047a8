// `patchwork attribute|patch|edges|path|circuit`: the same engine as the browser, for scripts, CI and regression checks.
// Output JSON keys and layouts are a contract (issue #3); progress and timings go to stderr.
import { writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { loadModelFromDir } from '../engine/model/weights-node';
import { patchTogether, patchedCells, registerCircuitCommands } from './circuits';
import { createNodeRuntime } from '../engine/runtime/node';
import {
  CONTRACT_FAMILIES, ExperimentError, FAMILY_AXES, METRICS, PatchingEngine, named, parseFamilies, topK,
  type Experiment, type ExperimentSpec, type Family, type Labelled, type MetricName,
} from '../engine/patching';

interface CommonOpts {
  model: string;
  clean: string;
  corrupted: string;
  answer: string;
  wrong: string;
  json?: string;
  metric: MetricName;
  direction: 'denoising' | 'noising';
  bos: boolean;
  freezeLn?: boolean;
  freezeAttn?: boolean;
  basket?: string;
  positions?: string;
  threads?: number;
}

const log = (msg: string) => process.stderr.write(`${msg}\n`);

/** A Labelled array as nested JSON arrays, outermost axis first. */
export function nested(x: Labelled): unknown {
  const build = (axis: number, offset: number): unknown => {
    const n = x.shape[axis];
    const stride = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: n }, (_, i) => (axis === x.shape.length - 1 ? x.data[offset + i] : build(axis + 1, offset + i * stride)));
  };
  return build(0, 0);
}

function spec(o: CommonOpts): ExperimentSpec {
  return {
    pairs: [{ clean: o.clean, corrupted: o.corrupted, answer: o.answer, wrong: o.wrong }],
    metric: {
      name: o.metric,
      basket: o.basket?.split('|'),
      positions: o.positions?.split(',').map(Number),
    },
    direction: o.direction,
    options: { freezeLayerNorm: !!o.freezeLn, freezeAttention: !!o.freezeAttn },
    prependBos: o.bos,
  };
}

async function setup(o: CommonOpts): Promise<{ engine: PatchingEngine; exp: Experiment }> {
  const t0 = performance.now();
  const { config, weights } = await loadModelFromDir(o.model);
  log(`loaded ${config.name} (${config.nLayers} layers, ${config.nHeads} heads, d_model ${config.dModel}) in ${(performance.now() - t0).toFixed(0)} ms`);
  const engine = await PatchingEngine.create(createNodeRuntime({ threads: o.threads }), config, weights);
  return { engine, exp: engine.resolve(spec(o)) };
}

function header(exp: Experiment, metric: { clean: number; corrupted: number }) {
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

function emit(o: CommonOpts, result: object) {
  const text = JSON.stringify(result);
  if (o.json) {
    writeFileSync(o.json, text + '\n');
    log(`wrote ${o.json}`);
  } else process.stdout.write(text + '\n');
}

async function attribute(o: CommonOpts & { families?: Family[]; mode: 'patch' | 'zero' | 'mean'; topK: number; patched?: string }) {
  const { engine, exp } = await setup(o);
  try {
    const families = o.families ?? CONTRACT_FAMILIES;
    const t0 = performance.now();
    const res = await engine.attribute(exp, { families, mode: o.mode, patched: patchedCells(engine, exp, o.patched) });
    log(`attribution (${families.length} families, 2 forward + 1 backward) in ${(performance.now() - t0).toFixed(0)} ms`);
    const values: Record<string, unknown> = Object.fromEntries(families.map((f) => [f, nested(res.values[f]!)]));
    // MLP neurons are many: also list the strongest by |attribution|.
    if (res.values.mlp_post) values.mlp_post_top = topK(res.values.mlp_post, o.topK).map((e) => named(FAMILY_AXES.mlp_post, e));
    emit(o, { ...header(exp, res.metric), attribution: values });
  } finally {
    await engine.dispose();
  }
}

async function patch(o: CommonOpts & { targets: Family[]; together?: string }) {
  const { engine, exp } = await setup(o);
  try {
    const metric = await engine.metrics(exp);
    if (o.together !== undefined) return emit(o, { ...header(exp, metric), ...(await patchTogether(engine, exp, o.together)) });
    const values: Record<string, unknown> = {};
    const bars = new cliProgress.MultiBar({ stream: process.stderr, format: ' {family} [{bar}] {value}/{total} patches | {duration}s', hideCursor: false }, cliProgress.Presets.shades_classic);
    for (const f of o.targets) {
      const bar = bars.create(1, 0, { family: f.padEnd(16) });
      const res = await engine.sweep(exp, f, { onProgress: (done, total) => { bar.setTotal(total); bar.update(done); } });
      values[f] = nested(res);
    }
    bars.stop();
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

function common(cmd: Command): Command {
  return cmd
    .requiredOption('--model <dir>', 'Hugging Face layout folder: config.json + model.safetensors')
    .requiredOption('--clean <text>', 'clean prompt')
    .requiredOption('--corrupted <text>', 'corrupted prompt (same number of tokens)')
    .requiredOption('--answer <text>', 'answer token, e.g. " Mary" (one token)')
    .option('--wrong <text>', 'wrong-answer token for logit_diff, e.g. " John"', '')
    .option('--json <file>', 'write the result here instead of stdout')
    .addOption(new Option('--metric <name>', 'metric').choices(METRICS as string[]).default('logit_diff'))
    .addOption(new Option('--direction <d>', 'denoising: clean into corrupted; noising: the reverse').choices(['denoising', 'noising']).default('denoising'))
    .option('--basket <tokens>', 'basket metric: tokens separated by |, e.g. " Mary| John"')
    .option('--positions <list>', 'mean_logprob: comma-separated positions')
    .option('--no-bos', 'do not prepend <|endoftext|> (TransformerLens prepends it by default)')
    .option('--threads <n>', 'CPU threads (default: all cores)', (v) => Number.parseInt(v, 10));
}

export function program(): Command {
  const p = new Command('patchwork').description('Attribution patching and activation patching on GPT-2 models').showHelpAfterError();
  common(p.command('attribute').description('attribution patching for every target from two forward passes and one backward pass'))
    .option('--families <list>', 'comma-separated families', families)
    .addOption(new Option('--mode <mode>', 'what replaces each activation').choices(['patch', 'zero', 'mean']).default('patch'))
    .option('--freeze-ln', 'no gradient through LayerNorm scales')
    .option('--freeze-attn', 'no gradient through attention patterns')
    .option('--top-k <k>', 'with mlp_post: list the k neurons with the largest |attribution| as mlp_post_top', (v) => Number.parseInt(v, 10), 20)
    .option('--patched <cells>', 'attribute on the run with these cells already patched, e.g. "head_out_all_pos[1][0],mlp_out[0][10]"')
    .action((o) => attribute(o));
  common(p.command('patch').description('exact activation patching of every cell of the given families'))
    .option('--targets <list>', 'comma-separated families', families, CONTRACT_FAMILIES)
    .option('--together <cells>', 'instead: patch these cells together in one run, and each alone, e.g. "head_out_all_pos[1][0],mlp_out[0][10]"')
    .action((o) => patch(o));
  registerCircuitCommands(p, { common, setup, emit, header });
  return p;
}

try {
  await program().parseAsync(process.argv);
} catch (e) {
  if (e instanceof ExperimentError) {
    log(`patchwork: the experiment cannot run:\n${e.issues.map((i) => `  - ${i.message}`).join('\n')}`);
  } else log(`patchwork: ${(e as Error).message}`);
  process.exitCode = 2;
}
