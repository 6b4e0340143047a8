// How well a model does induction, measured with the engine: per-token loss on repeated random sequences, and the
// two attention scores that identify the circuit (Olsson et al. 2022, "In-context learning and induction heads"):
//   previous-token score of a head: mean attention from each position to the one before it, on random tokens;
//   prefix-matching score: on BOS + A + A, mean attention from each second-copy token to the token after its
//   first occurrence (query L + i -> key i + 1, 1-based positions with BOS at 0).

import { Gather, GemmTransB, Graph, Mul, ReduceSum, Reshape, logSumExp } from '../graph';
import { gpt2Forward, weightInputs } from '../model/gpt2';
import { BOS_TOKEN } from '../model/tokenizer';
import type { GPT2Config, Weights } from '../model/types';
import { int64Feed, type Fetched, type Runtime } from '../runtime/types';
import { mulberry32 } from '../model/checkpoint';
import { repeatedSequences } from './data';
import { tokenNll } from './loss-graph';

export interface InductionEval {
  /** Mean loss predicting the first copy of A (tokens 1..L, from positions 0..L-1): near ln|subset| if uniform. */
  firstHalfLoss: number;
  /** Mean loss predicting the second copy (tokens L+1..2L), including its unpredictable first token. */
  secondHalfLoss: number;
  /** The same without the first token of the second copy (tokens L+2..2L: the ones induction can predict). */
  inductionLoss: number;
  /** ln(subset size): the loss of a uniform guess over the training tokens. */
  uniformLoss: number;
  /** [layer][head] */
  prevToken: number[][];
  /** Mean attention from each position to itself, on random tokens. [layer][head] */
  currentToken: number[][];
  /** [layer][head] */
  prefixMatching: number[][];
}

export interface EvalOptions {
  seed: number;
  /** Segment lengths L, one sequence each. */
  halves: number[];
}

/** Patterns of every layer, and the next-token loss at every position but the last. */
function evalGraph(cfg: GPT2Config, batch: number, pos: number): Graph {
  const g = new Graph('induction-eval');
  const tokens = g.input('tokens', [batch, pos], 'int64');
  const rows = g.input('rows', [batch * (pos - 1)], 'int64');
  const targets = g.input('targets', [batch * (pos - 1)], 'int64');
  const w = weightInputs(g, cfg);
  const x = gpt2Forward(cfg, w, tokens, (name, t) => (name.endsWith('attn.hook_pattern') ? g.output(t, name) : t));
  g.output(tokenNll(w.get('wte.weight')!, x, rows, targets), 'nll');
  return g;
}

interface Run {
  pos: number;
  nll: Float32Array; // [batch * (pos - 1)], row b * (pos - 1) + t predicts token t + 1
  patterns: Fetched[]; // per layer, [batch, head_index, query_pos, key_pos]
}

async function run(rt: Runtime, cfg: GPT2Config, weights: Weights, seqs: number[][]): Promise<Run> {
  const batch = seqs.length;
  const pos = Math.max(...seqs.map((s) => s.length));
  const tokens: number[] = [];
  const rows: number[] = [];
  const targets: number[] = [];
  seqs.forEach((s, b) => {
    const padded = [...s, ...new Array(pos - s.length).fill(BOS_TOKEN)];
    tokens.push(...padded);
    for (let t = 0; t < pos - 1; t++) {
      rows.push(b * pos + t);
      targets.push(padded[t + 1]);
    }
  });
  await rt.setWeights(weights);
  const out = await rt.run(`induction-eval-${cfg.name}-${batch}x${pos}`, () => evalGraph(cfg, batch, pos), {
    tokens: int64Feed(tokens, [batch, pos]),
    rows: int64Feed(rows, [rows.length]),
    targets: int64Feed(targets, [targets.length]),
  });
  const patterns = Array.from({ length: cfg.nLayers }, (_, l) => out[`blocks.${l}.attn.hook_pattern`]);
  return { pos, nll: out.nll.data, patterns };
}

/** Mean of pattern[b][h][q][k] over the (b, q, k) triples, per layer and head. */
function meanAttention(cfg: GPT2Config, r: Run, triples: [number, number, number][]): number[][] {
  const { pos } = r;
  return r.patterns.map((p) =>
    Array.from({ length: cfg.nHeads }, (_, h) => {
      let sum = 0;
      for (const [b, q, k] of triples) sum += p.data[((b * cfg.nHeads + h) * pos + q) * pos + k];
      return sum / triples.length;
    }),
  );
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function evaluateInduction(
  rt: Runtime,
  cfg: GPT2Config,
  weights: Weights,
  subset: readonly number[],
  o: EvalOptions,
): Promise<InductionEval> {
  const next = repeatedSequences(subset, o.seed);
  const repeated = o.halves.map((l) => next(l).tokens);
  const rep = await run(rt, cfg, weights, repeated);
  const first: number[] = [];
  const second: number[] = [];
  const induction: number[] = [];
  const prefix: [number, number, number][] = [];
  o.halves.forEach((l, b) => {
    const nll = (target: number) => rep.nll[b * (rep.pos - 1) + target - 1];
    for (let t = 1; t <= l; t++) first.push(nll(t));
    for (let t = l + 1; t <= 2 * l; t++) second.push(nll(t));
    for (let t = l + 2; t <= 2 * l; t++) induction.push(nll(t));
    for (let q = l + 1; q <= 2 * l; q++) prefix.push([b, q, q - l + 1]);
  });

  // Random tokens without a repeat: BOS + 2L fresh tokens, as long as the repeated sequences.
  const rng = mulberry32(o.seed ^ 0x9e3779b9);
  const fresh = o.halves.map((l) => [BOS_TOKEN, ...Array.from({ length: 2 * l }, () => subset[Math.floor(rng() * subset.length)])]);
  const rnd = await run(rt, cfg, weights, fresh);
  const prev: [number, number, number][] = [];
  const self: [number, number, number][] = [];
  fresh.forEach((s, b) => {
    for (let q = 1; q < s.length; q++) {
      prev.push([b, q, q - 1]);
      self.push([b, q, q]);
    }
  });

  return {
    firstHalfLoss: mean(first),
    secondHalfLoss: mean(second),
    inductionLoss: mean(induction),
    uniformLoss: Math.log(subset.length),
    prevToken: meanAttention(cfg, rnd, prev),
    currentToken: meanAttention(cfg, rnd, self),
    prefixMatching: meanAttention(cfg, rep, prefix),
  };
}

/** The head with the highest score in `layer`, as TransformerLens's "L.H" label. */
export function bestHead(scores: number[][], layer: number): { head: string; score: number } {
  const row = scores[layer];
  const h = row.indexOf(Math.max(...row));
  return { head: `${layer}.${h}`, score: row[h] };
}

/**
 * The log-sum-exp of the logits, and the logits of chosen tokens, at chosen positions of `seqs` (padded to one
 * length with their first token; padding is never read: attention is causal). `at[i]` is [sequence, position] and
 * `read[i]` the token ids whose logits to return there; only those rows are unembedded, so a full vocabulary costs
 * [rows, d_vocab] inside the graph and nothing outside it.
 */
async function logitsAt(
  rt: Runtime, cfg: GPT2Config, weights: Weights, seqs: readonly number[][], at: [number, number][], read: number[][],
): Promise<{ lse: Float32Array; logits: Float32Array }> {
  const batch = seqs.length;
  const pos = Math.max(...seqs.map((s) => s.length));
  const n = at.length;
  const k = read[0].length;
  const pad = seqs[0][0];
  const tokens = seqs.flatMap((s) => [...s, ...new Array(pos - s.length).fill(pad)]);
  await rt.setWeights(weights);
  const out = await rt.run(`logits-at-${cfg.name}-${cfg.dVocab}-${batch}x${pos}-${n}x${k}`, () => {
    const g = new Graph('logits-at');
    const tok = g.input('tokens', [batch, pos], 'int64');
    const rows = g.input('rows', [n], 'int64');
    const ids = g.input('ids', [n, k], 'int64');
    const w = weightInputs(g, cfg);
    const wte = w.get('wte.weight')!;
    const x = Gather(Reshape(gpt2Forward(cfg, w, tok), [batch * pos, cfg.dModel]), rows); // [n, d_model]
    g.output(logSumExp(GemmTransB(x, wte)), 'lse'); // [n, 1]
    g.output(ReduceSum(Mul(Reshape(x, [n, 1, cfg.dModel]), Gather(wte, ids)), [-1]), 'logits'); // [n, k]
    return g;
  }, { tokens: int64Feed(tokens, [batch, pos]), rows: int64Feed(at.map(([b, t]) => b * pos + t), [n]), ids: int64Feed(read.flat(), [n, k]) });
  return { lse: out.lse.data, logits: out.logits.data };
}

/** Every real position of `seqs`, as logitsAt's [sequence, position] pairs. */
const everyPosition = (seqs: readonly number[][]): [number, number][] =>
  seqs.flatMap((s, b) => s.map((_, t): [number, number] => [b, t]));

/**
 * The smallest log-sum-exp of a model's logits over any position of `seqs`: where the untrained rows' sealed logit
 * (vocab.ts) has to sit far below. `cfg` and `weights` are the compact model and `seqs` are in its token numbering.
 */
export async function minLogSumExp(rt: Runtime, cfg: GPT2Config, weights: Weights, seqs: number[][]): Promise<number> {
  const at = everyPosition(seqs);
  const { lse } = await logitsAt(rt, cfg, weights, seqs, at, at.map(() => [0]));
  return Math.min(...lse);
}

export interface IoiEval {
  /** Mean over sentences of logit(IO) - logit(S) at the last prompt position. */
  logitDiff: number;
  /** Share of sentences with logit(IO) > logit(S). */
  accuracy: number;
  /** Mean probability of IO. */
  ioProb: number;
}

/**
 * IOI behaviour on sentences (ioi-data.ts): `tokens` is BOS + prompt + IO; the prediction is read at the prompt's
 * last position. `cfg` and `weights` are a full model.
 */
export async function evaluateIoi(rt: Runtime, cfg: GPT2Config, weights: Weights, sentences: { tokens: number[]; sToken: number }[]): Promise<IoiEval> {
  const prompts = sentences.map((s) => s.tokens.slice(0, -1));
  const at = prompts.map((p, b): [number, number] => [b, p.length - 1]);
  const { lse, logits } = await logitsAt(rt, cfg, weights, prompts, at, sentences.map((s) => [s.tokens[s.tokens.length - 1], s.sToken]));
  const n = sentences.length;
  let diff = 0;
  let right = 0;
  let prob = 0;
  for (let i = 0; i < n; i++) {
    const [io, subject] = [logits[2 * i], logits[2 * i + 1]];
    diff += (io - subject) / n;
    if (io > subject) right++;
    prob += Math.exp(io - lse[i]) / n;
  }
  return { logitDiff: diff, accuracy: right / n, ioProb: prob };
}

export interface SealCheck {
  /** Range of the untrained rows' logit over every position seen. */
  minLogit: number;
  maxLogit: number;
  /** Largest total probability of the `untrainedCount` untrained tokens at any position. */
  maxMass: number;
}

/**
 * Measures the sealed untrained rows (vocab.ts) on a full model: the logit of `untrainedId` (every untrained row is
 * the same vector, so one stands for all) at every real position of `seqs`, and the probability all
 * `untrainedCount` of them take together.
 */
export async function checkSeal(
  rt: Runtime, cfg: GPT2Config, weights: Weights, seqs: number[][], untrainedId: number, untrainedCount: number,
): Promise<SealCheck> {
  const at = everyPosition(seqs);
  const { lse, logits } = await logitsAt(rt, cfg, weights, seqs, at, at.map(() => [untrainedId]));
  const r: SealCheck = { minLogit: Infinity, maxLogit: -Infinity, maxMass: 0 };
  logits.forEach((u, i) => {
    r.minLogit = Math.min(r.minLogit, u);
    r.maxLogit = Math.max(r.maxLogit, u);
    r.maxMass = Math.max(r.maxMass, untrainedCount * Math.exp(u - lse[i]));
  });
  return r;
}
