// Issue #5 in the app: on the offline model's induction preset, attribution patching and activation patching both
// rank the model's induction head first among all heads by head output, and the app shows it in the heads view;
// the offline IOI model, picked in the app, shows its S2 head first on its own preset.
// wasm only (SwiftShader is too slow for per-head patches); the numbers are checked against onnxruntime-node.
import { IOI_CIRCUIT, TOY_CIRCUIT } from '../src/engine/train/toy';
import type { ExperimentSpec } from '../src/engine/patching/types';
import { compareArrays, expect, test } from './fixtures';

const argmax = (xs: ArrayLike<number>) => Array.from(xs).reduce((best, x, i, a) => (x > a[best] ? i : best), 0);

test('the induction head comes first by attribution and by activation patching', async ({ app, reference }, testInfo) => {
  await app.open();
  await app.ready();
  await app.editor.preset('toy-induction');
  await expect(app.page.getByText(`the induction head ${TOY_CIRCUIT.induction} comes first`)).toBeVisible();
  await app.editor.run();
  const result = (await app.lastResult())!;
  const { shape } = result.attribution.head_out_all_pos;
  const data = result.attribution.head_out_all_pos.data.map((x) => x ?? -Infinity);
  const [nLayers, nHeads] = shape;
  expect(result.metric.clean - result.metric.corrupted, 'the preset separates clean and corrupted').toBeGreaterThan(1);

  const [layer, head] = TOY_CIRCUIT.induction.split('.').map(Number);
  expect(argmax(data), `attribution ${Array.from(data, (x) => x.toFixed(3)).join(' ')}`).toBe(layer * nHeads + head);
  const exact: number[] = [];
  for (let l = 0; l < nLayers; l++) for (let h = 0; h < nHeads; h++) exact.push(await app.patchValue('head_out_all_pos', [l, h]));
  expect(argmax(exact), `activation patches ${exact.map((x) => x.toFixed(3)).join(' ')}`).toBe(layer * nHeads + head);

  // The browser's numbers are onnxruntime-node's.
  const spec = (await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec)) as ExperimentSpec;
  const exp = reference.resolve(spec);
  const scale = Math.max(Math.abs(result.metric.clean), Math.abs(result.metric.corrupted));
  const sweep = await reference.sweep(exp, 'head_out_all_pos');
  const c = compareArrays(exact, sweep.data, { scale });
  expect(c.ok, JSON.stringify(c)).toBe(true);

  // Shown: its cell in the heads view carries both numbers.
  await app.results.tab('heads').click();
  const cell = app.results.cell('head_out_all_pos', layer, head);
  await cell.click();
  await expect(app.page.getByTestId('details.target')).toHaveText(`blocks.${layer}.attn.hook_z head ${head} (all pos)`);
  await expect(cell).toHaveAttribute('aria-label', /attribution [\d.]+, activation patch [\d.]+/);
  await app.snapshot(testInfo, 'induction-head');
});

test('the offline IOI model: pick it, its preset runs, the S2 head comes first', async ({ app }, testInfo) => {
  await app.open();
  await app.ready();
  await app.model.picker.selectOption('toy-ioi');
  await app.model.waitReady();
  await expect(app.page.getByTestId('preset.toy-ioi')).toBeVisible();
  await app.editor.preset('toy-ioi');
  await expect(app.page.getByTestId('preset.lookfor')).toContainText(`Head ${IOI_CIRCUIT.subject} attends from the last position to S2`);
  await app.editor.run();
  const result = (await app.lastResult())!;
  expect(result.metric.clean - result.metric.corrupted).toBeGreaterThan(5);
  const [, nHeads] = result.attribution.head_out_all_pos.shape;
  const data = result.attribution.head_out_all_pos.data.map((x) => x ?? -Infinity);
  const [layer, head] = IOI_CIRCUIT.subject.split('.').map(Number);
  expect(argmax(data)).toBe(layer * nHeads + head);
  expect(await app.patchValue('head_out_all_pos', [layer, head])).toBeGreaterThan(0.8 * (result.metric.clean - result.metric.corrupted));
  await app.snapshot(testInfo, 'toy-ioi');
});
