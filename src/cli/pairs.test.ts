// `--pairs FILE` as a user runs it (issue 13, item 1): per-pair values equal the one-pair commands, mean and sem over
// them, tokens per pair, bad lines named with line and field, nothing written on error or Ctrl-C.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGPT2Config } from '../engine/model/config';
import { loadModelFromDir, writeRandomCheckpoint } from '../engine/model/weights-node';
import { embeddingStd } from '../engine/patching/corrupt';
import { noiseTensor } from '../engine/patching/dataset';
import { referenceForwardF64, toFloat64Weights } from '../../test/reference/gpt2-f64';
import { logitDiff } from '../../test/reference/metrics-f64';
import { cli } from '../../test/helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'patchwork-pairs-'));
const model = join(dir, 'model');
const cfg = parseGPT2Config({ model_type: 'gpt2', n_layer: 2, n_head: 2, n_embd: 16, n_positions: 64, vocab_size: 50257 }, 'pairs-tiny');

// Two pairs of 15 tokens, one of 14 (with <|endoftext|>).
const PAIRS = [
  { clean: 'When John and Mary went to the store, John gave a bag to', corrupted: 'When John and Mary went to the store, Mary gave a bag to', answer: ' Mary', wrong: ' John' },
  { clean: 'When Tom and Anna went to the park, Tom gave a ball to', corrupted: 'When Tom and Anna went to the park, Anna gave a ball to', answer: ' Anna', wrong: ' Tom' },
  { clean: 'Then Mark and Lisa had lunch, and Mark gave a fork to', corrupted: 'Then Mark and Lisa had lunch, and Lisa gave a fork to', answer: ' Lisa', wrong: ' Mark' },
];
const jsonl = join(dir, 'pairs.jsonl');
const csv = join(dir, 'pairs.csv');
const q = (s: string) => `"${s.replace(/"/g, '""')}"`;

beforeAll(async () => {
  await writeRandomCheckpoint(model, cfg, 9);
  writeFileSync(jsonl, PAIRS.map((p) => JSON.stringify(p)).join('\n') + '\n');
  writeFileSync(csv, 'clean,corrupted,answer,wrong\n' + PAIRS.slice(0, 2).map((p) => [p.clean, p.corrupted, p.answer, p.wrong].map(q).join(',')).join('\n') + '\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const one = (p: (typeof PAIRS)[number]) => ['--clean', p.clean, '--corrupted', p.corrupted, '--answer', p.answer, '--wrong', p.wrong];
const close = (a: number[], b: number[], tol = 1e-5) => {
  const scale = Math.max(1e-6, ...b.map(Math.abs));
  expect(Math.max(...a.map((x, i) => Math.abs(x - b[i]))) / scale).toBeLessThan(tol);
};
const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);

describe('--pairs', () => {
  it('attribute: per_pair equals one-pair runs, mean and sem over them, tokens per pair (two lengths, batch 1)', async () => {
    const out = join(dir, 'attr.json');
    const families = 'head_out_all_pos,v';
    const r = await cli(['attribute', '--model', model, '--pairs', jsonl, '--families', families, '--batch', '1', '--json', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/attribution: 3 pairs in [\d.]+ s/);
    const j = JSON.parse(readFileSync(out, 'utf8'));
    expect(j.n_pairs).toBe(3);
    expect(j.tokens.map((t: { line: number }) => t.line)).toEqual([1, 2, 3]);
    expect(j.tokens.map((t: { clean: number[] }) => t.clean.length)).toEqual([15, 15, 14]);
    expect(j.tokens[0]).toMatchObject({ answer: 5335, wrong: 1757 });
    const singles = await Promise.all(PAIRS.map((p) => cli(['attribute', '--model', model, ...one(p), '--families', families])));
    for (const f of ['head_out_all_pos', 'v']) {
      const per = singles.map((s) => flat(JSON.parse(s.stdout).attribution[f]));
      expect(j.per_pair[f]).toHaveLength(3);
      per.forEach((p, i) => close(flat(j.per_pair[f][i]), p));
      const mean = per[0].map((_, k) => (per[0][k] + per[1][k] + per[2][k]) / 3);
      const sem = per[0].map((_, k) => Math.sqrt(per.reduce((a, p) => a + (p[k] - mean[k]) ** 2, 0) / 2 / 3));
      close(flat(j.attribution[f]), mean);
      close(flat(j.sem[f]), sem, 1e-4);
    }
    const m = singles.map((s) => JSON.parse(s.stdout).metric);
    close(j.metric.per_pair.clean, m.map((x) => x.clean));
    close([j.metric.corrupted], [(m[0].corrupted + m[1].corrupted + m[2].corrupted) / 3]);
  });

  it('attribute resid_pre over two lengths: positions aligned from the end, offsets, per-cell count, missing cells null', async () => {
    const r = await cli(['attribute', '--model', model, '--pairs', jsonl, '--families', 'resid_pre']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.position_alignment).toBe('end');
    expect(j.tokens.map((t: { offset: number }) => t.offset)).toEqual([0, 0, 1]);
    const singles = await Promise.all(PAIRS.map((p) => cli(['attribute', '--model', model, ...one(p), '--families', 'resid_pre'])));
    const own = singles.map((s) => JSON.parse(s.stdout).attribution.resid_pre as number[][]);
    for (let l = 0; l < 2; l++) {
      expect(j.per_pair.resid_pre[2][l][0]).toBeNull();
      close(j.per_pair.resid_pre[2][l].slice(1), own[2][l]); // the 14-token pair, shifted by one
      expect(j.count.resid_pre[l]).toEqual([2, ...Array(14).fill(3)]);
      close([j.attribution.resid_pre[l][0]], [(own[0][l][0] + own[1][l][0]) / 2]);
      close([j.attribution.resid_pre[l][14]], [(own[0][l][14] + own[1][l][14] + own[2][l][13]) / 3]);
    }
  });

  it('patch from CSV: per_pair equals one-pair sweeps; per-position families fine at one length', async () => {
    const r = await cli(['patch', '--model', model, '--pairs', csv, '--families', 'resid_pre,head_out_all_pos']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const singles = await Promise.all(PAIRS.slice(0, 2).map((p) => cli(['patch', '--model', model, ...one(p), '--families', 'resid_pre,head_out_all_pos'])));
    for (const f of ['resid_pre', 'head_out_all_pos']) singles.forEach((s, i) => close(flat(j.per_pair[f][i]), flat(JSON.parse(s.stdout).activation[f]), 1e-4));
    expect(j.sem.resid_pre).toHaveLength(2);
    expect(j.sem.resid_pre[0]).toHaveLength(15);
  });

  it.each([
    ['a malformed line', '{"clean": "a b", "corrupted": "a c", "answer": " d", "wrong": " e"}\n{"clean": "a b", "corrupted": "a c", "answer": [" d"], "wrong": " e"}\n', [], /bad\.jsonl line 2, field "answer": must be a string, not a list/],
    ['unequal lengths', `${JSON.stringify(PAIRS[0])}\n${JSON.stringify({ ...PAIRS[1], corrupted: 'When Tom and Anna went to the park, Annabelle gave a ball to' })}\n`, [], /bad\.jsonl line 2, field "corrupted": The clean prompt is 15 tokens and the corrupted prompt 1\d[\s\S]*clean: .*·Tom \| ·gave[\s\S]*corrupted: .*·Ann \| abel \| le/],
    ['--pairs with --clean', `${JSON.stringify(PAIRS[0])}\n`, ['--clean', 'x'], /--pairs gives every pair's prompts and answers: leave out --clean/],
  ])('%s: exit 2, a specific message, no file written', async (_, text, extra, message) => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, text);
    const out = join(dir, 'never.json');
    const r = await cli(['attribute', '--model', model, '--pairs', bad, '--json', out, ...(extra as string[])]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
  });

  it('an unreadable pairs file and a missing --clean are usage errors (exit 2)', async () => {
    const r = await cli(['attribute', '--model', model, '--pairs', join(dir, 'nope.jsonl')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Cannot read the pairs file .*nope\.jsonl: ENOENT/);
    const s = await cli(['attribute', '--model', model, '--corrupted', 'a', '--answer', ' b', '--wrong', ' c']);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/required option '--clean <text>' not specified \(or give a dataset with --pairs FILE\)/);
  });

  it('Ctrl-C during a dataset run exits 130 and leaves no output file', async () => {
    const many = join(dir, 'many.jsonl');
    writeFileSync(many, Array.from({ length: 60 }, () => JSON.stringify(PAIRS[0])).join('\n'));
    const out = join(dir, 'interrupted.json');
    const child = spawn('node', ['bin/patchwork.js', 'patch', '--model', model, '--pairs', many, '--batch', '1', '--families', 'mlp_post', '--json', out]);
    let stderr = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d) => {
        stderr += String(d);
        if (/loaded/.test(stderr) && !child.killed) setTimeout(() => child.kill('SIGINT'), 1500);
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(code, stderr).toBe(130);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('interrupted'))).toEqual([]);
  });

  it('corrupt writes a reproducible pairs file (same seed, same bytes) whose pairs rerun to the same metric', async () => {
    const [f1, f2] = [join(dir, 'abc1.jsonl'), join(dir, 'abc2.jsonl')];
    const [a, b] = await Promise.all([f1, f2].map((f) => cli(['corrupt', '--kind', 'abc', '--pairs', jsonl, '--seed', '3', '--out', f])));
    expect(a.code, a.stderr).toBe(0);
    expect(b.code).toBe(0);
    expect(readFileSync(f1, 'utf8')).toBe(readFileSync(f2, 'utf8'));
    const pairs = readFileSync(f1, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(pairs).toHaveLength(3);
    expect(pairs[0].meta).toMatchObject({ generator: 'abc', seed: 3 });
    const r = await cli(['attribute', '--model', model, '--pairs', f1, '--families', 'head_out_all_pos', '--batch', '2']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const single = JSON.parse((await cli(['attribute', '--model', model, ...one(pairs[1]), '--families', 'head_out_all_pos'])).stdout);
    close([j.metric.per_pair.clean[1], j.metric.per_pair.corrupted[1]], [single.metric.clean, single.metric.corrupted]);
    close(flat(j.per_pair.head_out_all_pos[1]), flat(single.attribution.head_out_all_pos));
    const bad = await cli(['corrupt', '--kind', 'random', '--pairs', jsonl]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--kind random needs --positions/);
  });

  it('corrupt --kind noise: 3 x the embeddings\' std, reproducible; attribute --pairs reruns it to the float64 corrupted metric', async () => {
    const f = join(dir, 'noise.jsonl');
    const args = ['corrupt', '--kind', 'noise', '--pairs', csv, '--positions', '2,3', '--model', model, '--seed', '4', '--out', f];
    expect((await cli(args)).code).toBe(0);
    const text = readFileSync(f, 'utf8');
    expect((await cli(args)).code).toBe(0);
    expect(readFileSync(f, 'utf8')).toBe(text);
    const pairs = text.trim().split('\n').map((l) => JSON.parse(l));
    const { weights } = await loadModelFromDir(model);
    expect(pairs[0].noise.std).toBeCloseTo(3 * embeddingStd(weights.get('wte.weight')!.data), 10);
    expect(pairs[0].corrupted).toBe(pairs[0].clean);
    const r = await cli(['attribute', '--model', model, '--pairs', f, '--families', 'head_out_all_pos']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const w64 = toFloat64Weights(cfg, weights);
    pairs.forEach((p, b) => {
      const tokens = j.tokens[b].clean;
      const noise = noiseTensor(p.noise, tokens.length, cfg.dModel, 1);
      const { logits } = referenceForwardF64(cfg, w64, tokens, { hooks: { hook_embed: (v) => v.map((x, i) => x + noise[i]) } });
      const want = logitDiff(logits, tokens.length, cfg.dVocab, j.tokens[b].answer, j.tokens[b].wrong);
      expect(Math.abs(j.metric.per_pair.corrupted[b] - want)).toBeLessThan(1e-4 * Math.max(1, Math.abs(want)));
      expect(Math.abs(j.metric.per_pair.corrupted[b] - j.metric.per_pair.clean[b])).toBeGreaterThan(1e-6); // random weights: small logits
    });
  });
});
