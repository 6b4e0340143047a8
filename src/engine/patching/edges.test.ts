// Edge attribution, exact path patching and circuit evaluation against the independent float64 reference
// (test/reference/edges-f64.ts): random models of several configs and both shipped toy models, both directions.
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { loadModelFromDir } from '../model/weights-node';
import { encode } from '../model/tokenizer';
import type { GPT2Config, Weights } from '../model/types';
import { EdgePatcher } from './circuit';
import { EdgeNameError, allEdges, edgeLayout, edgeName, parseEdge, rankEdges, runEdgeAttribution, type Edge } from './edges';
import { runAttribution } from './attribution';
import { experimentFromTokens, type Experiment } from './experiment';
import { cellPatch, jointPatch, type Cell } from './node-sets';
import { toyIoiPairs } from '../../ui/presets';
import { referenceCircuit, referenceEdgeScores, referenceMetrics, referencePathPatch, type OnTop, type RefPair } from '../../../test/reference/edges-f64';
import { logSumExp } from '../../../test/reference/metrics-f64';
import { mulberry32, randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());

type Direction = 'denoising' | 'noising';

function refPairs(exp: Experiment): RefPair[] {
  const denoising = exp.spec.direction === 'denoising';
  return exp.clean.map((c, i) => {
    const [a, w] = [exp.answers[i], exp.wrongs[i]];
    return {
      base: denoising ? exp.corrupted[i] : c,
      source: denoising ? c : exp.corrupted[i],
      metric: exp.spec.metric.name === 'logprob' ? (l) => l.at(a) - logSumExp(l.all()) : (l) => l.at(a) - l.at(w),
    };
  });
}

/**
 * Checks everything the engine computes on one experiment against the reference. `receivers` limits the
 * finite-difference check of edge scores to some receivers (toy models); `pathEdges` is how many edges to path-patch.
 */
async function checkAgainstReference(cfg: GPT2Config, weights: Weights, exp: Experiment, opts: { receivers?: string[]; pathEdges: number }) {
  await rt.setWeights(weights);
  const pairs = refPairs(exp);
  const scores = await runEdgeAttribution(rt, cfg, exp);
  const { layout } = scores;
  const [S, R] = [layout.senders.length, layout.receivers.length];
  const ref = referenceEdgeScores(cfg, weights, pairs, { freezeLn: exp.spec.options.freezeLayerNorm, receivers: opts.receivers });

  // Edge scores and receiver totals, by name.
  const edges = allEdges(layout).filter((e) => ref.totals.has(layout.receivers[e.receiver]));
  expectClose('edge attribution', edges.map((e) => scores.edges[e.sender * R + e.receiver]), edges.map((e) => ref.edges.get(edgeName(layout, e))!), 1e-4);
  const checked = layout.receivers.map((r, i) => [r, i] as const).filter(([r]) => ref.totals.has(r));
  expectClose('receiver totals', checked.map(([, i]) => scores.receiverTotals[i]), checked.map(([r]) => ref.totals.get(r)!), 1e-4);
  // Non-edges are 0; the identity: each receiver's edges sum to its total (to float32 rounding).
  const sums = new Float64Array(R);
  for (let s = 0; s < S; s++)
    for (let r = 0; r < R; r++) {
      if (s >= layout.upstream[r]) expect(scores.edges[s * R + r]).toBe(0);
      sums[r] += scores.edges[s * R + r];
    }
  expectClose('receiver identity', sums, scores.receiverTotals, 1e-5);
  // For logits the total is the node attribution of the last layer's resid_post, summed over positions.
  if (!exp.spec.options.freezeLayerNorm) {
    const node = (await runAttribution(rt, cfg, exp, { families: ['resid_post'] })).values.resid_post!;
    const last = node.data.slice((cfg.nLayers - 1) * exp.nPos, cfg.nLayers * exp.nPos).reduce((a, b) => a + b, 0);
    expectClose('logits total = resid_post attribution', [scores.receiverTotals[R - 1]], [last], 1e-5);
  }

  // Path patches: the top edges by attribution and a few random ones.
  const patcher = new EdgePatcher(rt, cfg);
  const ranked = rankEdges(scores);
  const rng = mulberry32(7);
  const all = allEdges(layout);
  const chosen: Edge[] = [...ranked.slice(0, Math.ceil(opts.pathEdges / 2)), ...Array.from({ length: Math.floor(opts.pathEdges / 2) }, () => all[Math.floor(rng() * all.length)])];
  const exact = await patcher.pathPatch(exp, chosen);
  const refExact = chosen.map((e) => referencePathPatch(cfg, weights, pairs, edgeName(layout, e)));
  expectClose('path patch', exact, refExact, 1e-4);

  // Circuits: empty, full, top 3, top 10, a random half.
  const m = referenceMetrics(cfg, weights, pairs);
  const circuits: Edge[][] = [[], all, ranked.slice(0, 3), ranked.slice(0, 10), all.filter(() => rng() < 0.5)];
  const got = await patcher.evaluate(exp, circuits);
  const want = circuits.map((c) => referenceCircuit(cfg, weights, pairs, new Set(c.map((e) => edgeName(layout, e)))));
  expectClose('circuit metrics', got, want, 1e-4);
  const metrics = await patcher.metrics(exp);
  expectClose('base and source metrics', [metrics.base, metrics.source], [m.base, m.source], 1e-5);
  // The full circuit is the source run exactly; the empty one is the base run (up to float32 rounding).
  expect(got[1]).toBeCloseTo(metrics.source, 5);
  expectClose('empty circuit = base', [got[0]], [metrics.base], 1e-5, Math.abs(metrics.source - metrics.base));
  const faith = await patcher.faithfulness(exp, [[], all]);
  expect(faith[0].faithfulness).toBeCloseTo(0, 4);
  expect(faith[1].faithfulness).toBeCloseTo(1, 4);
  return { scores, exact, chosen };
}

function randomExp(cfg: GPT2Config, direction: Direction, metric: 'logit_diff' | 'logprob', freezeLayerNorm = false): Experiment {
  const P = 5;
  const clean = [randomTokens(cfg, P, 31), randomTokens(cfg, P, 32)];
  const corrupted = clean.map((c, i) => c.map((t, p) => (p === 1 || p === 3 ? (t + 7 + i) % cfg.dVocab : t)));
  return experimentFromTokens({
    clean, corrupted, answers: [4, 9], wrongs: [11, 2],
    spec: { metric: { name: metric }, direction, options: { freezeLayerNorm, freezeAttention: false } },
  });
}

describe('edges on random models', () => {
  const configs: [string, GPT2Config][] = [
    ['2 layers x 2 heads', tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, name: 'edges-a' })],
    ['3 layers x 3 heads', tinyConfig({ nLayers: 3, nHeads: 3, dModel: 12, dHead: 4, dMlp: 20, dVocab: 25, name: 'edges-b' })],
  ];
  for (const [label, cfg] of configs)
    for (const direction of ['denoising', 'noising'] as const)
      it(`${label}, ${direction}: scores, identity, path patches and circuits match the reference`, async () => {
        await checkAgainstReference(cfg, randomWeights(cfg, 21), randomExp(cfg, direction, 'logit_diff'), { pathEdges: 8 });
      });

  it('log-prob metric with frozen LayerNorm scales', async () => {
    const cfg = configs[0][1];
    await checkAgainstReference(cfg, randomWeights(cfg, 5), randomExp(cfg, 'denoising', 'logprob', true), { pathEdges: 4 });
  });
});

const tok = (text: string, bos = true) => encode(text, { prependBos: bos });

/** Toy induction with a key-side corruption: the first-half token BEFORE the copied one changes (bread -> tea). */
export function inductionKeySide(direction: Direction = 'denoising'): Experiment {
  const words = ' cat river gold king bread moon chair snow lion boat cat river gold king bread';
  const clean = tok(words);
  const corrupted = tok(words.replace('king bread moon', 'king tea moon'));
  return experimentFromTokens({ clean: [clean], corrupted: [corrupted], answers: tok(' moon', false), wrongs: tok(' chair', false), spec: { direction } });
}

describe('edges on the shipped toy models', () => {
  it('toy induction, key-side corruption, both directions', async () => {
    const { config, weights } = await loadModelFromDir('public/models/toy-induction');
    for (const direction of ['denoising', 'noising'] as const) {
      const exp = inductionKeySide(direction);
      // Finite differences for the receivers of layer 1 and logits (the induction head's inputs).
      const receivers = ['a1.h0<q>', 'a1.h0<k>', 'a1.h0<v>', 'm1', 'logits', 'a0.h2<k>'];
      await checkAgainstReference(config, weights, exp, { receivers, pathEdges: 10 });
    }
  }, 120_000);

  it('toy IOI preset pairs, both directions', async () => {
    const { config, weights } = await loadModelFromDir('public/models/toy-ioi');
    const pairs = toyIoiPairs().slice(0, 2);
    for (const direction of ['denoising', 'noising'] as const) {
      const exp = experimentFromTokens({
        clean: pairs.map((p) => tok(p.clean)), corrupted: pairs.map((p) => tok(p.corrupted)),
        answers: pairs.map((p) => tok(p.answer, false)[0]), wrongs: pairs.map((p) => tok(p.wrong, false)[0]), spec: { direction },
      });
      const receivers = ['a2.h3<q>', 'a2.h3<k>', 'a1.h1<v>', 'm1', 'logits'];
      await checkAgainstReference(config, weights, exp, { receivers, pathEdges: 10 });
    }
  }, 120_000);
});

/**
 * Edges on top of a patched set (the app's "Attribute on top"): scores, path patches and circuits on the base run
 * with `cells` taken from the source run, against the reference with the same senders replaced (`onTop`, the
 * reference's own words for the cells: a head's output at every position, an MLP's at one position).
 */
async function checkOnTop(cfg: GPT2Config, weights: Weights, exp: Experiment, cells: Cell[], onTop: OnTop, receivers?: string[]) {
  await rt.setWeights(weights);
  const pairs = refPairs(exp);
  const patched = cellPatch(cells);
  const scores = await runEdgeAttribution(rt, cfg, exp, 'atp', 1, patched);
  const { layout } = scores;
  const R = layout.receivers.length;
  const ref = referenceEdgeScores(cfg, weights, pairs, { onTop, receivers });
  const edges = allEdges(layout).filter((e) => ref.totals.has(layout.receivers[e.receiver]));
  expectClose('edge attribution on top', edges.map((e) => scores.edges[e.sender * R + e.receiver]), edges.map((e) => ref.edges.get(edgeName(layout, e))!), 1e-4);
  // The base metric is the patched run's: the plain base metric plus the set's joint patch.
  const plain = referenceMetrics(cfg, weights, pairs);
  const joint = await jointPatch(rt, cfg, exp, cells);
  const baseRole = exp.spec.direction === 'denoising' ? 'corrupted' : 'clean';
  expectClose('patched base metric', [scores.metric[baseRole]], [plain.base + joint], 1e-4);

  const patcher = new EdgePatcher(rt, cfg);
  const ranked = rankEdges(scores);
  const chosen = ranked.slice(0, 6);
  const exact = await patcher.pathPatch(exp, chosen, { patched });
  expectClose('path patch on top', exact, chosen.map((e) => referencePathPatch(cfg, weights, pairs, edgeName(layout, e), onTop)), 1e-4);
  const plainExact = await patcher.pathPatch(exp, chosen);
  expect(Math.max(...Array.from(exact, (x, i) => Math.abs(x - plainExact[i]))), 'differs from the plain path patches').toBeGreaterThan(1e-3);

  const all = allEdges(layout);
  const circuits: Edge[][] = [[], all, ranked.slice(0, 3), ranked.slice(0, 10)];
  const got = await patcher.evaluate(exp, circuits, { patched });
  expectClose('circuits on top', got, circuits.map((c) => referenceCircuit(cfg, weights, pairs, new Set(c.map((e) => edgeName(layout, e))), onTop)), 1e-4);
  // The empty circuit is the patched run, the full one the source run.
  const m = await patcher.metrics(exp, patched);
  expectClose('empty circuit = patched base', [got[0]], [m.base], 1e-5, Math.abs(m.source - m.base));
  expect(got[1]).toBeCloseTo(m.source, 5);
}

describe('edges on top of a patched set', () => {
  it('random model, both directions', async () => {
    const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, name: 'edges-ontop' });
    const cells: Cell[] = [{ family: 'head_out_all_pos', index: [0, 1] }, { family: 'mlp_out', index: [0, 3] }];
    const onTop: OnTop = [{ sender: 'a0.h1' }, { sender: 'm0', positions: [3] }];
    for (const direction of ['denoising', 'noising'] as const) await checkOnTop(cfg, randomWeights(cfg, 21), randomExp(cfg, direction, 'logit_diff'), cells, onTop);
  });

  it('toy induction, key-side corruption: the previous-token head patched on top', async () => {
    const { config, weights } = await loadModelFromDir('public/models/toy-induction');
    await checkOnTop(config, weights, inductionKeySide(), [{ family: 'head_out_all_pos', index: [0, 2] }], [{ sender: 'a0.h2' }], ['a1.h0<k>', 'a1.h0<v>', 'logits']);
  }, 120_000);
});

describe('edge names', () => {
  const cfg = tinyConfig({ nLayers: 2, nHeads: 4 });
  it('round-trips every edge', () => {
    const layout = edgeLayout(cfg);
    expect(allEdges(layout)).toHaveLength(layout.upstream.reduce((a, b) => a + b, 0));
    for (const name of ['input->a0.h0<q>', 'a0.h1->a1.h0<k>', 'a0.h3->m0', 'm0->a1.h2<v>', 'm1->logits', 'input->logits']) {
      const e = parseEdge(cfg, name);
      expect(edgeName(layout, e)).toBe(name);
    }
  });
  it.each([
    ['a3.h0->a1.h0<q>', /layer 3, but the model has layers 0\.\.1/],
    ['a1.h0->a1.h0<q>', /a1\.h0 is not upstream of a1\.h0<q>/],
    ['m1->a1.h0<q>', /not upstream/],
    ['a0.h4->m1', /head 4, but the model has heads 0\.\.3/],
    ['a0.h0->a1.h0<x>', /unknown receiver "a1\.h0<x>"/],
    ['b0->m1', /unknown sender "b0"/],
    ['a0.h0', /not of the form sender->receiver/],
    ['logits->m1', /unknown sender "logits"/],
  ])('%s: a specific message', (name, msg) => {
    expect(() => parseEdge(cfg, name)).toThrow(EdgeNameError);
    expect(() => parseEdge(cfg, name)).toThrow(msg);
  });
});

describe('edges on onnxruntime-web', () => {
  it('the wasm provider gives the same scores, path patches and circuits as onnxruntime-node', async () => {
    const { createWebRuntime } = await import('../runtime/web');
    const ortWeb = (await import('onnxruntime-web')) as unknown as import('../runtime/ort-runtime').OrtModule;
    const wasm = await createWebRuntime(ortWeb, { backend: 'wasm' });
    try {
      const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, name: 'edges-web' });
      const weights = randomWeights(cfg, 4);
      const exp = randomExp(cfg, 'denoising', 'logit_diff');
      const results = [];
      for (const r of [rt, wasm]) {
        await r.setWeights(weights);
        const s = await runEdgeAttribution(r, cfg, exp);
        const patcher = new EdgePatcher(r, cfg);
        const top = rankEdges(s).slice(0, 6);
        results.push({ s, path: await patcher.pathPatch(exp, top), circuits: await patcher.evaluate(exp, [top, top.slice(0, 2)]) });
      }
      const [a, b] = results;
      expectClose('edges', b.s.edges, a.s.edges, 1e-5, 1e-6);
      expectClose('path', b.path, a.path, 1e-5, 1e-6);
      expectClose('circuits', b.circuits, a.circuits, 1e-5, 1e-6);
    } finally {
      await wasm.dispose();
    }
  });
});
