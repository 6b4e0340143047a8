// GPU-located outputs on WebGPU (issue 15 item 3): the activation patcher's cached resid_pre (base run) and source
// hooks stay in GPU buffers and are fed back to the patch graphs as they are; only the reduced arrays (metric rows,
// keys and values for prefixes) are read back. The numbers are unchanged: exact patches equal onnxruntime-node's.
import type { ExperimentSpec } from '../src/engine/patching/types';
import { compareArrays, expect, test } from './fixtures';

test('exact patches on WebGPU keep the cached activations in GPU buffers and equal onnxruntime-node @webgpu-only', async ({ app, reference }) => {
  // SwiftShader on a loaded 2-core machine: the model's prewarm (attribution, cache and patch sessions) alone took
  // 80 s once, and Run queues behind it; wait for it here rather than within Run's 90 s.
  test.setTimeout(400_000);
  await app.open();
  await app.ready();
  await expect.poll(() => app.page.evaluate(async () => (await window.patchwork!.transfers()).outputsKept), { timeout: 300_000 }).toBeGreaterThan(0);
  await app.editor.preset('toy-induction');
  await app.editor.run();
  const result = (await app.lastResult())!;
  const spec = (await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec)) as ExperimentSpec;
  const [nLayers, nPos] = result.attribution.resid_pre.shape;
  const exp = reference.resolve(spec);
  const scale = Math.max(Math.abs(result.metric.clean), Math.abs(result.metric.corrupted));

  const before = await app.page.evaluate(() => window.patchwork!.transfers());
  const cells = [[nLayers - 1, nPos - 1], [0, 1], [1, nPos - 2]];
  const got: number[] = [];
  for (const c of cells) got.push(await app.patchValue('resid_pre', c));
  const after = await app.page.evaluate(() => window.patchwork!.transfers());
  const want: number[] = [];
  for (const c of cells) want.push(await reference.patch(exp, 'resid_pre', c));
  expect(compareArrays(got, want, { scale }).ok, `webgpu ${got} vs node ${want}`).toBe(true);

  // The resid_pre cache of this experiment: each layer's base resid_pre and source resid_pre, all in GPU buffers.
  expect(after.weightPrecision).toBe('float32'); // SwiftShader has no shader-f16
  expect(after.outputsKept - before.outputsKept).toBe(2 * nLayers);
  expect(after.outputsOnGpu - before.outputsOnGpu).toBe(2 * nLayers);
  // Read back: the cache run's keys and values (for prefixes) and metrics, and each patch's metric rows, i.e. less
  // than 3 of the 4 x nLayers activations of [pairs, pos, d_model] a fully fetched cache run would copy.
  const [nPairs, dModel] = [exp.nPairs, reference.cfg.dModel];
  expect(after.bytesReadBack - before.bytesReadBack).toBeLessThan(3 * nLayers * nPairs * nPos * dModel * 4);
});
