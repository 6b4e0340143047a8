// The stretch of issue #5, measured on the committed checkpoint public/models/toy-ioi: IOI behaviour on held-out
// sentences (engine, re-measured on one sentence by the float64 reference), the training run, and the circuit the
// app's toy IOI preset shows (attribution and activation patching agree on the head that carries it).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedModel } from '../src/engine/model/weights';
import { loadModelFromDir } from '../src/engine/model/weights-node';
import { BOS_TOKEN, encode } from '../src/engine/model/tokenizer';
import { createNodeRuntime } from '../src/engine/runtime/node';
import { PatchingEngine } from '../src/engine/patching';
import { windowMeans, type CurvePoint } from '../src/engine/train/curve';
import { evaluateIoi, type IoiEval } from '../src/engine/train/eval';
import { IOI_NAMES, ioiSentences, ioiVocabSubset } from '../src/engine/train/ioi-data';
import { IOI_CIRCUIT, IOI_CONFIG, IOI_EVAL_SEED, IOI_MODEL_DIR } from '../src/engine/train/toy';
import { PRESETS } from '../src/ui/presets';
import { referenceForward } from './reference/gpt2-f64';
import { logSumExp } from './reference/metrics-f64';

const rt = createNodeRuntime({ threads: 2 });
let model: LoadedModel;
let scores: IoiEval;
const held = (() => {
  const next = ioiSentences(IOI_EVAL_SEED);
  return Array.from({ length: 200 }, () => {
    const s = next();
    return { ...s, sToken: encode(s.s)[0] };
  });
})();

beforeAll(async () => {
  model = await loadModelFromDir(IOI_MODEL_DIR);
  scores = await evaluateIoi(rt, model.config, model.weights, held);
});
afterAll(() => rt.dispose());

describe(`the toy IOI model in ${IOI_MODEL_DIR}`, () => {
  it('is a Hugging Face GPT-2 of the IOI shape, under 15 MB, with its training vocabulary', async () => {
    const json = JSON.parse(await readFile(join(IOI_MODEL_DIR, 'config.json'), 'utf8'));
    expect(json).toMatchObject({ model_type: 'gpt2', n_layer: 3, n_embd: 64, n_head: 4, vocab_size: 50257, n_positions: 32 });
    const { name: _a, ...cfg } = model.config;
    const { name: _b, ...want } = IOI_CONFIG;
    expect(cfg).toEqual(want);
    expect((await stat(join(IOI_MODEL_DIR, 'model.safetensors'))).size).toBeLessThan(15e6);
    expect(JSON.parse(await readFile(join(IOI_MODEL_DIR, 'vocab_subset.json'), 'utf8'))).toEqual(ioiVocabSubset());
  });

  it('names the indirect object on held-out sentences (both name orders, every template)', () => {
    console.log(`held-out: logit(IO) - logit(S) ${scores.logitDiff.toFixed(3)}, IO above S in ${(100 * scores.accuracy).toFixed(1)}%, p(IO) ${scores.ioProb.toFixed(3)}`);
    expect(scores.accuracy).toBeGreaterThanOrEqual(0.98);
    expect(scores.logitDiff).toBeGreaterThan(5);
    expect(scores.ioProb).toBeGreaterThan(0.9);
  });

  it('measures the same on one sentence with the independent float64 reference, untrained tokens negligible', async () => {
    const s = held[0];
    const prompt = s.tokens.slice(0, -1);
    const { logits } = referenceForward(model.config, model.weights, prompt);
    const V = model.config.dVocab;
    const row = logits.subarray((prompt.length - 1) * V, prompt.length * V);
    const diff = row[s.tokens[s.tokens.length - 1]] - row[s.sToken];
    const engine = await evaluateIoi(rt, model.config, model.weights, [s]);
    expect(engine.logitDiff).toBeCloseTo(diff, 3);
    expect(engine.ioProb).toBeCloseTo(Math.exp(row[s.tokens[s.tokens.length - 1]] - logSumExp(row)), 4);
    const trained = new Set([...ioiVocabSubset(), BOS_TOKEN]);
    const lse = logSumExp(row);
    let untrained = 0;
    for (let v = 0; v < V; v++) if (!trained.has(v)) untrained += Math.exp(row[v] - lse);
    expect(untrained).toBeLessThan(1e-6);
  });

  it('has a loss curve whose means over consecutive tenths of the run strictly decrease', async () => {
    const curve: CurvePoint[] = JSON.parse(await readFile(join(IOI_MODEL_DIR, 'loss-curve.json'), 'utf8'));
    const windows = windowMeans(curve.map((p) => p.loss), 10);
    console.log(`loss over ${curve.length} steps, by tenths: ${windows.map((x) => x.toFixed(3)).join(' ')}`);
    for (let i = 1; i < windows.length; i++) expect(windows[i]).toBeLessThan(windows[i - 1]);
  });

  it(`on the toy IOI preset, attribution and activation patching both rank ${IOI_CIRCUIT.subject} first; it attends from the end to S2`, async () => {
    const engine = await PatchingEngine.create(createNodeRuntime({ threads: 2 }), model.config, model.weights);
    try {
      const exp = engine.resolve(PRESETS.find((p) => p.id === 'toy-ioi')!.spec);
      const attr = await engine.attribute(exp, { families: ['head_out_all_pos'] });
      const act = await engine.sweep(exp, 'head_out_all_pos');
      const a = attr.values.head_out_all_pos!.data;
      console.log(`toy IOI preset: logit diff clean ${attr.metric.clean.toFixed(2)}, corrupted ${attr.metric.corrupted.toFixed(2)}; ` +
        `attribution ${Array.from(a, (x) => x.toFixed(2)).join(' ')}; activation ${Array.from(act.data, (x) => x.toFixed(2)).join(' ')}`);
      const argmax = (xs: ArrayLike<number>) => Array.from(xs).reduce((best, x, i, arr) => (x > arr[best] ? i : best), 0);
      const [layer, head] = IOI_CIRCUIT.subject.split('.').map(Number);
      const flat = layer * model.config.nHeads + head;
      expect(attr.metric.clean - attr.metric.corrupted).toBeGreaterThan(5);
      expect(argmax(a)).toBe(flat);
      expect(argmax(act.data)).toBe(flat);

      // Its attention from the final position goes to the repeated name (S2) in every clean prompt of the preset.
      const P = exp.nPos;
      const names = new Set(IOI_NAMES.map((n) => encode(` ${n}`)[0]));
      const toS2: number[] = [];
      for (const tokens of exp.clean) {
        const pat = referenceForward(model.config, model.weights, tokens).cache.get(`blocks.${layer}.attn.hook_pattern`)!.data;
        const s2 = tokens.findIndex((t, i) => names.has(t) && tokens.slice(0, i).includes(t)); // the repeated name
        toS2.push(pat[(head * P + P - 1) * P + s2]);
      }
      console.log(`${IOI_CIRCUIT.subject}'s attention from the end to S2, per clean prompt: ${toS2.map((x) => x.toFixed(2)).join(' ')}`);
      for (const x of toS2) expect(x).toBeGreaterThan(0.5);

      // Residual stream (as the preset says): patching resid_pre moves the whole effect only at S2 up to that head's
      // layer, and only at the last position after it.
      const s2 = exp.clean[0].findIndex((t, i) => names.has(t) && exp.clean[0].slice(0, i).includes(t));
      const resid = await engine.sweep(exp, 'resid_pre');
      const gap = attr.metric.clean - attr.metric.corrupted;
      for (let l = 0; l < model.config.nLayers; l++) {
        const row = Array.from(resid.data.subarray(l * P, (l + 1) * P));
        expect(argmax(row), `resid_pre layer ${l}: ${row.map((x) => x.toFixed(1)).join(' ')}`).toBe(l <= layer ? s2 : P - 1);
        expect(Math.max(...row)).toBeGreaterThan(0.9 * gap);
      }
    } finally {
      await engine.dispose();
    }
  });
});
