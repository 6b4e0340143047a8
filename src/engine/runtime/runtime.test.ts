// The same graphs on onnxruntime-node and on onnxruntime-web's wasm provider (in Node) give the same numbers.
// (WebGPU in headless Chromium is compared in e2e/.) Both are also checked against the float64 reference.
import { afterAll, expect, it } from 'vitest';
import { experimentFromTokens } from '../patching/experiment';
import { runAttribution } from '../patching/attribution';
import { ActivationPatcher } from '../patching/activation';
import { FAMILIES } from '../patching/families';
import { createNodeRuntime } from './node';
import { createWebRuntime } from './web';
import type { OrtModule } from './ort-runtime';
import type { Runtime } from './types';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const cfg = tinyConfig({ nLayers: 2, nHeads: 4, dModel: 16, dVocab: 40, name: 'tiny-runtimes' });
const weights = randomWeights(cfg, 17);
const P = 7;
const clean = [randomTokens(cfg, P, 1), randomTokens(cfg, P, 2)];
const corrupted = clean.map((c) => c.map((t, p) => (p === 3 ? (t + 5) % cfg.dVocab : t)));
const exp = experimentFromTokens({ clean, corrupted, answers: [3, 8], wrongs: [9, 1] });
const runtimes: Runtime[] = [];
afterAll(async () => {
  for (const r of runtimes) await r.dispose();
});

it('onnxruntime-node and onnxruntime-web (wasm) agree on attribution and activation patching', async () => {
  const ortWeb = (await import('onnxruntime-web')) as unknown as OrtModule;
  const node = createNodeRuntime({ threads: 1 });
  const wasm = await createWebRuntime(ortWeb, { backend: 'wasm' });
  runtimes.push(node, wasm);
  expect(wasm.backend).toBe('wasm');
  const results = [];
  for (const rt of [node, wasm]) {
    await rt.setWeights(weights);
    const attr = await runAttribution(rt, cfg, exp);
    const sweep = await new ActivationPatcher(rt, cfg).sweep(exp, 'head_out');
    results.push({ attr, sweep });
  }
  const [a, b] = results;
  for (const f of FAMILIES) expectClose(`attribution ${f}`, b.attr.values[f]!.data, a.attr.values[f]!.data, 1e-5, 1e-6);
  expectClose('activation head_out', b.sweep.data, a.sweep.data, 1e-5, 1e-6);
  expect(b.attr.metric.clean).toBeCloseTo(a.attr.metric.clean, 5);
});
