// `--pairs` on edges, path, circuit and inspect (issue 13): each pair's values equal the one-pair command's (which
// the float64 reference checks in edges.test.ts / inspect.test.ts), mean and sem computed here by plain loops; pairs of
// two token lengths in one file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../../test/helpers/cli';
import { meanSem } from './per-pair';

const dir = mkdtempSync(join(tmpdir(), 'patchwork-per-pair-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const model = 'public/models/toy-induction';
const PAIRS = [
  { clean: ' cat river gold king bread cat river', corrupted: ' cat river snow lion bread cat river', answer: ' gold', wrong: ' snow' },
  { clean: ' moon chair snow lion moon chair', corrupted: ' moon chair gold king moon chair', answer: ' snow', wrong: ' gold' },
];
const file = join(dir, 'pairs.jsonl');
writeFileSync(file, PAIRS.map((p) => JSON.stringify(p)).join('\n'));
const one = (p: (typeof PAIRS)[number]) => ['--clean', p.clean, '--corrupted', p.corrupted, '--answer', p.answer, '--wrong', p.wrong];
const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : typeof x === 'object' && x !== null ? Object.values(x).flatMap(flat) : [x as number]);
const close = (a: number[], b: number[], tol = 1e-5) => {
  expect(a).toHaveLength(b.length);
  const scale = Math.max(1e-6, ...b.map(Math.abs));
  expect(Math.max(...a.map((x, i) => Math.abs(x - b[i]))) / scale).toBeLessThan(tol);
};
/** Mean and sem of two pairs by hand: sem = |x1 - x2| / 2 for n = 2. */
const two = (a: number[], b: number[]) => ({ mean: a.map((x, i) => (x + b[i]) / 2), sem: a.map((x, i) => Math.abs(x - b[i]) / 2) });

async function check(command: string[], key: string, pick: (j: Record<string, unknown>) => unknown = (j) => j[key]) {
  const r = await cli([command[0], '--model', model, '--pairs', file, ...command.slice(1)]);
  expect(r.code, r.stderr).toBe(0);
  const j = JSON.parse(r.stdout);
  expect(j.n_pairs).toBe(2);
  expect(j.tokens.map((t: { clean: number[] }) => t.clean.length)).toEqual([8, 7]);
  const singles = await Promise.all(PAIRS.map((p) => cli([command[0], '--model', model, ...one(p), ...command.slice(1)])));
  const own = singles.map((s) => (expect(s.code, s.stderr).toBe(0), JSON.parse(s.stdout)));
  own.forEach((s, i) => close(flat(pick({ [key]: j.per_pair[key][i] })), flat(pick(s))));
  const { mean, sem } = two(flat(pick(own[0])), flat(pick(own[1])));
  close(flat(pick(j)), mean);
  close(flat(pick({ [key]: j.sem[key] })), sem, 1e-4);
  close(j.metric.per_pair.clean, own.map((s) => s.metric.clean));
  return j;
}

describe('--pairs on edges, path, circuit, inspect', () => {
  it('edges: per_pair edges and receiver totals, mean, sem', async () => {
    const j = await check(['edges'], 'edges');
    expect(j.senders[0]).toBe('input');
    expect(j.per_pair.receiver_totals).toHaveLength(2);
  });

  it('path: per_pair {edge: value}', async () => {
    await check(['path', '--edges', 'a0.h1->a1.h0<k>,input->m0,m1->logits'], 'path');
  });

  it('circuit --edges FILE: per_pair metric and faithfulness', async () => {
    const edges = join(dir, 'circuit.json');
    writeFileSync(edges, JSON.stringify(['a0.h1->a1.h0<k>', 'a1.h0->logits', 'input->a0.h1<v>']));
    await check(['circuit', '--edges', edges], 'circuits');
  });

  it('inspect: dla (numbers) averaged; top5 and the logit lens per pair', async () => {
    type Dla = { dla: { clean: unknown; corrupted: unknown } };
    const j = await check(['inspect'], 'dla', (x) => ({ clean: (x as Dla).dla.clean, corrupted: (x as Dla).dla.corrupted }));
    expect(j.per_pair.top5).toHaveLength(2);
    expect(j.per_pair.dla_target[0].sums_to).toBe('logit(target) - logit(wrong)');
    expect(j.top5).toBeUndefined();
  });
});

describe('meanSem', () => {
  it('nested arrays and objects: mean and sample sd / sqrt(n) per leaf', () => {
    const { mean, sem } = meanSem([{ a: [1, 2], b: 3 }, { a: [3, 2], b: 5 }, { a: [5, 2], b: 7 }]);
    expect(mean).toEqual({ a: [3, 2], b: 5 });
    expect((sem as { a: number[] }).a[0]).toBeCloseTo(2 / Math.sqrt(3), 12);
    expect((sem as { a: number[] }).a[1]).toBe(0);
  });
});
