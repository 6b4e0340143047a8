// Fetch, patch and gradient on chosen hooks in one run, against the float64 reference.
import { afterAll, expect, it } from 'vitest';
import { Mul, ReduceSum, Slice } from '../graph';
import { createNodeRuntime } from '../runtime/node';
import { unembed } from './gpt2';
import { hookedGraph } from './hooked';
import { referenceForward } from '../../../test/reference/gpt2-f64';
import { hookGradFD } from '../../../test/reference/finite-diff';
import { logit } from '../../../test/reference/metrics-f64';
import { randomTokens, randomWeights, tinyConfig } from '../../../test/reference/random-weights';
import { expectClose } from '../../../test/helpers/compare';

const rt = createNodeRuntime({ threads: 1 });
afterAll(() => rt.dispose());

it('one run fetches hooks, patches another hook and returns gradients at a third', async () => {
  const cfg = tinyConfig({ nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 16, dVocab: 20 });
  const weights = randomWeights(cfg, 9);
  await rt.setWeights(weights);
  const P = 6;
  const toks = randomTokens(cfg, P, 4);
  const patchHook = 'blocks.0.attn.hook_z';
  const answer = 7;
  const g = () =>
    hookedGraph(cfg, {
      batch: 1, pos: P,
      fetch: ['blocks.1.hook_resid_mid', 'logits'],
      patch: [patchHook],
      gradOf: ['blocks.1.attn.hook_pattern', 'blocks.0.hook_resid_pre'],
      loss: ({ g, w, lnOut }) => {
        const onehot = new Float32Array(cfg.dVocab);
        onehot[answer] = 1;
        return ReduceSum(Mul(unembed(cfg, w, Slice(lnOut, 1, P - 1, P)), g.constant(onehot, [1, 1, cfg.dVocab])), [0, 1, 2]);
      },
    });
  // Replace head 1 of z at position 2 with 0.5.
  const zSize = P * cfg.nHeads * cfg.dHead;
  const mask = new Uint8Array(zSize);
  const values = new Float32Array(zSize);
  for (let d = 0; d < cfg.dHead; d++) {
    const e = (2 * cfg.nHeads + 1) * cfg.dHead + d;
    mask[e] = 1;
    values[e] = 0.5;
  }
  const shape = [1, P, cfg.nHeads, cfg.dHead];
  const run = (m: Uint8Array) =>
    rt.run('hooked', g, {
      tokens: { dtype: 'int64', shape: [1, P], data: BigInt64Array.from(toks, BigInt) },
      [`patch.${patchHook}`]: { dtype: 'float32', shape, data: values },
      [`mask.${patchHook}`]: { dtype: 'bool', shape, data: m },
    });

  // Patched: fetched hooks and logits equal the reference run with that entry replaced.
  const out = await run(mask);
  const replace = { [patchHook]: (v: Float64Array) => v.map((x, i) => (mask[i] ? values[i] : x)) };
  const ref = referenceForward(cfg, weights, toks, { hooks: replace });
  expectClose('patched resid_mid', out['blocks.1.hook_resid_mid'].data, ref.cache.get('blocks.1.hook_resid_mid')!.data, 1e-4);
  expectClose('patched logits', out.logits.data, ref.logits, 1e-4);
  expect(out.loss.data[0]).toBeCloseTo(ref.logits[(P - 1) * cfg.dVocab + answer], 4);

  // Unpatched (mask all false), same session: gradients at the chosen hooks equal finite differences.
  const plain = await run(new Uint8Array(zSize));
  const metric = (l: Float64Array) => logit(l, P, cfg.dVocab, answer);
  for (const h of ['blocks.1.attn.hook_pattern', 'blocks.0.hook_resid_pre']) {
    const fd = hookGradFD(cfg, weights, toks, metric, h);
    expectClose(`${h}_grad`, plain[`${h}_grad`].data, fd, 2e-3, 1e-4);
  }
  expect(Object.keys(plain).sort()).toEqual(['blocks.0.hook_resid_pre_grad', 'blocks.1.attn.hook_pattern_grad', 'blocks.1.hook_resid_mid', 'logits', 'loss']);
});

it('names an unknown hook', () => {
  const cfg = tinyConfig();
  expect(() => hookedGraph(cfg, { batch: 1, pos: 2, fetch: ['blocks.0.hook_z'] })).toThrow(/unknown hook "blocks.0.hook_z"/);
});
