// Issue #5 acceptance on the committed offline model: on induction prompt pairs, attribution patching and
// activation patching both rank the induction head first among all heads by head output.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelFromDir } from '../src/engine/model/weights-node';
import { BOS_TOKEN } from '../src/engine/model/tokenizer';
import type { GPT2Config } from '../src/engine/model/types';
import { createNodeRuntime } from '../src/engine/runtime/node';
import { PatchingEngine, experimentFromTokens, resolveExperiment, type Experiment } from '../src/engine/patching';
import { TOY_CIRCUIT, TOY_MODEL_DIR } from '../src/engine/train/toy';
import { PRESETS } from '../src/ui/presets';
import { mulberry32 } from './reference/random-weights';

let engine: PatchingEngine;
let cfg: GPT2Config;
const subset: number[] = JSON.parse(readFileSync(`${TOY_MODEL_DIR}/vocab_subset.json`, 'utf8'));

beforeAll(async () => {
  const m = await loadModelFromDir(TOY_MODEL_DIR);
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
function inductionPair(seed: number, n = 10, c = 5): Experiment {
  const rng = mulberry32(seed);
  const A = draw(rng, n);
  const [B] = draw(rng, 1, new Set(A));
  const clean = [BOS_TOKEN, ...A, ...A.slice(0, c + 1)];
  const corrupted = [...clean];
  corrupted[1 + c + 1] = B;
  return experimentFromTokens({ clean: [clean], corrupted: [corrupted], answers: [A[c + 1]], wrongs: [B] });
}

const argmax = (xs: ArrayLike<number>) => Array.from(xs).reduce((best, x, i, a) => (x > a[best] ? i : best), 0);
const label = (flat: number) => `${Math.floor(flat / cfg.nHeads)}.${flat % cfg.nHeads}`;

describe('the offline model finds its own induction circuit', () => {
  // Which heads these are (best prefix-matching, current-token scores) is checked on held-out sequences in
  // toy-model.test.ts; here, what patching says about them.
  const toy = PRESETS.find((p) => p.id === 'toy-induction')!;
  const cases: [string, () => Experiment][] = [
    ...[1, 2, 3, 4, 5].map((seed): [string, () => Experiment] => [`random pair, seed ${seed}`, () => inductionPair(seed)]),
    ['the app\'s toy preset', () => resolveExperiment(toy.spec, cfg)],
  ];
  it.each(cases)('attribution and activation patching rank it first by head output (%s)', async (name, make) => {
    const exp = make();
    const attr = await engine.attribute(exp, { families: ['head_out_all_pos'] });
    const act = await engine.sweep(exp, 'head_out_all_pos');
    const a = attr.values.head_out_all_pos!.data;
    console.log(`${name}: logit diff clean ${attr.metric.clean.toFixed(2)}, corrupted ${attr.metric.corrupted.toFixed(2)}; ` +
      `attribution ${Array.from(a, (x) => x.toFixed(2)).join(' ')}; activation ${Array.from(act.data, (x) => x.toFixed(2)).join(' ')}`);
    expect(attr.metric.clean - attr.metric.corrupted).toBeGreaterThan(1);
    expect(label(argmax(a))).toBe(TOY_CIRCUIT.induction);
    expect(label(argmax(act.data))).toBe(TOY_CIRCUIT.induction);
    if (name.includes('preset')) {
      // The preset's text also says the current-token head comes second.
      const second = (xs: ArrayLike<number>) => label(Array.from(xs).map((x, i) => [x, i]).sort((p, q) => q[0] - p[0])[1][1]);
      expect([second(a), second(act.data)]).toEqual([TOY_CIRCUIT.currentToken, TOY_CIRCUIT.currentToken]);
    }
  });
});
