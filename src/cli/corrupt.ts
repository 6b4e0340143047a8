// `patchwork corrupt`: writes a pairs file (JSONL, the format --pairs reads) from a generator (corrupt.ts), seeded
// and reproducible; each pair's `meta` records the generator, seed and edit. No model needed.
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  CorruptError, GENERATORS, INDUCTION_VARIANTS, abcPairs, embeddingStd, flipPairs, inductionPairs, noisePairs, randomPairs, toJsonl,
  type Generator, type InductionVariant,
} from '../engine/patching/corrupt';
import { loadModelFromDir } from '../engine/model/weights-node';
import { checkOutputPath } from './json-out';
import { readPairs } from './pairs';

interface CorruptOpts {
  model?: string;
  std?: string;
  scale: string;
  kind: Generator;
  pairs?: string;
  out?: string;
  seed: number;
  positions?: string;
  words?: string;
  count?: number;
  length?: number;
  variant: InductionVariant;
}

const whole = (min: number) => (v: string) => {
  if (!/^\s*\d+\s*$/.test(v) || Number(v) < min) throw new InvalidArgumentError(`give a whole number >= ${min}.`);
  return Number(v);
};

function wordList(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split(/\r?\n/).filter((w) => w.trim() !== '').map((w) => (w.startsWith(' ') ? w : ` ${w}`));
  } catch (e) {
    throw new CorruptError(`Cannot read the word list ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`);
  }
}

/** The noise's standard deviation: --std, or --scale x the empirical std of --model's token embeddings (ROME). */
async function noiseStd(o: CorruptOpts): Promise<number> {
  const num = (v: string, what: string) => {
    const x = Number(v);
    if (!/^\s*[0-9.eE+-]+\s*$/.test(v) || !(x > 0) || !Number.isFinite(x)) throw new CorruptError(`${what} must be a positive number, not "${v}".`);
    return x;
  };
  if (o.std !== undefined) return num(o.std, '--std');
  if (o.model === undefined) throw new CorruptError('--kind noise needs --model DIR (the noise is --scale x the std of its token embeddings) or --std X.');
  const { weights } = await loadModelFromDir(o.model);
  return num(o.scale, '--scale') * embeddingStd(weights.get('wte.weight')!.data);
}

async function generate(o: CorruptOpts): Promise<string> {
  const need = (what: string): never => {
    throw new CorruptError(`--kind ${o.kind} needs ${what}.`);
  };
  if (o.kind === 'induction') {
    if (o.pairs !== undefined) throw new CorruptError('--kind induction makes its own prompts: leave out --pairs.');
    return toJsonl(inductionPairs(o.count ?? need('--count N (how many pairs)'), o.length ?? need('--length L (tokens per repeated half)'), o.seed, o.variant));
  }
  const source = o.pairs !== undefined ? readPairs(o.pairs) : need('--pairs FILE (the clean prompts to corrupt)');
  const pairs = source.map(({ line: _line, ...p }) => p);
  if (o.kind === 'flip') return toJsonl(flipPairs(pairs));
  if (o.kind === 'noise') return toJsonl(noisePairs(pairs, o.seed, positionsOf(o, need), await noiseStd(o)));
  if (o.kind === 'abc') return toJsonl(abcPairs(pairs, o.seed, o.words ? wordList(o.words) : undefined));
  return toJsonl(randomPairs(pairs, o.seed, positionsOf(o, need), o.words ? wordList(o.words) : undefined));
}

function positionsOf(o: CorruptOpts, need: (what: string) => never): number[] {
  return (o.positions ?? need('--positions (token indices of the clean prompt, without <|endoftext|>, e.g. 2,4)')).split(',').map((s) => {
    if (!/^\s*\d+\s*$/.test(s)) throw new CorruptError(`--positions: "${s}" is not a position; give whole numbers separated by commas.`);
    return Number(s);
  });
}

async function corrupt(o: CorruptOpts) {
  if (o.out !== undefined) checkOutputPath(o.out);
  const text = await generate(o);
  if (o.out === undefined) return void process.stdout.write(text);
  // Written whole under a temporary name and renamed: an error never leaves a partial file.
  const full = resolve(o.out);
  const tmp = join(dirname(full), `.${basename(full)}.${process.pid}.partial`);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, full);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // never written
    }
    throw e;
  }
  process.stderr.write(`wrote ${text.split('\n').length - 1} pairs to ${o.out}\n`);
}

export function corruptCommand(p: Command): Command {
  return p.command('corrupt')
    .description('write a pairs file from a corruption generator: flip, abc (IOI -> ABC), random (token replacement), induction (AA -> BB/AB/BA/BC), noise (Gaussian noise on embeddings)')
    .addOption(new Option('--kind <generator>', 'the generator').choices([...GENERATORS]).makeOptionMandatory())
    .option('--pairs <file>', 'flip, abc, random: the pairs (JSONL or CSV) whose clean prompts are corrupted')
    .option('--out <file>', 'write the JSONL here instead of stdout')
    .option('--seed <n>', 'seed of the draws (each pair draws from (seed, its index))', whole(0), 0)
    .option('--model <dir>', 'noise: the model whose token-embedding std sets the noise (x --scale)')
    .option('--scale <x>', 'noise: multiple of the embeddings\' empirical std (ROME: 3)', '3')
    .option('--std <x>', 'noise: the standard deviation itself, instead of --model and --scale')
    .option('--positions <list>', 'random, noise: token positions of the clean prompt to replace, without <|endoftext|>, e.g. 2,4')
    .option('--words <file>', 'random: replacement words; abc: third names (one per line, one token each); default: GPT-2\'s whole-word tokens')
    .option('--count <n>', 'induction: number of pairs', whole(1))
    .option('--length <n>', 'induction: tokens in the repeated sequence', whole(2))
    .addOption(new Option('--variant <v>', 'induction: the corrupted prompt').choices([...INDUCTION_VARIANTS]).default('BC'))
    .action((o) => corrupt(o));
}
