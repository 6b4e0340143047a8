// Acceptance of the committed toy induction model (issue #5), measured on public/models/toy-induction:
// held-out induction loss, a previous-token head in layer 0, an induction head in layer 1, a loss curve that falls
// window by window. The engine measures; the float64 reference re-measures one sequence independently.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '../src/engine/model/safetensors';
import type { LoadedModel } from '../src/engine/model/weights';
import { loadModelFromDir } from '../src/engine/model/weights-node';
import { createNodeRuntime } from '../src/engine/runtime/node';
import { windowMeans, type CurvePoint } from '../src/engine/train/curve';
import { repeatedSequences, toyVocabSubset } from '../src/engine/train/data';
import { bestHead, evaluateInduction, type InductionEval } from '../src/engine/train/eval';
import { TOY_CIRCUIT, TOY_CONFIG, TOY_EVAL, TOY_MODEL_DIR } from '../src/engine/train/toy';
import { BOS_TOKEN } from '../src/engine/model/tokenizer';
import { referenceForward } from './reference/gpt2-f64';
import { logSumExp } from './reference/metrics-f64';

describe(`the toy induction model in ${TOY_MODEL_DIR}`, () => {
  const rt = createNodeRuntime({ threads: 2 });
  afterAll(() => rt.dispose());

  let model: LoadedModel;
  let subset: number[];
  let scores: InductionEval;

  beforeAll(async () => {
    model = await loadModelFromDir(TOY_MODEL_DIR);
    subset = JSON.parse(await readFile(join(TOY_MODEL_DIR, 'vocab_subset.json'), 'utf8'));
    scores = await evaluateInduction(rt, model.config, model.weights, subset, TOY_EVAL);
  });

  describe('the committed checkpoint', () => {
    it('is a Hugging Face GPT-2: config.json with model_type gpt2 and the toy sizes, model.safetensors under 15 MB', async () => {
      const json = JSON.parse(await readFile(join(TOY_MODEL_DIR, 'config.json'), 'utf8'));
      expect(json).toMatchObject({ model_type: 'gpt2', n_layer: 2, n_embd: 64, n_head: 4, vocab_size: 50257, n_positions: 64 });
      const { name: _a, ...cfg } = model.config;
      const { name: _b, ...want } = TOY_CONFIG;
      expect(cfg).toEqual(want);
      const bytes = (await stat(join(TOY_MODEL_DIR, 'model.safetensors'))).size;
      expect(bytes).toBeLessThan(15e6);
      const file = parseSafetensors(await readFile(join(TOY_MODEL_DIR, 'model.safetensors')));
      expect(new Set([...file.entries.values()].map((e) => e.dtype)).size).toBe(1);
    });

    it('lists the training vocabulary: the subset the data module draws from', () => {
      expect(subset).toEqual(toyVocabSubset());
    });
  });

  describe('induction on held-out repeated random sequences (seed 12345; training used seed 1)', () => {
    it('predicts the second copy (loss < 1 nat) and stays near uniform over the subset on the first', () => {
      const { firstHalfLoss, secondHalfLoss, inductionLoss, uniformLoss } = scores;
      console.log(
        `first half ${firstHalfLoss.toFixed(3)} nats (uniform over ${subset.length}: ${uniformLoss.toFixed(3)}); ` +
          `second half ${secondHalfLoss.toFixed(3)} (${inductionLoss.toFixed(3)} without its unpredictable first token)`,
      );
      expect(secondHalfLoss).toBeLessThan(1.0);
      expect(Math.abs(firstHalfLoss - uniformLoss) / uniformLoss).toBeLessThan(0.15);
    });

    it('has a previous-token head in layer 0 and an induction head in layer 1', () => {
      const prev = bestHead(scores.prevToken, 0);
      const ind = bestHead(scores.prefixMatching, 1);
      console.log(`previous-token head ${prev.head}: ${prev.score.toFixed(3)}; induction head ${ind.head}: ${ind.score.toFixed(3)}`);
      console.log(`  previous-token scores by layer: ${JSON.stringify(scores.prevToken.map((r) => r.map((x) => +x.toFixed(3))))}`);
      console.log(`  prefix-matching scores by layer: ${JSON.stringify(scores.prefixMatching.map((r) => r.map((x) => +x.toFixed(3))))}`);
      expect(prev.score).toBeGreaterThan(0.5);
      expect(ind.score).toBeGreaterThan(0.5);
      expect([prev.head, ind.head]).toEqual([TOY_CIRCUIT.previousToken, TOY_CIRCUIT.induction]); // as the preset says
      for (const score of scores.prefixMatching[1]) expect(score).toBeGreaterThan(0.5); // "every layer-1 head prefix-matches"
      // The preset also names a current-token head (attends to its own position).
      const current = bestHead(scores.currentToken, 0);
      console.log(`  current-token scores, layer 0: ${scores.currentToken[0].map((x) => x.toFixed(3)).join(' ')}`);
      expect(current.head).toBe(TOY_CIRCUIT.currentToken);
      expect(current.score).toBeGreaterThan(0.5);
    });

    it('measures the same on one sequence with the independent float64 reference', async () => {
      const half = 20;
      const seed = 777;
      const tokens = repeatedSequences(subset, seed)(half).tokens;
      const { logits, cache } = referenceForward(model.config, model.weights, tokens);
      const V = model.config.dVocab;
      const nll = (t: number) => {
        const row = logits.subarray((t - 1) * V, t * V);
        return logSumExp(row) - row[tokens[t]];
      };
      let second = 0;
      for (let t = half + 1; t <= 2 * half; t++) second += nll(t) / half;
      const ind = bestHead(scores.prefixMatching, 1);
      const h = Number(ind.head.split('.')[1]);
      const pattern = cache.get('blocks.1.attn.hook_pattern')!; // [head_index, query_pos, key_pos]
      const P = tokens.length;
      let prefix = 0;
      for (let q = half + 1; q <= 2 * half; q++) prefix += pattern.data[(h * P + q) * P + q - half + 1] / half;

      const engine = await evaluateInduction(rt, model.config, model.weights, subset, { seed, halves: [half] });
      console.log(`float64 reference, L = ${half}: second half ${second.toFixed(4)} (engine ${engine.secondHalfLoss.toFixed(4)}), prefix matching of ${ind.head} ${prefix.toFixed(4)} (engine ${engine.prefixMatching[1][h].toFixed(4)})`);
      expect(engine.secondHalfLoss).toBeCloseTo(second, 3);
      expect(engine.prefixMatching[1][h]).toBeCloseTo(prefix, 4);
      expect(second).toBeLessThan(1.0);
      expect(prefix).toBeGreaterThan(0.5);

      // Untrained tokens (outside the subset and BOS) share one sealed logit far below: a negligible probability.
      const trained = new Set([...subset, BOS_TOKEN]);
      let worst = 0;
      for (let t = 0; t < P; t++) {
        const row = logits.subarray(t * V, (t + 1) * V);
        const lse = logSumExp(row);
        let untrained = 0;
        for (let v = 0; v < V; v++) if (!trained.has(v)) untrained += Math.exp(row[v] - lse);
        worst = Math.max(worst, untrained);
      }
      // ... near the logit the file's metadata records (F16 rounding of the sealed rows moves it by a few nats).
      const meta = parseSafetensors(await readFile(join(TOY_MODEL_DIR, 'model.safetensors'))).metadata;
      const untrainedId = [...Array(V).keys()].find((v) => !trained.has(v))!;
      const u = Array.from({ length: P }, (_, t) => logits[t * V + untrainedId]);
      console.log(`largest probability on untrained tokens at any position: ${worst.toExponential(2)}; ` +
        `untrained logit ${Math.min(...u).toFixed(2)} .. ${Math.max(...u).toFixed(2)} (sealed at ${meta.untrained_logit})`);
      expect(worst).toBeLessThan(1e-6);
      for (const x of u) expect(Math.abs(x - Number(meta.untrained_logit))).toBeLessThan(8);
    });
  });

  describe('the training run', () => {
    it('has a loss curve whose means over consecutive tenths of the run strictly decrease', async () => {
      const curve: CurvePoint[] = JSON.parse(await readFile(join(TOY_MODEL_DIR, 'loss-curve.json'), 'utf8'));
      expect(curve.map((p) => p.step)).toEqual(curve.map((_, i) => i));
      const windows = windowMeans(curve.map((p) => p.loss), 10);
      console.log(`loss over ${curve.length} steps, by tenths: ${windows.map((x) => x.toFixed(3)).join(' ')}`);
      for (let i = 1; i < windows.length; i++) expect(windows[i]).toBeLessThan(windows[i - 1]);
    });
  });
});
