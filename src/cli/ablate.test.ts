// `patch --mode zero|mean|resample` and `attribute --mode zero|mean` as a user runs them (issue 13, item 4): the
// clean run ablated by default, "ablated_run" in the JSON, the mean over --reference's clean prompts per position,
// resample seeded per pair; values against the float64 reference run on the checkpoint's own weights.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelFromDir, writeRandomCheckpoint } from '../engine/model/weights-node';
import { parseGPT2Config } from '../engine/model/config';
import type { Weights } from '../engine/model/types';
import { referenceForward, referenceForwardF64, toFloat64Weights, type WeightsF64 } from '../../test/reference/gpt2-f64';
import { mulberry32 } from '../../test/reference/random-weights';
import * as M from '../../test/reference/metrics-f64';
import { expectClose } from '../../test/helpers/compare';
import { encode as r50k } from 'gpt-tokenizer/encoding/r50k_base';
import { cli } from '../../test/helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'patchwork-ablate-'));
const model = join(dir, 'model');
const cfg = parseGPT2Config({ model_type: 'gpt2', n_layer: 2, n_head: 2, n_embd: 16, n_positions: 32, vocab_size: 50257 }, 'ablate-tiny');
let weights: Weights;
let w64: WeightsF64;

const PAIRS = [
  { clean: 'When John and Mary went to the store, John gave a bag to', corrupted: 'When John and Mary went to the store, Mary gave a bag to', answer: ' Mary', wrong: ' John' },
  { clean: 'When Tom and Anna went to the park, Tom gave a ball to', corrupted: 'When Tom and Anna went to the park, Anna gave a ball to', answer: ' Anna', wrong: ' Tom' },
];
const REFERENCE = ['When Paul and Kate went to the beach, Paul gave a ring to', 'When Mark and Lisa went to the house, Lisa gave a pen to', 'When Emma and James went to the school, James gave a book to'];
const pairsFile = join(dir, 'pairs.jsonl');
const refFile = join(dir, 'reference.jsonl');

beforeAll(async () => {
  await writeRandomCheckpoint(model, cfg, 13);
  ({ weights } = await loadModelFromDir(model));
  w64 = toFloat64Weights(cfg, weights);
  writeFileSync(pairsFile, PAIRS.map((p) => JSON.stringify(p)).join('\n'));
  writeFileSync(refFile, REFERENCE.map((c) => JSON.stringify({ clean: c, corrupted: c, answer: ' x' })).join('\n'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);
const { nHeads: H, dHead: dh, nLayers: L } = cfg;

/** Reference: metric(run with head h's hook_z at layer l replaced by `value` (null: zero)) - metric(run). */
function refHeadAblation(tokens: number[], answer: number, wrong: number, value: (hook: string) => Float64Array | null): number[] {
  const P = tokens.length;
  const m = (logits: Float64Array) => M.logitDiff(logits, P, cfg.dVocab, answer, wrong);
  const base = m(referenceForward(cfg, weights, tokens).logits);
  const out: number[] = [];
  for (let l = 0; l < L; l++)
    for (let h = 0; h < H; h++) {
      const hook = `blocks.${l}.attn.hook_z`;
      const v = value(hook);
      const { logits } = referenceForwardF64(cfg, w64, tokens, {
        hooks: {
          [hook]: (z) => {
            const o = z.slice();
            for (let p = 0; p < P; p++) for (let d = 0; d < dh; d++) o[(p * H + h) * dh + d] = v ? v[(p * H + h) * dh + d] : 0;
            return o;
          },
        },
      });
      out.push(m(logits) - base);
    }
  return out;
}

describe('ablations from the CLI', () => {
  it('patch --mode zero ablates the clean run by default; --ablate corrupted the other', async () => {
    const args = ['patch', '--model', model, '--clean', PAIRS[0].clean, '--corrupted', PAIRS[0].corrupted, '--answer', ' Mary', '--wrong', ' John', '--families', 'head_out_all_pos', '--mode', 'zero'];
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ mode: 'zero', ablated_run: 'clean' });
    expect(j.metric.corrupted).toBeNull();
    const [tc, tk] = [j.tokens.clean, j.tokens.corrupted];
    expectClose('zero, clean', flat(j.activation.head_out_all_pos), refHeadAblation(tc, 5335, 1757, () => null), 1e-4, 1e-6);
    expect(j.metric.clean).toBeCloseTo(M.logitDiff(referenceForward(cfg, weights, tc).logits, tc.length, cfg.dVocab, 5335, 1757), 4);
    const c = JSON.parse((await cli([...args, '--ablate', 'corrupted'])).stdout);
    expect(c.ablated_run).toBe('corrupted');
    expectClose('zero, corrupted', flat(c.activation.head_out_all_pos), refHeadAblation(tk, 5335, 1757, () => null), 1e-4, 1e-6);
  });

  it('patch --mode mean --reference: per-position mean over the reference clean prompts; --pairs gives per_pair and sem', async () => {
    const r = await cli(['patch', '--model', model, '--pairs', pairsFile, '--families', 'head_out_all_pos', '--mode', 'mean', '--reference', refFile]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.reference).toMatchObject({ prompts: refFile, count: 3, mean: 'per position' });
    const refTokens = j.tokens.map((t: { clean: number[] }) => t.clean);
    // The reference file's clean prompts share the pairs' template, so their length (15 tokens with BOS).
    for (const text of REFERENCE) expect(encodeLike(text)).toHaveLength(15);
    const refAct = (hook: string) => {
      const acts = REFERENCE.map((text) => referenceForward(cfg, weights, encodeLike(text)).cache.get(hook)!.data);
      return acts[0].map((_, i) => acts.reduce((a, x) => a + x[i], 0) / acts.length);
    };
    const per = refTokens.map((t: number[], b: number) => refHeadAblation(t, j.tokens[b].answer, j.tokens[b].wrong, refAct));
    expectClose('mean per pair', flat(j.per_pair.head_out_all_pos), per.flat(), 1e-4, 1e-6);
    const mean = per[0].map((_: number, k: number) => (per[0][k] + per[1][k]) / 2);
    const sem = per[0].map((_: number, k: number) => Math.abs(per[0][k] - per[1][k]) / 2); // n = 2: std / sqrt(2)
    expectClose('mean', flat(j.activation.head_out_all_pos), mean, 1e-4, 1e-6);
    expectClose('sem', flat(j.sem.head_out_all_pos), sem, 1e-4, 1e-6);
  });

  it('patch --mode resample --seed: each pair draws a reference prompt, reproducibly', async () => {
    const args = ['patch', '--model', model, '--pairs', pairsFile, '--families', 'head_out_all_pos', '--mode', 'resample', '--reference', refFile, '--seed', '5'];
    const [a, b] = await Promise.all([cli(args), cli(args)]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const j = JSON.parse(a.stdout);
    expect(j.reference.seed).toBe(5);
    const per = j.tokens.map((t: { clean: number[]; answer: number; wrong: number }, pair: number) => {
      const drawn = encodeLike(REFERENCE[Math.floor(mulberry32(5 * 1000003 + pair)() * REFERENCE.length)]);
      const run = referenceForward(cfg, weights, drawn);
      return refHeadAblation(t.clean, t.answer, t.wrong, (hook) => run.cache.get(hook)!.data);
    });
    expectClose('resample per pair', flat(j.per_pair.head_out_all_pos), per.flat(), 1e-4, 1e-6);
  });

  it('attribute --mode zero ablates the clean run: "ablated_run": "clean", metric clean and corrupted', async () => {
    const r = await cli(['attribute', '--model', model, '--pairs', pairsFile, '--families', 'head_out_all_pos', '--mode', 'zero']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ablated_run).toBe('clean');
    expect(j.per_pair.head_out_all_pos).toHaveLength(2);
    expect(Number.isFinite(j.metric.corrupted)).toBe(true);
  });

  it('a reference of another length, and ablation options without --mode, are clear errors (exit 2)', async () => {
    const short = join(dir, 'short.jsonl');
    writeFileSync(short, JSON.stringify({ clean: 'a b c', corrupted: 'a b c', answer: ' x' }));
    const r = await cli(['patch', '--model', model, '--pairs', pairsFile, '--families', 'head_out_all_pos', '--mode', 'mean', '--reference', short]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/has no prompt of 15 tokens; the mean is taken per position/);
    const p = await cli(['patch', '--model', model, '--pairs', pairsFile, '--families', 'head_out_all_pos', '--reference', refFile, '--ablate', 'corrupted']);
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/--ablate, --reference go with --mode zero\|mean\|resample \(ablations\), not with patching/);
  });
});


describe('--metric kl from the CLI', () => {
  // The trained toy IOI model: its next-token distributions are sharp, so KL values are far above float32 noise.
  const toy = 'public/models/toy-ioi';
  it('KL(p_clean || p_run): 0 for the clean run, the float64 value for the corrupted run and for ablations; no --answer needed', async () => {
    const { config: tcfg, weights: tw } = await loadModelFromDir(toy);
    const tw64 = toFloat64Weights(tcfg, tw);
    const args = ['--model', toy, '--clean', PAIRS[0].clean.replace(' a bag', ' the drink'), '--corrupted', PAIRS[0].corrupted.replace(' a bag', ' the drink'), '--metric', 'kl', '--families', 'head_out_all_pos'];
    const r = await cli(['attribute', ...args]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.metric.name).toBe('kl');
    expect(j.tokens.answer).toBeNull();
    const [tc, tk] = [j.tokens.clean, j.tokens.corrupted];
    const src = referenceForward(tcfg, tw, tc).logits;
    const kl = (l: Float64Array) => M.klDivergence(src, l, tc.length, tcfg.dVocab);
    expect(Math.abs(j.metric.clean)).toBeLessThan(1e-4);
    const klCorrupted = kl(referenceForward(tcfg, tw, tk).logits);
    expect(klCorrupted).toBeGreaterThan(0.1);
    expect(Math.abs(j.metric.corrupted - klCorrupted) / klCorrupted).toBeLessThan(1e-4);
    // Zero ablation of the clean run: KL(p_clean || p_ablated) per head.
    const z = JSON.parse((await cli(['patch', ...args, '--mode', 'zero'])).stdout);
    const want: number[] = [];
    for (let l = 0; l < tcfg.nLayers; l++)
      for (let h = 0; h < tcfg.nHeads; h++) {
        const { logits } = referenceForwardF64(tcfg, tw64, tc, {
          hooks: { [`blocks.${l}.attn.hook_z`]: (v) => v.map((x, i) => (Math.floor(i / tcfg.dHead) % tcfg.nHeads === h ? 0 : x)) },
        });
        want.push(kl(logits));
      }
    expectClose('kl, zero ablation of the clean run', flat(z.activation.head_out_all_pos), want, 1e-4, 1e-6);
  });
});

/** GPT-2 tokens of a prompt with <|endoftext|> first, as the CLI encodes it (gpt-tokenizer's r50k, not the engine). */
function encodeLike(text: string): number[] {
  return [50256, ...r50k(text)];
}
