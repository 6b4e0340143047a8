import { describe, expect, it } from 'vitest';
import type { Metric } from './finite-diff';
import { flatIndex, hookNames, hookShape, referenceForward } from './gpt2-f64';
import { logitDiff } from './metrics-f64';
import { referencePatch, referencePatchForward } from './patch-f64';
import { randomTokens, randomWeights, tinyConfig } from './random-weights';

const cfg = tinyConfig();
const weights = randomWeights(cfg, 3);
const { nLayers, nHeads: H, dHead: dh, dModel: D, dVocab } = cfg;
const clean = randomTokens(cfg, 10, 9);
const j = 4; // the one position where the prompts differ
const corrupted = clean.map((t, i) => (i === j ? (t + 7) % dVocab : t));
const T = clean.length;
const metric: Metric = (l, n, v) => logitDiff(l, n, v, 5, 6);
const run = (tokens: number[]) => metric(referenceForward(cfg, weights, tokens).logits, T, dVocab);
const cleanMetric = run(clean);
const corruptedMetric = run(corrupted);
const denoise = (hook: string, mask?: number[] | ((i: number) => boolean)) =>
  referencePatch(cfg, weights, { target: corrupted, source: clean, hook, mask, metric });

describe('referencePatch', () => {
  it('the prompts give different metrics', () => {
    expect(Math.abs(cleanMetric - corruptedMetric)).toBeGreaterThan(1e-2);
  });

  it("patching all of the last layer's resid_post reproduces the source metric exactly", () => {
    expect(denoise(`blocks.${nLayers - 1}.hook_resid_post`)).toBe(cleanMetric);
    expect(denoise('blocks.0.hook_resid_pre')).toBe(cleanMetric);
    expect(denoise('hook_embed')).toBe(cleanMetric); // positions are shared
    expect(denoise('ln_final.hook_normalized')).toBe(cleanMetric);
  });

  it('patching nothing, or only where the prompts agree, leaves the target metric exactly', () => {
    expect(denoise('blocks.1.hook_resid_mid', [])).toBe(corruptedMetric);
    expect(denoise('blocks.1.hook_resid_mid', () => false)).toBe(corruptedMetric);
    expect(denoise('blocks.0.hook_resid_pre', (i) => Math.floor(i / D) !== j)).toBe(corruptedMetric);
    // Positions before j do not see the difference, at any layer.
    expect(denoise(`blocks.${nLayers - 1}.hook_resid_post`, (i) => Math.floor(i / D) < j)).toBe(corruptedMetric);
  });

  it('patching resid_pre of block 0 at the differing position alone restores the source metric', () => {
    expect(denoise('blocks.0.hook_resid_pre', (i) => Math.floor(i / D) === j)).toBe(cleanMetric);
  });

  it('noising is the same operation with the roles swapped', () => {
    const hook = `blocks.${nLayers - 1}.hook_resid_post`;
    expect(referencePatch(cfg, weights, { target: clean, source: corrupted, hook, metric })).toBe(corruptedMetric);
  });

  it('index lists and predicates select the same entries; the patched cache holds source values there', () => {
    const hook = 'blocks.1.attn.hook_z';
    const shape = hookShape(cfg, hook, T);
    const head = 2;
    const indices: number[] = [];
    for (let t = 0; t < T; t++) for (let e = 0; e < dh; e++) indices.push(flatIndex(shape, [t, head, e]));
    const byPredicate = denoise(hook, (i) => Math.floor(i / dh) % H === head);
    expect(denoise(hook, indices)).toBe(byPredicate);
    expect(byPredicate).not.toBe(corruptedMetric);

    const spec = { target: corrupted, source: clean, hook, mask: indices, metric };
    const patched = referencePatchForward(cfg, weights, spec);
    const z = patched.cache.get(hook)!.data;
    const zClean = referenceForward(cfg, weights, clean).cache.get(hook)!.data;
    const zCorrupt = referenceForward(cfg, weights, corrupted).cache.get(hook)!.data;
    const chosen = new Set(indices);
    for (let i = 0; i < z.length; i++) expect(z[i]).toBe(chosen.has(i) ? zClean[i] : zCorrupt[i]);
  });

  it('patching every head of hook_z equals patching hook_attn_out', () => {
    for (let l = 0; l < nLayers; l++)
      expect(denoise(`blocks.${l}.attn.hook_z`)).toBeCloseTo(denoise(`blocks.${l}.hook_attn_out`), 12);
  });

  it('every hook can be patched; head-by-position patches of hook_z move the metric only from position j on', () => {
    for (const hook of hookNames(cfg)) expect(Number.isFinite(denoise(hook)), hook).toBe(true);
    const hook = 'blocks.2.attn.hook_z';
    const shape = hookShape(cfg, hook, T);
    for (let t = 0; t < T; t++) {
      const m = denoise(hook, (i) => Math.floor(i / (H * dh)) === t);
      if (t < j) expect(m).toBe(corruptedMetric);
      else if (t === T - 1) expect(m).not.toBe(corruptedMetric);
    }
    expect(shape).toEqual([T, H, dh]);
  });

  it('rejects mismatched lengths, unknown hooks and bad indices', () => {
    expect(() =>
      referencePatch(cfg, weights, { target: corrupted, source: clean.slice(1), hook: 'hook_embed', metric }),
    ).toThrow(/equal lengths/);
    expect(() => denoise('blocks.0.hook_z')).toThrow(/unknown hook/);
    expect(() => denoise('hook_embed', [T * D])).toThrow(/outside/);
  });
});
