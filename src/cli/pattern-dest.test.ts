// `--families pattern_dest` end to end through the CLI (the family added as one table entry), against the float64
// reference: exact patches of every cell by reruns with the row replaced, attribution of some cells by finite
// differences of the reference.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { loadModelFromDir } from '../engine/model/weights-node';
import type { GPT2Config, Weights } from '../engine/model/types';
import { referenceForward } from '../../test/reference/gpt2-f64';
import { hookGradFD } from '../../test/reference/finite-diff';
import { logitDiff } from '../../test/reference/metrics-f64';
import { referencePatch } from '../../test/reference/patch-f64';
import { refCell } from '../../test/reference/cells-f64';
import { expectClose } from '../../test/helpers/compare';

const run = promisify(execFile);
// The shipped toy IOI model: real effects (a random checkpoint's are at float32 noise level).
const model = 'public/models/toy-ioi';
let cfg: GPT2Config;
let weights: Weights;

beforeAll(async () => {
  ({ config: cfg, weights } = await loadModelFromDir(model));
});

const args = ['--model', model, '--clean', 'When Mary and John went to the store, John gave the drink to',
  '--corrupted', 'When Mary and John went to the store, Mary gave the drink to', '--answer', ' Mary', '--wrong', ' John'];

it('attribute --families pattern_dest and patch pattern_dest agree with the float64 reference', async () => {
  const attr = JSON.parse((await run('node', ['bin/patchwork.js', 'attribute', ...args, '--families', 'pattern_dest'])).stdout);
  const act = JSON.parse((await run('node', ['bin/patchwork.js', 'patch', ...args, '--targets', 'pattern_dest'])).stdout);
  const { clean, corrupted, answer, wrong } = attr.tokens;
  const P = clean.length;
  const metric = (l: Float64Array) => logitDiff(l, P, cfg.dVocab, answer, wrong);
  expect(Object.keys(attr.attribution)).toEqual(['pattern_dest']);
  expect([attr.attribution.pattern_dest.length, attr.attribution.pattern_dest[0].length, attr.attribution.pattern_dest[0][0].length]).toEqual([cfg.nLayers, cfg.nHeads, P]);

  // The float64 reference unembeds 50257 tokens at every position, so it checks a spread of cells, not all 180:
  // rows at the end, at the changed name (pos 10), and one before it (exactly 0: clean = corrupted there).
  const base = metric(referenceForward(cfg, weights, corrupted).logits);
  const cleanRun = referenceForward(cfg, weights, clean);
  const corrRun = referenceForward(cfg, weights, corrupted);
  const got = act.activation.pattern_dest;
  const cellsChecked = [[2, 0, P - 1], [2, 3, P - 1], [1, 0, P - 1], [0, 1, 10], [1, 2, 10], [2, 1, 5]];
  const want = cellsChecked.map(([l, h, q]) => {
    const { hook, entries } = refCell('pattern_dest', cfg, P, [l, h, q]);
    return referencePatch(cfg, weights, { target: corrupted, source: clean, hook, mask: entries, metric }) - base;
  });
  expectClose('patch pattern_dest', cellsChecked.map(([l, h, q]) => got[l][h][q]), want, 1e-4, 1e-5);
  expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(0.1); // the check has something to see
  expect(want[5]).toBe(0);

  // Attribution of one row: sum over its keys <= query (later keys are 0 in both runs) of
  // (clean - corrupted pattern) * d metric / d pattern on the corrupted run.
  const [l, h, q] = [1, 0, 10];
  const { hook, entries } = refCell('pattern_dest', cfg, P, [l, h, q]);
  const keys = entries.filter((e) => e % P <= q);
  const g = hookGradFD(cfg, weights, corrupted, metric, hook, keys, 1e-4);
  const [cp, xp] = [cleanRun.cache.get(hook)!.data, corrRun.cache.get(hook)!.data];
  const ref = keys.reduce((sum, e, i) => sum + (cp[e] - xp[e]) * g[i], 0);
  expect(Math.abs(ref)).toBeGreaterThan(1e-3);
  expectClose(`attr pattern_dest[${l}][${h}][${q}]`, [attr.attribution.pattern_dest[l][h][q]], [ref], 2e-3, 1e-5);
  // Positions before the first changed token carry no attribution at all.
  expect(attr.attribution.pattern_dest.flat(1).every((row: number[]) => row.slice(0, 10).every((x) => x === 0))).toBe(true);
}, 180_000);
