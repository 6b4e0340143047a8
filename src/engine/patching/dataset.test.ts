// Datasets of pairs (issue 13, item 1): parsing with line-and-field messages, and per-pair attribution and activation
// patches, their mean and sem, batched by length, against the float64 reference pair by pair.
import { afterAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../runtime/node';
import { ActivationPatcher } from './activation';
import { runAttribution } from './attribution';
import { DatasetError, batches, parsePairs, resolvePairs, runBatches } from './dataset';
import { ExperimentError, experimentFromTokens, type Experiment } from './experiment';
import type { Family } from './families';
import { referenceForward } from '../../../test/reference/gpt2-f64';
import { refCell, refIndices } from '../../../test/reference/cells-f64';
import { hookGradFD } from '../../../test/reference/finite-diff';
import { referencePatch } from '../../../test/reference/patch-f64';
import * as M from '../../../test/reference/metrics-f64';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

describe('parsePairs', () => {
  const jsonl = [
    '{"clean": "When John and Mary went, John gave it to", "corrupted": "When John and Mary went, Mary gave it to", "answer": " Mary", "wrong": " John"}',
    '',
    '{"clean": "a, b", "corrupted": "a, c", "answer": " d", "wrong": " e", "positions": [1, 2], "meta": {"seed": 3}}',
  ].join('\n');

  it('reads JSONL, skipping blank lines, keeping line numbers, positions and meta', () => {
    const r = parsePairs(jsonl, 'jsonl');
    expect(r.map((p) => p.line)).toEqual([1, 3]);
    expect(r[0]).toMatchObject({ answer: ' Mary', wrong: ' John' });
    expect(r[1]).toMatchObject({ positions: [1, 2], meta: { seed: 3 } });
  });

  it('reads CSV with a header, quoted commas, doubled quotes, newlines in quotes and leading spaces', () => {
    const csv = 'clean,corrupted,answer,wrong,positions\n"a, ""b""",a c, Mary, John,\n"x\ny",x z, Tom, Ann,"1 2"\n';
    const r = parsePairs(csv, 'csv');
    expect(r).toHaveLength(2);
    expect(r[0]).toMatchObject({ line: 2, clean: 'a, "b"', corrupted: 'a c', answer: ' Mary', wrong: ' John' });
    expect(r[0].positions).toBeUndefined();
    expect(r[1]).toMatchObject({ line: 3, clean: 'x\ny', answer: ' Tom', positions: [1, 2] });
  });

  it.each([
    ['jsonl', '{"clean": "a", "corrupted": "b", "answer": " c"}\n{"clean": "a", "corrupted": "b", "answer": 3}', /line 2, field "answer": must be a string, not number/],
    ['jsonl', '{"clean": "a", "corrupted": "b", "answer": " c"}\n\n{"clean": "a", "answer": " c"}', /line 3, field "corrupted": missing/],
    ['jsonl', '{"clean": "a", "corrupted": "b", "answer": " c"}\n{"clean": "a",', /line 2: not valid JSON/],
    ['jsonl', '{"clean": "a", "corrupted": "b", "answer": " c", "positons": [1]}', /line 1, field "positons": unknown field/],
    ['jsonl', '{"clean": "a", "corrupted": "b", "answer": " c", "positions": [1, -2]}', /line 1, field "positions": must be a non-empty list/],
    ['jsonl', '[1, 2]', /line 1: expected a JSON object/],
    ['jsonl', '\n\n', /line 1: the file has no pairs/],
    ['csv', 'clean,corrupted,answer\na,b, c\na,b\n', /line 3: 2 fields, but the header names 3/],
    ['csv', 'clean,corrupted,wrong\na,b, c\n', /line 1, field "answer": the header has no "answer" column/],
    ['csv', 'clean,corupted,answer\na,b, c\n', /line 1: unknown column "corupted"/],
    ['csv', 'clean,corrupted,answer\n"a,b, c\n', /line 2: a quoted field is not closed/],
    ['csv', 'clean,corrupted,answer,positions\na,b, c,x1\n', /line 2, field "positions"/],
  ] as const)('%s: %s names the line and field', (format, text, message) => {
    expect(() => parsePairs(text, format, 'pairs.x')).toThrow(DatasetError);
    expect(() => parsePairs(text, format, 'pairs.x')).toThrow(message);
  });

  it('a pair whose clean and corrupted lengths differ names its line and shows both tokenisations', () => {
    const cfg = tinyConfig({ dVocab: 50257, nCtx: 64 });
    const records = parsePairs('{"clean": "When Mary went", "corrupted": "When Mary went", "answer": " a", "wrong": " b"}\n{"clean": "When John went", "corrupted": "When Johnathan went", "answer": " a", "wrong": " b"}', 'jsonl');
    const base = { metric: { name: 'logit_diff' as const }, direction: 'denoising' as const, options: { freezeLayerNorm: false, freezeAttention: false }, prependBos: true };
    let err: unknown;
    try {
      resolvePairs(records, base, cfg, 'pairs.jsonl');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExperimentError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/pairs\.jsonl line 2, field "corrupted": The clean prompt is 4 tokens and the corrupted prompt 5/);
    expect(msg).toMatch(/clean: +<\|endoftext\|> \| When \| ·John \| ·went/);
    expect(msg).toMatch(/corrupted: +<\|endoftext\|> \| When \| ·John \| athan \| ·went/);
  });
});

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());
const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, dVocab: 30, name: 'tiny-dataset' });
const weights = randomWeights(cfg, 41);

/** Seven pairs: four of 5 tokens, three of 6, corrupted at two positions; answers and wrongs per pair. */
function pairs(lengths: number[]): Experiment[] {
  return lengths.map((P, i) => {
    const c = randomTokens(cfg, P, 100 + i);
    const k = c.map((t, p) => (p === 1 || p === P - 2 ? (t + 5 + i) % cfg.dVocab : t));
    return experimentFromTokens({ clean: [c], corrupted: [k], answers: [(3 + i) % cfg.dVocab], wrongs: [(17 + 2 * i) % cfg.dVocab] });
  });
}

/** Plain loops: mean and sample std / sqrt(n) of per-pair rows. */
function refStats(rows: number[][]): { mean: number[]; sem: number[] } {
  const n = rows.length;
  const mean = rows[0].map((_, i) => rows.reduce((a, r) => a + r[i], 0) / n);
  const sem = rows[0].map((_, i) => Math.sqrt(rows.reduce((a, r) => a + (r[i] - mean[i]) ** 2, 0) / (n - 1)) / Math.sqrt(n));
  return { mean, sem };
}

const metricOf = (e: Experiment) => (l: Float64Array) => M.logitDiff(l, e.nPos, cfg.dVocab, e.answers[0], e.wrongs[0]);

/** Reference attribution of one pair (denoising): sum over each cell's entries of (clean - corrupted) * FD grad. */
function refAttribution(e: Experiment, family: Family): number[] {
  const P = e.nPos;
  const indices = refIndices(family, cfg, P);
  const out = new Array<number>(indices.length).fill(0);
  const [cl, co] = [referenceForward(cfg, weights, e.clean[0]), referenceForward(cfg, weights, e.corrupted[0])];
  for (let l = 0; l < cfg.nLayers; l++) {
    const { hook } = refCell(family, cfg, P, indices.find((i) => i[0] === l)!);
    const grad = hookGradFD(cfg, weights, e.corrupted[0], metricOf(e), hook, undefined, 1e-4);
    const [s, b] = [cl.cache.get(hook)!.data, co.cache.get(hook)!.data];
    indices.forEach((cell, n) => {
      if (cell[0] === l) for (const x of refCell(family, cfg, P, cell).entries) out[n] += (s[x] - b[x]) * grad[x];
    });
  }
  return out;
}

function refPatches(e: Experiment, family: Family): number[] {
  const P = e.nPos;
  const base = metricOf(e)(referenceForward(cfg, weights, e.corrupted[0]).logits);
  return refIndices(family, cfg, P).map((cell) => {
    const { hook, entries } = refCell(family, cfg, P, cell);
    return referencePatch(cfg, weights, { target: e.corrupted[0], source: e.clean[0], hook, mask: entries, metric: (l) => metricOf(e)(l) }) - base;
  });
}

const rowsOf = (data: Float64Array, n: number) => Array.from({ length: n }, (_, b) => Array.from(data.subarray((b * data.length) / n, ((b + 1) * data.length) / n)));

describe('batches', () => {
  it('groups pairs by length, in at most two sizes per group, covering every pair once', () => {
    const exps = pairs([5, 6, 5, 5, 6, 5, 6]);
    const bs = batches(exps, 2);
    expect(bs.map((b) => [b.exp.nPos, b.pairs])).toEqual([[5, [0, 2]], [5, [3, 5]], [6, [1, 4]], [6, [6]]]);
    expect(bs[0].exp.clean).toEqual([exps[0].clean[0], exps[2].clean[0]]);
    expect(bs[3].exp.answers).toEqual(exps[6].answers);
  });
});

describe('datasets: per-pair values, mean and sem against the reference', () => {
  it('attribution of pairs of two lengths (families without positions), in batches of 2', async () => {
    await rt.setWeights(weights);
    const exps = pairs([5, 6, 5, 5, 6, 5, 6]);
    const families: Family[] = ['head_out_all_pos', 'v', 'pattern'];
    const seen: number[] = [];
    const res = await runBatches(exps, families, async (exp) => {
      const r = await runAttribution(rt, cfg, exp, { families, perPair: true });
      return { metric: r.pairs!.metric, values: r.pairs!.values };
    }, { maxPairs: 2, onProgress: (d) => seen.push(d) });
    expect(seen).toEqual([0, 2, 4, 6, 7]);
    for (const f of families) {
      const ref = exps.map((e) => refAttribution(e, f));
      expect(res.perPair[f]!.shape).toEqual([7, cfg.nLayers, cfg.nHeads]);
      expect(res.perPair[f]!.axes).toEqual(['pair', 'layer', 'head']);
      expectClose(`${f} per pair`, res.perPair[f]!.data, ref.flat(), 1e-4, 1e-6);
      const { mean, sem } = refStats(ref);
      expectClose(`${f} mean`, res.mean[f]!.data, mean, 1e-4, 1e-6);
      expectClose(`${f} sem`, res.sem[f]!.data, sem, 1e-4, 1e-6);
    }
    const refClean = exps.map((e) => metricOf(e)(referenceForward(cfg, weights, e.clean[0]).logits));
    expectClose('clean metric per pair', res.metricPerPair.clean, refClean, 1e-4);
    expect(res.metric.clean).toBeCloseTo(refClean.reduce((a, b) => a + b) / 7, 4);
  });

  it('families with positions over two lengths: aligned from the end, missing cells out of the mean, sem and count', async () => {
    await rt.setWeights(weights);
    const lengths = [5, 6, 5, 6, 6];
    const exps = pairs(lengths);
    const families: Family[] = ['resid_pre', 'head_out'];
    const res = await runBatches(exps, families, async (exp) => {
      const r = await runAttribution(rt, cfg, exp, { families, perPair: true });
      return { metric: r.pairs!.metric, values: r.pairs!.values };
    }, { maxPairs: 2 });
    expect(res.alignment!.offsets).toEqual([1, 0, 1, 0, 0]);
    for (const f of families) {
      // Reference at each pair's own length, placed by hand: position p of a pair of length P goes to p + (6 - P).
      const rows = exps.map((e, b) => {
        const ref = refAttribution(e, f);
        const P = lengths[b];
        const out = new Array<number>(ref.length / P * 6).fill(NaN);
        ref.forEach((x, i) => (out[Math.floor(i / P) * 6 + (i % P) + 6 - P] = x));
        return out;
      });
      const got = res.perPair[f]!.data;
      expect(res.perPair[f]!.shape).toEqual(f === 'resid_pre' ? [5, 2, 6] : [5, 2, 2, 6]);
      rows.flat().forEach((x, i) => expect(Number.isNaN(got[i]), `per pair ${f} [${i}]`).toBe(Number.isNaN(x)));
      expectClose(`${f} per pair`, Array.from(got, (x) => (Number.isNaN(x) ? 0 : x)), rows.flat().map((x) => (Number.isNaN(x) ? 0 : x)), 1e-4, 1e-6);
      const present = rows[0].map((_, i) => rows.map((r) => r[i]).filter((x) => !Number.isNaN(x)));
      expect(Array.from(res.alignment!.count[f]!.data)).toEqual(present.map((p) => p.length));
      expect(new Set(present.map((p) => p.length))).toEqual(new Set([3, 5])); // position 0 only in the three 6-token pairs
      const mean = present.map((p) => p.reduce((a, x) => a + x, 0) / p.length);
      const sem = present.map((p, i) => Math.sqrt(p.reduce((a, x) => a + (x - mean[i]) ** 2, 0) / (p.length - 1)) / Math.sqrt(p.length));
      expectClose(`${f} mean`, res.mean[f]!.data, mean, 1e-4, 1e-6);
      expectClose(`${f} sem`, res.sem[f]!.data, sem, 1e-4, 1e-6);
    }
  });

  it('attribution per position (one length) and exact patches per pair, batches of 3', async () => {
    await rt.setWeights(weights);
    const exps = pairs([5, 5, 5, 5]);
    const att = await runBatches(exps, ['resid_pre', 'head_out'], async (exp) => {
      const r = await runAttribution(rt, cfg, exp, { families: ['resid_pre', 'head_out'], perPair: true });
      return { metric: r.pairs!.metric, values: r.pairs!.values };
    }, { maxPairs: 3 });
    for (const f of ['resid_pre', 'head_out'] as const) {
      const ref = exps.map((e) => refAttribution(e, f));
      expectClose(`${f} per pair`, att.perPair[f]!.data, ref.flat(), 1e-4, 1e-6);
      expectClose(`${f} sem`, att.sem[f]!.data, refStats(ref).sem, 1e-4, 1e-6);
    }
    const patcher = new ActivationPatcher(rt, cfg);
    const families: Family[] = ['resid_pre', 'head_out_all_pos'];
    const act = await runBatches(exps, families, async (exp) => {
      const values: Partial<Record<Family, import('./dataset').PairLabelled>> = {};
      let metric = { clean: [] as ArrayLike<number>, corrupted: [] as ArrayLike<number> };
      for (const f of families) {
        const r = await patcher.sweepPairs(exp, f);
        values[f] = r.values;
        metric = { clean: r.metric.source, corrupted: r.metric.base };
      }
      return { metric, values };
    }, { maxPairs: 3 });
    for (const f of families) {
      const ref = exps.map((e) => refPatches(e, f));
      expectClose(`patch ${f} per pair`, act.perPair[f]!.data, ref.flat(), 1e-4, 1e-6);
      const { mean, sem } = refStats(ref);
      expectClose(`patch ${f} mean`, act.mean[f]!.data, mean, 1e-4, 1e-6);
      expectClose(`patch ${f} sem`, act.sem[f]!.data, sem, 1e-4, 1e-6);
      expect(rowsOf(act.perPair[f]!.data, 4)).toHaveLength(4);
    }
  });
});
