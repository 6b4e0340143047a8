// Open, run a preset, see the heatmaps, click cells: every number the app shows must equal an independent
// onnxruntime-node run of the same graphs on the same checkpoint (1e-4 relative). Runs on wasm AND WebGPU, so it
// is also the check that node, web-wasm and WebGPU agree.
import { writeFile } from 'node:fs/promises';
import type { Family } from '../src/engine/patching/types';
import type { ExperimentSpec } from '../src/engine/patching/types';
import { compareArrays, expect, test } from './fixtures';

const FAMILIES: Family[] = ['resid_pre', 'attn_out', 'mlp_out', 'head_out', 'head_out_all_pos', 'q', 'k', 'v', 'pattern', 'pattern_by_pos'];

function argmaxAbs(data: (number | null)[], from = 0, to = data.length): number {
  let best = from;
  for (let i = from; i < to; i++) if (Math.abs(data[i] ?? 0) > Math.abs(data[best] ?? 0)) best = i;
  return best;
}

test('run the toy induction preset: heatmaps, numbers equal onnxruntime-node, click and Enter run exact patches @webgpu', async ({ app, reference, backend }, testInfo) => {
  await app.open();
  await app.ready();
  expect(await app.page.evaluate(() => window.patchwork!.backend())).toBe(backend);
  await expect(app.page.getByTestId('backend.active')).toHaveText(backend === 'webgpu' ? 'WebGPU' : 'wasm');

  await app.editor.preset('toy-induction');
  await expect(app.page.getByTestId('preset.lookfor')).toContainText('induction');
  await app.editor.run();
  const result = (await app.lastResult())!;
  const spec = (await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec)) as ExperimentSpec;
  const nLayers = result.attribution.resid_pre.shape[0];
  const nPos = result.tokens.length;

  // Layer x position heatmaps, labelled with the prompt's tokens.
  await app.results.tab('residual').click();
  for (const f of ['resid_pre', 'attn_out', 'mlp_out'] as const) await expect(app.results.heatmapCells(f)).toHaveCount(nLayers * nPos);
  await expect(app.results.figure('resid_pre').locator('svg text', { hasText: '·bread' }).first()).toBeVisible();
  await app.snapshot(testInfo, `residual-${backend}`);

  // Every attribution array against onnxruntime-node.
  const exp = reference.resolve(spec);
  const ref = await reference.attribute(exp, { families: FAMILIES, mode: 'patch' });
  expect(compareArrays([result.metric.clean, result.metric.corrupted], [ref.metric.clean, ref.metric.corrupted]).ok).toBe(true);
  const scale = Math.max(Math.abs(ref.metric.clean), Math.abs(ref.metric.corrupted));
  const report: Record<string, unknown> = {};
  for (const f of FAMILIES) {
    const got = result.attribution[f];
    const want = ref.values[f]!;
    expect(got.shape, f).toEqual(want.shape);
    const c = compareArrays(got.data, want.data, { scale });
    report[f] = c;
    expect(c.ok, `${f}: ${JSON.stringify(c)}`).toBe(true);
  }
  // Kept as an artefact: the largest differences between this backend and onnxruntime-node, per family.
  const reportPath = testInfo.outputPath(`attribution-vs-onnxruntime-node-${backend}.json`);
  await writeFile(reportPath, JSON.stringify(report, null, 2));
  await testInfo.attach('attribution-vs-onnxruntime-node', { path: reportPath, contentType: 'application/json' });

  // Click the resid_pre cell with the largest attribution in the last layer: the details panel shows the exact
  // patch, equal to the worker's (patchValue) and to onnxruntime-node's.
  const rp = result.attribution.resid_pre.data;
  const flat = argmaxAbs(rp, (nLayers - 1) * nPos, nLayers * nPos);
  const pos = flat % nPos;
  await app.results.cell('resid_pre', nLayers - 1, pos).click();
  const shown = await app.results.activationValue();
  const viaApi = await app.patchValue('resid_pre', [nLayers - 1, pos]);
  const viaNode = await reference.patch(exp, 'resid_pre', [nLayers - 1, pos]);
  expect(shown).toBe(viaApi);
  expect(compareArrays([shown], [viaNode], { scale }).ok, `shown ${shown} vs node ${viaNode}`).toBe(true);
  await expect(app.results.attribution).toHaveAttribute('data-value', String(rp[flat]));
  // The cell's accessible name states target and both values; the tooltip shows them on hover.
  await expect(app.results.cell('resid_pre', nLayers - 1, pos)).toHaveAttribute('aria-label', new RegExp(`^blocks\\.${nLayers - 1}\\.hook_resid_pre pos ${pos} .*: attribution .*, activation patch -?\\d`));
  await app.results.cell('resid_pre', nLayers - 1, pos).hover();
  await expect(app.page.getByTestId('heatmap.tooltip')).toContainText('activation patch');

  // Keyboard: focus a head cell and press Enter.
  await app.results.tab('heads').click();
  await expect(app.results.heatmapCells('head_out_all_pos')).toHaveCount(nLayers * result.attribution.head_out_all_pos.shape[1]);
  const ho = result.attribution.head_out_all_pos.data;
  const hflat = argmaxAbs(ho);
  const nHeads = result.attribution.head_out_all_pos.shape[1];
  const [layer, head] = [Math.floor(hflat / nHeads), hflat % nHeads];
  const cell = app.results.cell('head_out_all_pos', layer, head);
  await cell.focus();
  await cell.press('Enter');
  await expect(app.page.getByTestId('details.target')).toHaveText(`blocks.${layer}.attn.hook_z head ${head} (all pos)`);
  const headShown = await app.results.activationValue();
  const headNode = await reference.patch(exp, 'head_out_all_pos', [layer, head]);
  expect(compareArrays([headShown], [headNode], { scale }).ok, `shown ${headShown} vs node ${headNode}`).toBe(true);
  await app.snapshot(testInfo, `heads-${backend}`);
});
