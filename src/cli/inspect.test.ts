// `patchwork inspect` as a user runs it, on the shipped toy IOI model: the JSON layout, and its numbers against the
// float64 reference of test/reference/inspect-f64.ts (top 5, DLA and its sum, logit lens).
import { beforeAll, expect, it } from 'vitest';
import { loadModelFromDir } from '../engine/model/weights-node';
import type { GPT2Config, Weights } from '../engine/model/types';
import { referenceInspect, type RefToken } from '../../test/reference/inspect-f64';
import { expectClose } from '../../test/helpers/compare';
import { cli } from '../../test/helpers/cli';

const model = 'public/models/toy-ioi';
let cfg: GPT2Config;
let weights: Weights;
beforeAll(async () => {
  ({ config: cfg, weights } = await loadModelFromDir(model));
});

const args = ['--model', model, '--clean', 'When Mary and John went to the store, John gave the drink to',
  '--corrupted', 'When Mary and John went to the store, Mary gave the drink to', '--answer', ' Mary'];

interface Scored { id: number; text: string; logit: number; prob: number }
const expectTokens = (label: string, got: Scored[], want: RefToken[]) => {
  expect(got.map((t) => t.id), label).toEqual(want.map((t) => t.id));
  expectClose(`${label} probs`, got.map((t) => t.prob), want.map((t) => t.prob), 1e-5, 1);
};

it('inspect writes top5, dla and logit_lens, equal to the float64 reference; the DLA sums to the metric', async () => {
  const r = await cli(['inspect', ...args, '--wrong', ' John']);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/inspection \(top 5, direct logit attribution, logit lens\) in \d+ ms/);
  const j = JSON.parse(r.stdout);
  expect(Object.keys(j)).toEqual(['tokens', 'metric', 'direction', 'position', 'top5', 'dla', 'logit_lens']);
  const { clean, corrupted, answer, wrong } = j.tokens;
  const P = clean.length;
  expect(j.position).toBe(P - 1);
  expect([j.dla.target, j.dla.wrong, j.dla.sums_to]).toEqual([answer, wrong, 'logit(target) - logit(wrong)']);
  expect(j.top5.clean[0]).toMatchObject({ id: answer, text: ' Mary' });
  expect(j.logit_lens.hooks).toEqual(['blocks.0.hook_resid_pre', 'blocks.0.hook_resid_post', 'blocks.1.hook_resid_post', 'blocks.2.hook_resid_post']);
  for (const runName of ['clean', 'corrupted'] as const) {
    const ref = referenceInspect(cfg, weights, j.tokens[runName], { pos: P - 1, target: answer, wrong, k: 5 });
    expectTokens(`${runName} top5`, j.top5[runName], ref.top);
    const d = j.dla[runName];
    expect([d.heads.length, d.heads[0].length, d.mlps.length]).toEqual([cfg.nLayers, cfg.nHeads, cfg.nLayers]);
    const got = [...d.heads.flat(), ...d.mlps, d.embed, d.attn_bias, d.ln_final_bias];
    expectClose(`${runName} dla`, got, [...ref.heads, ...ref.mlps, ref.embed, ref.attnBias, ref.lnFinalBias], 1e-4);
    const metric = ref.logits[answer] - ref.logits[wrong];
    expect(Math.abs(got.reduce((a: number, b: number) => a + b, 0) - metric)).toBeLessThan(1e-4);
    expect(Math.abs(d.total - metric)).toBeLessThan(1e-4);
    expect(Math.abs(j.metric[runName] - metric)).toBeLessThan(1e-4);
    ref.lens.forEach((want, l) => expectTokens(`${runName} lens ${l}`, j.logit_lens[runName][l], want));
  }
  expect(clean).not.toEqual(corrupted);
}, 60_000);

it('inspect with the logit metric needs no --wrong and sums to logit(answer); bad input exits 2', async () => {
  const r = await cli(['inspect', ...args, '--metric', 'logit']);
  expect(r.code, r.stderr).toBe(0);
  const j = JSON.parse(r.stdout);
  expect([j.dla.wrong, j.dla.sums_to]).toEqual([null, 'logit(target)']);
  expect(Math.abs(j.dla.clean.total - j.metric.clean)).toBeLessThan(1e-4);
  expect(j.top5.clean.find((t: Scored) => t.id === j.tokens.answer).logit).toBeCloseTo(j.metric.clean, 4);
  const bad = await cli(['inspect', ...args]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--wrong is required for the logit_diff metric/);
}, 60_000);
