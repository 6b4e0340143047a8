// `patchwork edges|path|circuit`, `patch --together` and `attribute --patched` as a user runs them: JSON contract,
// values against the float64 references, and bad input (specific message, exit code 2).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelFromDir } from '../engine/model/weights-node';
import type { LoadedModel } from '../engine/model/weights';
import { referenceCircuit, referencePathPatch, type RefPair } from '../../test/reference/edges-f64';
import { referenceJointPatch } from '../../test/reference/node-sets-f64';
import { logitDiff } from '../../test/reference/metrics-f64';
import { expectClose } from '../../test/helpers/compare';
import { cli } from '../../test/helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'patchwork-circuits-'));
// The shipped toy induction model: real effects (a random checkpoint's are at float32 noise level).
const model = 'public/models/toy-induction';
let loaded: LoadedModel;

beforeAll(async () => {
  loaded = await loadModelFromDir(model);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const words = ' cat river gold king bread moon chair snow lion boat cat river gold king bread';
const base = ['--model', model, '--clean', words, '--corrupted', words.replace('king bread moon', 'king tea moon'), '--answer', ' moon', '--wrong', ' chair'];

const pairsOf = (j: { tokens: { clean: number[]; corrupted: number[]; answer: number; wrong: number } }): RefPair[] => [{
  base: j.tokens.corrupted, source: j.tokens.clean, metric: (l) => l.at(j.tokens.answer) - l.at(j.tokens.wrong),
}];

describe('patchwork edges | path | circuit', () => {
  it('edges writes senders, receivers, [sender][receiver] scores and receiver totals; rows sum to the totals', async () => {
    const out = join(dir, 'edges.json');
    const r = await cli(['edges', ...base, '--json', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/edge attribution .* in \d+ ms/);
    const j = JSON.parse(readFileSync(out, 'utf8'));
    expect(j.senders).toEqual(['input', 'a0.h0', 'a0.h1', 'a0.h2', 'a0.h3', 'm0', 'a1.h0', 'a1.h1', 'a1.h2', 'a1.h3', 'm1']);
    expect(j.receivers.slice(0, 5)).toEqual(['a0.h0<q>', 'a0.h1<q>', 'a0.h2<q>', 'a0.h3<q>', 'a0.h0<k>']);
    expect(j.receivers[12]).toBe('m0');
    expect(j.receivers.at(-1)).toBe('logits');
    expect([j.edges.length, j.edges[0].length, j.receiver_totals.length]).toEqual([11, 27, 27]);
    expect(j.edges[5][0]).toBe(0); // m0 does not feed a0.h0<q>
    const sums = j.receivers.map((_: string, r: number) => j.edges.reduce((a: number, row: number[]) => a + row[r], 0));
    expectClose('receiver identity', sums, j.receiver_totals, 1e-5);
    expect(Math.max(...j.receiver_totals.map(Math.abs))).toBeGreaterThan(0.1);
  });

  it('path and circuit values equal the float64 reference', async () => {
    const edges = ['m0->a1.h0<k>', 'a0.h2->a1.h0<v>', 'input->m0', 'a1.h0->logits'];
    const p = await cli(['path', ...base, '--edges', edges.join(',')]);
    expect(p.code, p.stderr).toBe(0);
    const j = JSON.parse(p.stdout);
    expect(Object.keys(j.path)).toEqual(edges);
    const pairs = pairsOf(j);
    expectClose('path', edges.map((e) => j.path[e]), edges.map((e) => referencePathPatch(loaded.config, loaded.weights, pairs, e)), 1e-4);

    const file = join(dir, 'circuit.json');
    writeFileSync(file, JSON.stringify(edges));
    const c = await cli(['circuit', ...base, '--edges', file]);
    expect(c.code, c.stderr).toBe(0);
    const cj = JSON.parse(c.stdout);
    expect(cj.circuits).toHaveLength(1);
    expect(cj.circuits[0].edges).toBe(4);
    expectClose('circuit', [cj.circuits[0].metric], [referenceCircuit(loaded.config, loaded.weights, pairs, new Set(edges))], 1e-4);
    const { clean, corrupted } = cj.metric;
    expect(cj.circuits[0].faithfulness).toBeCloseTo((cj.circuits[0].metric - corrupted) / (clean - corrupted), 6);
  });

  it('circuit --top ranks by |attribution|; all edges restore the clean metric', async () => {
    const r = await cli(['circuit', ...base, '--top', '1,5,100000']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.circuits.map((c: { edges: number }) => c.edges)).toEqual([1, 5, 110]);
    expect(j.circuits[2].faithfulness).toBeCloseTo(1, 5);
  });

  it('patch --together: joint exact patch and each cell alone; attribute --patched zeroes what is patched', async () => {
    const cells = 'head_out_all_pos[1][0],mlp_out[0][6]';
    const r = await cli(['patch', ...base, '--together', cells]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j.single)).toEqual(['head_out_all_pos[1][0]', 'mlp_out[0][6]']);
    const { dHead: dh, nHeads: H, dModel: D } = loaded.config;
    const want = referenceJointPatch(loaded.config, loaded.weights, [{ base: j.tokens.corrupted, source: j.tokens.clean, metric: (l, n, v) => logitDiff(l, n, v, j.tokens.answer, j.tokens.wrong) }], [
      { hook: 'blocks.1.attn.hook_z', select: (i) => Math.floor(i / dh) % H === 0 },
      { hook: 'blocks.0.hook_mlp_out', select: (i) => Math.floor(i / D) === 6 },
    ]);
    expectClose('joint', [j.joint], [want], 1e-4);

    const a = await cli(['attribute', ...base, '--families', 'head_out_all_pos', '--patched', 'head_out_all_pos[1][0]']);
    expect(a.code, a.stderr).toBe(0);
    const aj = JSON.parse(a.stdout);
    expect(aj.attribution.head_out_all_pos[1][0]).toBe(0);
    expect(Math.abs(aj.attribution.head_out_all_pos[1][1])).toBeGreaterThan(0);
  });

  it('bad input: a specific message and exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [['path', ...base, '--edges', 'a3.h0->a1.h0<q>'], /sender a3\.h0 names layer 3, but the model has layers 0\.\.1/],
      [['path', ...base, '--edges', 'a0.h4->a1.h0<q>'], /names head 4, but the model has heads 0\.\.3/],
      [['path', ...base, '--edges', 'a0.h0->a1.h0<z>'], /unknown receiver "a1\.h0<z>"/],
      [['path', ...base, '--edges', 'a1.h0->a0.h1<v>'], /no edge "a1\.h0->a0\.h1<v>": a1\.h0 is not upstream/],
      [['circuit', ...base, '--top', '5,x'], /--top takes positive whole numbers.*"x"/],
      [['circuit', ...base], /Give either --top/],
      [['circuit', ...base, '--edges', join(dir, 'missing.json')], /Cannot read the edge file .*ENOENT/],
      [['patch', ...base, '--together', 'head_out_all_pos[1][4]'], /index 1 is 4, outside 0\.\.3/],
      [['attribute', ...base, '--patched', 'heads[0]'], /unknown family "heads"/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    results.forEach((r, i) => {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(cases[i][1]);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }, 60_000);
});
