// Metrics on internal activations (attn, prefix, neuron, dla) against the independent float64 reference
// (test/reference/internal-metrics-f64.ts): their values in both runs, attribution (AtP against the reference's
// directional derivatives), exact patches (full and suffix graphs, trimmed and untrimmed last layer), and the
// not-upstream cells (NaN, never 0). All within 1e-4 relative of the largest value.
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { PatchingEngine } from './index';
import { experimentFromTokens, type Experiment } from './experiment';
import { parseMetric } from './metric-spec';
import { edgeLayout, parseEdges } from './edges';
import type { Family } from './types';
import { refCell, refIndices } from '../../../test/reference/cells-f64';
import {
  refAtp, refIg, refInternalMetric, refPatch, refPathPatchMlp, refRun, refUpstream, refWeights, type RefMetric, type RefSite,
} from '../../../test/reference/internal-metrics-f64';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());

const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, name: 'tiny-internal' });
const weights = randomWeights(cfg, 23);
const w64 = refWeights(cfg, weights);
const engine = await PatchingEngine.create(rt, cfg, weights);
const P = 8;
// Repeated random tokens (prefix matching needs repeats): A B C D A B C D.
const clean = [0, 1].map((i) => {
  const half = randomTokens(cfg, P / 2, 40 + i);
  return [...half, ...half];
});
const corrupted = clean.map((c, i) => c.map((t, p) => (p === 2 || p === 5 ? (t + 5 + i) % cfg.dVocab : t)));
const answers = [4, 9];
const wrongs = [11, 2];

const SITES: [string, RefSite][] = [
  ['attn:1.1:6:3', { kind: 'attn', layer: 1, head: 1, query: 6, key: 3 }],
  ['attn:0.0:5:2', { kind: 'attn', layer: 0, head: 0, query: 5, key: 2 }],
  ['prefix:1.0', { kind: 'prefix', layer: 1, head: 0 }],
  ['neuron:0.6.7', { kind: 'neuron', layer: 0, pos: 6, neuron: 7 }],
  ['neuron:1.7.3', { kind: 'neuron', layer: 1, pos: 7, neuron: 3 }],
  ['dla:1.1', { kind: 'dla', layer: 1, head: 1 }],
  ['dla:0.0', { kind: 'dla', layer: 0, head: 0 }],
];

function setup(text: string, site: RefSite, direction: 'denoising' | 'noising' = 'denoising') {
  const exp: Experiment = experimentFromTokens({
    clean, corrupted, answers, wrongs, spec: { metric: parseMetric(text), direction },
  });
  const metrics: RefMetric[] = clean.map((c, b) => refInternalMetric(cfg, w64, site, c, answers[b], wrongs[b]));
  const [base, source] = direction === 'denoising' ? [corrupted, clean] : [clean, corrupted];
  return { exp, metrics, base, source };
}

/** Reference per cell of a family, the mean over pairs; NaN where the hook is not upstream. */
function reference(family: Family, site: RefSite, s: ReturnType<typeof setup>, how: 'patch' | 'atp'): number[] {
  return refIndices(family, cfg, P).map((idx) => {
    const cell = refCell(family, cfg, P, idx);
    if (!refUpstream(site, cell.hook)) return NaN;
    const f = how === 'patch' ? refPatch : refAtp;
    return clean.reduce((acc, _, b) => acc + f(cfg, w64, s.base[b], s.source[b], cell.hook, cell.entries, s.metrics[b]), 0) / clean.length;
  });
}

const FAMS: Family[] = ['resid_pre', 'head_out', 'pattern_by_pos', 'mlp_post', 'resid_mid', 'v'];

describe('internal metrics against the float64 reference', () => {
  it.each(SITES)('%s: the metric of the clean and corrupted runs', async (text, site) => {
    const s = setup(text, site);
    const m = await engine.metrics(s.exp);
    const mean = (tokens: number[][]) => tokens.reduce((a, t, b) => a + refRun(cfg, w64, t, s.metrics[b]), 0) / tokens.length;
    expectClose(`${text} metric`, [m.clean, m.corrupted], [mean(clean), mean(corrupted)], 1e-4);
    expect(Math.abs(m.clean - m.corrupted)).toBeGreaterThan(1e-3); // the prompts' difference reaches it
  });

  it.each(SITES)('%s: attribution (AtP) per family equals the reference; not-upstream cells are NaN', async (text, site) => {
    const s = setup(text, site);
    const r = await engine.attribute(s.exp, { families: FAMS });
    for (const f of FAMS) {
      const want = reference(f, site, s, 'atp');
      const got = r.values[f]!.data;
      expect(Array.from(got, Number.isNaN), `${text} ${f} not upstream`).toEqual(want.map(Number.isNaN));
      expectClose(`${text} AtP ${f}`, got.filter((x: number) => !Number.isNaN(x)), want.filter((x: number) => !Number.isNaN(x)), 1e-4);
    }
  });

  it.each(SITES)('%s: exact patches (sweeps, suffix graphs) equal the reference; not-upstream cells are NaN', async (text, site) => {
    const s = setup(text, site);
    for (const f of ['resid_pre', 'head_out', 'mlp_post', 'v'] as Family[]) {
      const want = reference(f, site, s, 'patch');
      // positionBucket 1: a patch at position p computes positions >= p only (cached prefix): the suffix graphs.
      const got = (await engine.sweep(s.exp, f, { positionBucket: 1 })).data;
      expect(Array.from(got, Number.isNaN), `${text} ${f} not upstream`).toEqual(want.map(Number.isNaN));
      expectClose(`${text} patch ${f}`, got.filter((x: number) => !Number.isNaN(x)), want.filter((x: number) => !Number.isNaN(x)), 1e-4);
    }
  });

  it('noising: attn and dla patches and attribution', async () => {
    for (const [text, site] of [SITES[0], SITES[5]]) {
      const s = setup(text, site, 'noising');
      const f: Family = 'resid_pre';
      expectClose(`${text} noising patch`, (await engine.sweep(s.exp, f)).data.filter((x: number) => !Number.isNaN(x)), reference(f, site, s, 'patch').filter((x: number) => !Number.isNaN(x)), 1e-4);
      expectClose(`${text} noising AtP`, (await engine.attribute(s.exp, { families: [f] })).values[f]!.data.filter((x: number) => !Number.isNaN(x)),
        reference(f, site, s, 'atp').filter((x: number) => !Number.isNaN(x)), 1e-4);
    }
  });

  it('edges: path patches into MLP receivers equal the reference; edges into receivers after the metric are NaN', async () => {
    const [text, site] = SITES[4]; // neuron:1.7.3 reads blocks.1.mlp.hook_post: m1's input is upstream, logits are not
    const s = setup(text, site);
    const names = ['input->m1', 'a0.h1->m1', 'm0->m1', 'a1.h0->m1', 'a0.h0->m0', 'm1->logits', 'a0.h1->a1.h0<q>'];
    const got = await engine.pathPatch(s.exp, parseEdges(cfg, names));
    const want = names.slice(0, 5).map((n) => {
      const [sender, receiver] = n.split('->');
      const layer = Number(receiver.slice(1));
      return clean.reduce((a, _, b) => a + refPathPatchMlp(cfg, w64, s.base[b], s.source[b], sender, layer, s.metrics[b]), 0) / clean.length;
    });
    expectClose(`${text} path patches`, got.slice(0, 5), want, 1e-4);
    expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(1e-3);
    expect(Number.isNaN(got[5])).toBe(true);
    expect(Number.isFinite(got[6])).toBe(true); // a query input of layer 1 feeds layer 1's MLP: upstream
    // Edge attribution: every edge into logits is NaN; the others are numbers; ranking leaves the NaN ones out.
    const scores = await engine.edgeScores(s.exp);
    const { receivers, upstream } = edgeLayout(cfg);
    const R = receivers.length;
    receivers.forEach((r, v) => {
      for (let u = 0; u < upstream[v]; u++) expect(Number.isNaN(scores.edges[u * R + v]), `${r}`).toBe(r === 'logits');
    });
    // Circuit: every edge restores the source run's metric exactly; faithfulness 1.
    const { upstream: up } = edgeLayout(cfg);
    const all = up.flatMap((n, v) => Array.from({ length: n }, (_, u) => ({ sender: u, receiver: v })));
    const [c] = await engine.evaluateCircuits(s.exp, [all]);
    const m = await engine.metrics(s.exp);
    expectClose('full circuit', [c.metric], [m.clean], 1e-4);
  });

  it('per pair: attribution and exact patches of each pair equal the reference (dla, neuron)', async () => {
    for (const [text, site] of [SITES[5], SITES[3]]) {
      const s = setup(text, site);
      const f: Family = 'head_out';
      const perPair = (how: 'patch' | 'atp') => clean.flatMap((_, b) => refIndices(f, cfg, P).map((idx) => {
        const cell = refCell(f, cfg, P, idx);
        if (!refUpstream(site, cell.hook)) return NaN;
        return (how === 'patch' ? refPatch : refAtp)(cfg, w64, s.base[b], s.source[b], cell.hook, cell.entries, s.metrics[b]);
      }));
      const attr = (await engine.attribute(s.exp, { families: [f], perPair: true })).pairs!.values[f]!.data;
      const exact = (await engine.sweepPairs(s.exp, f)).values.data;
      for (const [label, got, want] of [['AtP', attr, perPair('atp')], ['patch', exact, perPair('patch')]] as const) {
        expect(Array.from(got, Number.isNaN), `${text} ${label} not upstream`).toEqual(want.map(Number.isNaN));
        expectClose(`${text} per-pair ${label}`, got.filter((x: number) => !Number.isNaN(x)), want.filter((x: number) => !Number.isNaN(x)), 1e-4);
      }
    }
  });

  it('integrated gradients (ig-layer, ig-inputs, 3 steps) and the QK fix on value families equal the reference', async () => {
    for (const [text, site] of [SITES[0], SITES[5]]) {
      const s = setup(text, site);
      for (const [method, f, interpolated] of [['ig-layer', 'head_out', null], ['ig-inputs', 'resid_pre', 'blocks.0.hook_resid_pre']] as const) {
        const got = (await engine.attribute(s.exp, { families: [f], method, steps: 3 })).values[f]!.data;
        const want = refIndices(f, cfg, P).map((idx) => {
          const cell = refCell(f, cfg, P, idx);
          if (!refUpstream(site, cell.hook)) return NaN;
          return clean.reduce((a, _, b) => a + refIg(cfg, w64, s.base[b], s.source[b], cell.hook, cell.entries, s.metrics[b], 3, interpolated ?? cell.hook), 0) / clean.length;
        });
        expect(Array.from(got, Number.isNaN), `${text} ${method}`).toEqual(want.map(Number.isNaN));
        expectClose(`${text} ${method} ${f}`, got.filter((x) => !Number.isNaN(x)), want.filter((x) => !Number.isNaN(x)), 1e-4);
      }
      // The QK fix changes only query and key families: elsewhere it is AtP.
      const qk = (await engine.attribute(s.exp, { families: ['v'], method: 'qk-fix' })).values.v!.data;
      expectClose(`${text} qk-fix v`, qk.filter((x) => !Number.isNaN(x)), reference('v', site, s, 'atp').filter((x) => !Number.isNaN(x)), 1e-4);
    }
  });
});
