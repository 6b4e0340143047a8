// Issue #5 acceptance on the committed offline model: on induction prompt pairs, attribution patching and
// activation patching both rank the induction head first among all heads by head output.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hookedGraph } from '../src/engine/model/hooked';
import { loadModelFromDir } from '../src/engine/model/weights-node';
import { BOS_TOKEN } from '../src/engine/model/tokenizer';
import type { GPT2Config } from '../src/engine/model/types';
import { createNodeRuntime } from '../src/engine/runtime/node';
import { PatchingEngine, experimentFromTokens } from '../src/engine/patching';
import { mulberry32 } from './reference/random-weights';

const DIR = 'public/models/toy-induction';
let engine: PatchingEngine;
let cfg: GPT2Config;
const subset: number[] = JSON.parse(readFileSync(`${DIR}/vocab_subset.json`, 'utf8'));

beforeAll(async () => {
  const m = await loadModelFromDir(DIR);
  cfg = m.config;
  engine = await PatchingEngine.create(createNodeRuntime(), cfg, m.weights);
});
afterAll(() => engine?.dispose());

/** Distinct random tokens from the training subset. */
function draw(rng: () => number, n: number, avoid: Set<number> = new Set()): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const t = subset[Math.floor(rng() * subset.length)];
    if (!avoid.has(t) && !out.includes(t)) out.push(t);
  }
  return out;
}

/**
 * Clean: BOS, A_0..A_{n-1}, A_0..A_c (the cue A_c); the answer is A_{c+1}, what followed the cue's first
 * occurrence. Corrupted: the same with A_{c+1} replaced in the first half by B, so induction predicts B.
 */
function inductionPair(seed: number, n = 10, c = 5) {
  const rng = mulberry32(seed);
  const A = draw(rng, n);
  const [B] = draw(rng, 1, new Set(A));
  const clean = [BOS_TOKEN, ...A, ...A.slice(0, c + 1)];
  const corrupted = [...clean];
  corrupted[1 + c + 1] = B;
  return { clean, corrupted, answer: A[c + 1], wrong: B };
}

const argmax = (xs: ArrayLike<number>) => Array.from(xs).reduce((best, x, i, a) => (x > a[best] ? i : best), 0);

describe('the offline model finds its own induction circuit', () => {
  let inductionHead = -1; // flat index layer * nHeads + head

  it('has one clear induction head in layer 1 (prefix-matching score)', async () => {
    const rng = mulberry32(99);
    const A = draw(rng, 12);
    const toks = [BOS_TOKEN, ...A, ...A];
    const P = toks.length;
    const out = await engine.rt.run('toy-pattern', () => hookedGraph(cfg, { batch: 1, pos: P, fetch: ['blocks.1.attn.hook_pattern'] }), {
      tokens: { dtype: 'int64', shape: [1, P], data: BigInt64Array.from(toks, BigInt) },
    });
    const pat = out['blocks.1.attn.hook_pattern'].data; // [1, head, q, k]
    const scores = Array.from({ length: cfg.nHeads }, (_, h) => {
      let s = 0;
      for (let q = 13; q < P; q++) s += pat[(h * P + q) * P + (q - 11)]; // the token after the earlier occurrence
      return s / (P - 13);
    });
    const best = argmax(scores);
    console.log(`prefix-matching scores, layer 1: ${scores.map((s) => s.toFixed(3)).join(', ')}`);
    expect(scores[best]).toBeGreaterThan(0.5);
    inductionHead = cfg.nHeads + best;
  });

  it.each([1, 2, 3])('attribution and activation patching rank it first by head output (pair seed %i)', async (seed) => {
    const p = inductionPair(seed);
    const exp = experimentFromTokens({ clean: [p.clean], corrupted: [p.corrupted], answers: [p.answer], wrongs: [p.wrong] });
    const attr = await engine.attribute(exp, { families: ['head_out_all_pos'] });
    const act = await engine.sweep(exp, 'head_out_all_pos');
    console.log(`seed ${seed}: logit diff clean ${attr.metric.clean.toFixed(2)}, corrupted ${attr.metric.corrupted.toFixed(2)}; ` +
      `attribution ${Array.from(attr.values.head_out_all_pos!.data, (x) => x.toFixed(2)).join(' ')}; activation ${Array.from(act.data, (x) => x.toFixed(2)).join(' ')}`);
    expect(attr.metric.clean - attr.metric.corrupted).toBeGreaterThan(1);
    expect(argmax(attr.values.head_out_all_pos!.data)).toBe(inductionHead);
    expect(argmax(act.data)).toBe(inductionHead);
  });
});
