// Datasets in the app (issue 13): parsing and caps, per-pair slices, sorting, the pair swap of a result, and what a
// link carries of a dataset (round trip through the real codec).
import { afterEach, describe, expect, it } from 'vitest';
import { datasetJsonl, generateDataset, importDatasetText, showPair } from './actions/dataset';
import {
  datasetLinkPairs, MAX_DATASET_PAIRS, MAX_PER_PAIR_BYTES, pairSlice, parseDatasetText, perPairBytes, perPairCapMessage,
  sortPairRows, useDatasetStore, type PairRow,
} from './dataset';
import { currentLinkState, viewFromLink } from './link';
import { decodePermalink, encodePermalink } from './permalink';
import { putRun, type RunResult } from './results';
import { DEFAULT_SPEC, getState, setState } from './store';
import { parsePairs } from '../engine/patching/dataset';

const initial = getState();
const initialDataset = useDatasetStore.getState();
afterEach(() => {
  setState(initial, true);
  useDatasetStore.setState(initialDataset, true);
});

const line = (clean: string, corrupted: string, answer = ' a', wrong = ' b') => JSON.stringify({ clean, corrupted, answer, wrong });
const three = [line('x y z', 'x q z'), line('a b c', 'a d c', ' c', ' d'), line('m n o', 'm p o')].join('\n');

describe('importing a dataset file', () => {
  it('parses JSONL and CSV with the engine parser', () => {
    const j = parseDatasetText('pairs.jsonl', three);
    expect(j.ok && j.records.map((r) => [r.line, r.clean, r.answer])).toEqual([[1, 'x y z', ' a'], [2, 'a b c', ' c'], [3, 'm n o', ' a']]);
    const c = parseDatasetText('pairs.csv', 'clean,corrupted,answer,wrong\n"x, y",x q, a, b\n');
    expect(c.ok && c.records[0]).toMatchObject({ clean: 'x, y', corrupted: 'x q', answer: ' a', wrong: ' b', line: 2 });
  });

  it('names the line and field of a malformed pair and keeps the typed pairs and the dataset loaded before', () => {
    setState({ spec: { ...DEFAULT_SPEC, pairs: [{ clean: 'typed', corrupted: 'typed2', answer: ' x', wrong: ' y' }] } });
    expect(importDatasetText('good.jsonl', three)).toBe(true);
    const bad = [line('a', 'b'), '{"clean": "a", "corrupted": 3, "answer": " a"}', 'not json'].join('\n');
    expect(importDatasetText('bad.jsonl', bad)).toBe(false);
    const { importError, dataset } = useDatasetStore.getState();
    expect(importError).toContain('bad.jsonl line 2, field "corrupted": must be a string, not number.');
    expect(importError).toContain('bad.jsonl line 3: not valid JSON');
    expect(dataset?.name).toBe('good.jsonl');
    expect(dataset?.records).toHaveLength(3);
    expect(getState().spec.pairs[0].clean).toBe('typed');
  });

  it('refuses more than the cap with a message, and a file with no pairs', () => {
    const many = Array.from({ length: MAX_DATASET_PAIRS + 1 }, () => line('a b', 'a c')).join('\n');
    const r = parseDatasetText('big.jsonl', many);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toContain(`${MAX_DATASET_PAIRS + 1} pairs; the app runs at most ${MAX_DATASET_PAIRS}`);
    const e = parseDatasetText('empty.jsonl', '\n\n');
    expect(!e.ok && e.message).toContain('the file has no pairs');
  });

  it('caps per-pair results by memory, naming how many pairs fit', () => {
    const cfg = { nLayers: 12, nHeads: 12, dMlp: 3072 };
    // resid_pre [layer, pos] + mlp_post [layer, pos, neuron]: (12 * 20 + 12 * 20 * 3072) floats of 8 bytes per pair.
    expect(perPairBytes(cfg, ['resid_pre', 'mlp_post'], 20, 3)).toBe(3 * 8 * (12 * 20 + 12 * 20 * 3072));
    expect(perPairCapMessage(cfg, ['resid_pre'], 20, 1000)).toBeNull();
    const perPair = 8 * (12 * 20 + 12 * 20 * 3072);
    const msg = perPairCapMessage(cfg, ['resid_pre', 'mlp_post'], 20, 1000);
    expect(msg).toContain(`run at most ${Math.floor(MAX_PER_PAIR_BYTES / perPair)} pairs`);
  });
});

describe('per-pair values', () => {
  it('slices one pair out of [pair, ...layout]', () => {
    const per = { axes: ['pair', 'layer', 'pos'] as ('pair' | 'layer' | 'pos')[], shape: [3, 2, 2], data: Float64Array.from({ length: 12 }, (_, i) => i) };
    expect(pairSlice(per, 1)).toEqual({ axes: ['layer', 'pos'], shape: [2, 2], data: Float64Array.from([4, 5, 6, 7]) });
    expect(() => pairSlice(per, 3)).toThrow(RangeError);
  });

  it('sorts rows by a column either way, NaN last, ties by pair', () => {
    const rows: PairRow[] = [
      { index: 0, line: 1, clean: 2, corrupted: 1, difference: 1, cell: 0.5 },
      { index: 1, line: 2, clean: 3, corrupted: 0, difference: 3, cell: NaN },
      { index: 2, line: 3, clean: 1, corrupted: 1, difference: 0, cell: -1 },
      { index: 3, line: 4, clean: 3, corrupted: 2, difference: 1, cell: 2 },
    ];
    expect(sortPairRows(rows, 'clean', false).map((r) => r.index)).toEqual([2, 0, 1, 3]);
    expect(sortPairRows(rows, 'clean', true).map((r) => r.index)).toEqual([1, 3, 0, 2]);
    expect(sortPairRows(rows, 'difference', true).map((r) => r.index)).toEqual([1, 0, 3, 2]);
    expect(sortPairRows(rows, 'cell', false).map((r) => r.index)).toEqual([2, 0, 3, 1]);
    expect(sortPairRows(rows, 'cell', true).map((r) => r.index)).toEqual([3, 0, 2, 1]);
  });

  it('swaps a pair into the result and back, keeping each one\'s exact patches', () => {
    const r = fakeRun(3);
    showPair(r, 2);
    expect(r.attribution.resid_pre!.data).toEqual(Float64Array.from([20, 21]));
    expect(r.metric).toEqual({ clean: 2, corrupted: -2 });
    expect(r.spec.pairs).toEqual([{ clean: 'c2', corrupted: 'k2', answer: ' a', wrong: ' b' }]);
    expect(r.sem).toBeUndefined();
    r.patched.resid_pre = { axes: ['layer', 'pos'], shape: [1, 2], data: Float64Array.from([7, NaN]) };
    showPair(r, null);
    expect(r.attribution.resid_pre!.data).toEqual(Float64Array.from([10, 11]));
    expect(r.sem?.resid_pre?.data).toEqual(Float64Array.from([1, 1]));
    expect(r.patched).toEqual({});
    expect(r.spec.pairs).toHaveLength(3);
    showPair(r, 2);
    expect(r.patched.resid_pre!.data[0]).toBe(7);
  });
});

describe('generators in the app', () => {
  it('regenerates the same dataset from the same seed, and exports it with the seed', () => {
    setState({ spec: { ...DEFAULT_SPEC, pairs: [{ clean: 'The cat sat on the mat and the dog', corrupted: '', answer: ' ran', wrong: ' sat' }] } });
    expect(generateDataset({ generator: 'random', seed: 7, positions: [1, 4] })).toBe(true);
    const first = useDatasetStore.getState().dataset!;
    expect(first.name).toBe('random, seed 7, positions 1 4');
    expect(first.generated?.seed).toBe(7);
    useDatasetStore.setState({ dataset: null });
    expect(generateDataset({ generator: 'random', seed: 7, positions: [1, 4] })).toBe(true);
    expect(useDatasetStore.getState().dataset!.records).toEqual(first.records);
    const text = datasetJsonl(first);
    const back = parsePairs(text, 'jsonl');
    expect(back.map(({ clean, corrupted }) => ({ clean, corrupted }))).toEqual(first.records.map(({ clean, corrupted }) => ({ clean, corrupted })));
    expect(back[0].meta).toMatchObject({ generator: 'random', seed: 7 });
    expect(first.records[0].corrupted).not.toBe(first.records[0].clean);
  });

  it('says why a generator cannot run, and changes nothing', () => {
    setState({ spec: { ...DEFAULT_SPEC, pairs: [{ clean: 'a b c', corrupted: '', answer: ' d', wrong: '' }] } });
    expect(generateDataset({ generator: 'flip' })).toBe(false);
    expect(useDatasetStore.getState().importError).toContain('flipping needs a wrong answer');
    expect(useDatasetStore.getState().dataset).toBeNull();
  });
});

describe('datasets in links', () => {
  it('carries a small dataset\'s pairs and the pair on screen through the codec', () => {
    importDatasetText('three.jsonl', three);
    const r = fakeRun(3);
    r.pairs!.records = useDatasetStore.getState().dataset!.records;
    r.pairs!.name = 'three.jsonl';
    r.pairs!.allSpec = { ...DEFAULT_SPEC, pairs: r.pairs!.records.map(({ clean, corrupted, answer, wrong }) => ({ clean, corrupted, answer, wrong })) };
    r.spec = r.pairs!.allSpec;
    putRun(r);
    setState({ run: { id: r.id, status: 'done', error: null, version: 1 } });
    showPair(r, 1);
    const { state, warning } = currentLinkState();
    expect(warning).toBeUndefined();
    const back = decodePermalink(encodePermalink(state));
    expect(back.ok).toBe(true);
    if (!back.ok) return;
    expect(back.state.experiment.pairs.map((p) => p.clean)).toEqual(['x y z', 'a b c', 'm n o']);
    expect(back.state.view.pair).toBe(1);
    expect(viewFromLink(back.state.view)).not.toHaveProperty('pair');
  });

  it('tells the user a large dataset is not in the link, which carries the typed pairs', () => {
    const typed = { ...DEFAULT_SPEC, pairs: [{ clean: 'typed clean', corrupted: 'typed corrupted', answer: ' a', wrong: ' b' }] };
    setState({ spec: typed });
    importDatasetText('big.jsonl', Array.from({ length: 17 }, () => line('a b', 'a c')).join('\n'));
    const { state, warning } = currentLinkState();
    expect(warning).toContain('big.jsonl (17 pairs) is not in the link');
    expect(state.experiment).toEqual(typed);
    expect(decodePermalink(encodePermalink(state)).ok).toBe(true);
    const fit = datasetLinkPairs({ name: 'n.jsonl', records: [{ line: 1, clean: 'a', corrupted: 'a', answer: ' a', wrong: '', noise: { positions: [0], std: 1, seed: 1 } }] });
    expect('reason' in fit && fit.reason).toContain('embedding noise');
  });
});

/** A result over n pairs of a 1 x 2 layout: pair i has values [10 i, 10 i + 1] and metrics (i, -i). */
function fakeRun(n: number): RunResult {
  const records = Array.from({ length: n }, (_, i) => ({ line: i + 1, clean: `c${i}`, corrupted: `k${i}`, answer: ' a', wrong: ' b' }));
  const allSpec = { ...DEFAULT_SPEC, pairs: records.map(({ line: _l, ...p }) => p) };
  const lab = (data: number[]) => ({ axes: ['layer', 'pos'] as ['layer', 'pos'], shape: [1, 2], data: Float64Array.from(data) });
  return {
    id: 900 + n, spec: allSpec, model: { kind: 'builtin', id: 'toy-induction' }, modelKey: 'k', metric: { clean: 1, corrupted: -1 },
    tokens: ['t0', 't1'], corruptedTokens: ['t0', 't1'], attribution: { resid_pre: lab([10, 11]) }, patched: {}, sem: { resid_pre: lab([1, 1]) },
    elapsedMs: 0,
    pairs: {
      name: 'd.jsonl', records, allSpec,
      metricPerPair: { clean: Float64Array.from(records, (_, i) => i), corrupted: Float64Array.from(records, (_, i) => -i) },
      perPair: { resid_pre: { axes: ['pair', 'layer', 'pos'], shape: [n, 1, 2], data: Float64Array.from({ length: 2 * n }, (_, k) => 10 * Math.floor(k / 2) + (k % 2)) } },
      tokens: records.map(() => ({ clean: ['t0', 't1'], corrupted: ['t0', 't1'] })),
      shown: null, views: new Map(), unpatchable: null,
    },
  };
}
