// Joint patches of node sets and attribution on an already patched run, against the float64 reference
// (test/reference/node-sets-f64.ts), on a random model and both toy models, both directions.
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { loadModelFromDir } from '../model/weights-node';
import { encode } from '../model/tokenizer';
import type { GPT2Config, Weights } from '../model/types';
import { ActivationPatcher } from './activation';
import { runAttribution } from './attribution';
import { experimentFromTokens, type Experiment } from './experiment';
import { CellNameError, cellPatch, jointPatch, parseCell, parseCells, patchOnTop, type Cell } from './node-sets';
import { referenceConditionalAttribution, referenceJointPatch, type HookEntries, type NodePair } from '../../../test/reference/node-sets-f64';
import { logitDiff } from '../../../test/reference/metrics-f64';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());

/** The reference's view of a cell, written out by hand (hook layouts as TransformerLens, no batch axis). */
function entries(cfg: GPT2Config, c: Cell): HookEntries {
  const [l, a] = c.index;
  const { nHeads: H, dHead: dh, dModel: D } = cfg;
  switch (c.family) {
    case 'head_out_all_pos': return { hook: `blocks.${l}.attn.hook_z`, select: (i) => Math.floor(i / dh) % H === a }; // [pos, head, d_head]
    case 'mlp_out': return { hook: `blocks.${l}.hook_mlp_out`, select: (i) => Math.floor(i / D) === a }; // [pos, d_model]
    case 'resid_pre': return { hook: `blocks.${l}.hook_resid_pre`, select: (i) => Math.floor(i / D) === a };
    default: throw new Error(`no reference entries for ${c.family}`);
  }
}

function nodePairs(cfg: GPT2Config, exp: Experiment): NodePair[] {
  const d = exp.spec.direction === 'denoising';
  return exp.clean.map((c, i) => ({
    base: d ? exp.corrupted[i] : c, source: d ? c : exp.corrupted[i],
    metric: (l, n, v) => logitDiff(l, n, v, exp.answers[i], exp.wrongs[i]),
  }));
}

async function check(cfg: GPT2Config, weights: Weights, exp: Experiment, set: string, families: ('head_out_all_pos' | 'mlp_out')[]) {
  await rt.setWeights(weights);
  const pairs = nodePairs(cfg, exp);
  const cells = parseCells(cfg, exp.nPos, set);
  const joint = await jointPatch(rt, cfg, exp, cells);
  expectClose('joint patch', [joint], [referenceJointPatch(cfg, weights, pairs, cells.map((c) => entries(cfg, c)))], 1e-4);
  // One cell alone equals the single-cell activation patch.
  const patcher = new ActivationPatcher(rt, cfg);
  expectClose('joint of one = single', [await jointPatch(rt, cfg, exp, [cells[0]])], [await patcher.patch(exp, cells[0].family, cells[0].index)], 1e-5, 1e-3);

  // Patches on top of the set (the app's "Attribute on top"): cells of two layers of one family, each
  // joint(set + cell) - joint(set) by the reference.
  const [extra, ...rest] = cells;
  if (rest.length) {
    const others = [extra.index, extra.index.map(() => 0), extra.index.map((v, i) => (i === 0 ? 1 - Math.min(v, 1) : v))];
    const onTop = await patchOnTop(rt, cfg, exp, rest, extra.family, others);
    const refSet = referenceJointPatch(cfg, weights, pairs, rest.map((c) => entries(cfg, c)));
    const want = others.map((index) => referenceJointPatch(cfg, weights, pairs, [...rest, { family: extra.family, index }].map((c) => entries(cfg, c))) - refSet);
    expectClose('patches on top of the set', onTop, want, 1e-4);
    expect(Math.max(...want.map(Math.abs)), 'a non-degenerate case').toBeGreaterThan(1e-3);
  }

  const res = await runAttribution(rt, cfg, exp, { families, patched: cellPatch(cells) });
  for (const f of families) {
    const got = res.values[f]!;
    const [L, n] = got.shape;
    const all = Array.from({ length: L * n }, (_, i) => entries(cfg, { family: f, index: [Math.floor(i / n), i % n] }));
    const want = referenceConditionalAttribution(cfg, weights, pairs, cells.map((c) => entries(cfg, c)), all);
    expectClose(`conditional attribution ${f}`, got.data, want, 1e-4);
    expect(Math.max(...want.map(Math.abs)), 'a non-degenerate case').toBeGreaterThan(0.05);
    // A patched cell has nothing left to restore.
    for (const c of cells) if (c.family === f) expect(Math.abs(got.data[c.index[0] * n + c.index[1]])).toBeLessThan(1e-6);
  }
  return { joint };
}

describe('node sets', () => {
  const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, name: 'node-sets' });
  const P = 5;
  const exp = (direction: 'denoising' | 'noising') => {
    const clean = [randomTokens(cfg, P, 41), randomTokens(cfg, P, 42)];
    const corrupted = clean.map((c, i) => c.map((t, p) => (p === 2 ? (t + 5 + i) % cfg.dVocab : t)));
    return experimentFromTokens({ clean, corrupted, answers: [3, 8], wrongs: [12, 1], spec: { direction } });
  };
  for (const direction of ['denoising', 'noising'] as const)
    it(`random model, ${direction}: joint patch and conditional attribution match the reference`, async () => {
      await check(cfg, randomWeights(cfg, 13), exp(direction), 'head_out_all_pos[1][0],mlp_out[0][3],resid_pre[1][2]', ['head_out_all_pos', 'mlp_out']);
    });

  const tok = (t: string, bos = true) => encode(t, { prependBos: bos });
  it('toy induction (key-side corruption) and toy IOI, both directions', async () => {
    const ind = await loadModelFromDir('public/models/toy-induction');
    const words = ' cat river gold king bread moon chair snow lion boat cat river gold king bread';
    // Noising is left out here: patching the corrupted key-side information into the clean run saturates it at
    // the corrupted metric, so every conditional attribution is ~0 (a check that cannot fail).
    const e = experimentFromTokens({ clean: [tok(words)], corrupted: [tok(words.replace('king bread moon', 'king tea moon'))], answers: tok(' moon', false), wrongs: tok(' chair', false) });
    // MLP 0 at " moon" carries the key-side information (its noising patch alone moves the metric by -6.66).
    await check(ind.config, ind.weights, e, 'mlp_out[0][6],head_out_all_pos[0][1]', ['head_out_all_pos']);
    const ioi = await loadModelFromDir('public/models/toy-ioi');
    const clean = ' When Mary and John went to the store, John gave the drink to';
    for (const direction of ['denoising', 'noising'] as const) {
      const e = experimentFromTokens({ clean: [tok(clean)], corrupted: [tok(clean.replace(', John gave', ', Mary gave'))], answers: tok(' Mary', false), wrongs: tok(' John', false), spec: { direction } });
      await check(ioi.config, ioi.weights, e, 'head_out_all_pos[1][1],head_out_all_pos[0][3]', ['head_out_all_pos']);
    }
  }, 120_000);

  it.each([
    ['head_out_all_pos[1]', /have 2 indices \(\[2\]\[2\] here\), not 1/],
    ['head_out_all_pos[1][2]', /index 1 is 2, outside 0\.\.1/],
    ['heads[0][0]', /unknown family "heads"/],
    ['mlp_out(0,1)', /not of the form family\[layer\]/],
  ])('bad cell %s: a specific message', (name, msg) => {
    expect(() => parseCell(cfg, P, name)).toThrow(CellNameError);
    expect(() => parseCell(cfg, P, name)).toThrow(msg);
  });
});
