// Multi-token answers in the CLI (issue 13): `--answer " Mary Smith"` and a pairs file's answer_tokens are scored by
// teacher forcing; the metric, metric.per_token and exact patches against the float64 reference.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGPT2Config } from '../engine/model/config';
import { encode } from '../engine/model/tokenizer';
import { loadModelFromDir, writeRandomCheckpoint } from '../engine/model/weights-node';
import type { Weights } from '../engine/model/types';
import { refCell } from '../../test/reference/cells-f64';
import { refForcedMetric, refForcedPatch } from '../../test/reference/teacher-forced-f64';
import { cli } from '../../test/helpers/cli';
import { expectClose } from '../../test/helpers/compare';

const dir = mkdtempSync(join(tmpdir(), 'patchwork-forced-'));
const model = join(dir, 'model');
const cfg = parseGPT2Config({ model_type: 'gpt2', n_layer: 2, n_head: 2, n_embd: 16, n_positions: 64, vocab_size: 50257 }, 'forced-tiny');
let weights: Weights;
const clean = 'When John and Mary went to the store, John gave a bag to';
const corrupted = 'When John and Mary went to the store, Mary gave a bag to';
const bos = (t: string) => [50256, ...encode(t)];

beforeAll(async () => {
  await writeRandomCheckpoint(model, cfg, 5);
  weights = (await loadModelFromDir(model)).weights;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('multi-token answers', () => {
  // The shipped toy induction model: induction predicts the repeated words, so patches are O(0.1), well above
  // float32's rounding of log-prob sums (a random checkpoint's are ~1e-5).
  it('patch --answer " gold king" --wrong " snow lion" (toy induction): metric, per_token and head patches equal the reference', async () => {
    const toy = 'public/models/toy-induction';
    const { config: cfg, weights } = await loadModelFromDir(toy);
    const [clean, corrupted] = [' cat river gold king bread cat river', ' cat river snow lion bread cat river'];
    const r = await cli(['patch', '--model', toy, '--clean', clean, '--corrupted', corrupted, '--answer', ' gold king', '--wrong', ' snow lion', '--families', 'head_out_all_pos']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const pair = { clean: bos(clean), corrupted: bos(corrupted), answer: encode(' gold king'), wrong: encode(' snow lion') };
    expect(j.tokens).toMatchObject({ clean: pair.clean, answer: pair.answer, wrong: pair.wrong });
    expect(j.metric.teacher_forced).toBe(true);
    const [rc, rk] = [pair.clean, pair.corrupted].map((p) => refForcedMetric(cfg, weights, p, pair.answer, pair.wrong));
    expectClose('metric', [j.metric.clean, j.metric.corrupted], [rc.total, rk.total], 1e-4);
    const tok = j.metric.per_token as { answer: { clean: number; corrupted: number; token: number }[]; wrong: { clean: number; corrupted: number }[] };
    expect(tok.answer.map((t) => t.token)).toEqual(pair.answer);
    expectClose('per_token clean', [...tok.answer, ...tok.wrong].map((t) => t.clean), [...rc.answer, ...rc.wrong], 1e-4);
    expectClose('per_token corrupted', [...tok.answer, ...tok.wrong].map((t) => t.corrupted), [...rk.answer, ...rk.wrong], 1e-4);
    // Layer 1's heads (the reference costs ~1 s per cell at this vocabulary).
    const got = (j.activation.head_out_all_pos as number[][])[1];
    expect(Math.max(...got.map(Math.abs))).toBeGreaterThan(0.1);
    const ref = got.map((_, h) => refForcedPatch(cfg, weights, pair, (len) => refCell('head_out_all_pos', cfg, len, [1, h])));
    expectClose('head_out_all_pos layer 1', got, ref, 1e-4, 1e-6);
  });

  it('attribute --pairs with answer_tokens: per_pair metric and per_token per pair', async () => {
    const file = join(dir, 'forced.jsonl');
    writeFileSync(file, [
      JSON.stringify({ clean, corrupted, answer: ' Mary Smith', wrong: ' John Jones' }),
      JSON.stringify({ clean, corrupted: clean.replace('John gave', 'Anna gave'), answer_tokens: [5335, 4176, 13], wrong_tokens: [1757] }),
    ].join('\n'));
    const r = await cli(['attribute', '--model', model, '--pairs', file, '--families', 'head_out_all_pos']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.tokens[1]).toMatchObject({ answer: [5335, 4176, 13], wrong: [1757] });
    expect(j.tokens[1].per_token.answer).toHaveLength(3);
    const refs = [
      refForcedMetric(cfg, weights, bos(clean), encode(' Mary Smith'), encode(' John Jones')),
      refForcedMetric(cfg, weights, bos(clean), [5335, 4176, 13], [1757]),
    ];
    expectClose('clean metric per pair', j.metric.per_pair.clean, refs.map((x) => x.total), 1e-4);
    expectClose('per_token pair 2', j.tokens[1].per_token.answer.map((t: { clean: number }) => t.clean), refs[1].answer, 1e-4);
  });

  it('a multi-token answer with --metric prob, and with inspect, is refused with exit 2', async () => {
    const r = await cli(['attribute', '--model', model, '--clean', clean, '--corrupted', corrupted, '--answer', ' Mary Smith', '--metric', 'prob']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/answer " Mary Smith" is 2 tokens \(·Mary \| ·Smith\); multi-token answers are scored by teacher forcing.*logit_diff or logprob, not prob/);
    const s = await cli(['inspect', '--model', model, '--clean', clean, '--corrupted', corrupted, '--answer', ' Mary Smith', '--wrong', ' John']);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/inspect reads one next-token distribution/);
  });
});
