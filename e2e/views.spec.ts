// The views beyond the first heatmaps: a whole-view sweep with progress, the scatter plots, the attention viewer
// (both modes) and the exports. wasm only: SwiftShader is too slow for sweeps.
import { openExport } from './pages';
import { readFile } from 'node:fs/promises';
import type { ExperimentSpec } from '../src/engine/patching/types';
import { compareArrays, expect, test } from './fixtures';

// One page and one Run for two flows (each used to open the app and run the preset itself): the attention viewer
// first (one exact patch of a pattern entry), then the residual view's sweep, which checks only its own families.
// Every assertion of the two separate tests is kept.
test('one toy induction Run: the attention viewer, then patch every cell of a view, scatter plots and exports', async ({ app, reference }, testInfo) => {
  test.setTimeout(300_000);
  await app.open();
  await app.ready();
  await app.editor.preset('toy-induction');
  await app.editor.run();

  await test.step('attention viewer: heads ranked, a head\'s grid with token labels, click patches, clean-only mode', async () => {
    await app.results.tab('attention').click();
    const result = (await app.lastResult())!;
    const [nLayers, nHeads, nPos] = result.attribution.pattern_by_pos.shape;
    const heads = app.page.getByTestId('attention.head');
    await expect(heads).toHaveCount(nLayers * nHeads);
    const grid = app.page.getByTestId('figure.attention');
    // Causal: only key <= query cells exist.
    await expect(grid.getByTestId('heatmap.cell')).toHaveCount((nPos * (nPos + 1)) / 2);

    // Pick the second-ranked head and its strongest entry; the click runs the exact patch of that pattern entry.
    await heads.nth(1).click();
    const layer = Number(await heads.nth(1).getAttribute('data-layer'));
    const head = Number(await heads.nth(1).getAttribute('data-head'));
    await expect(grid.locator('figcaption')).toContainText(`L${layer}H${head}`);
    const q = nPos - 1;
    await grid.locator(`[data-testid="heatmap.cell"][data-row="${q}"][data-col="1"]`).click();
    const shown = await app.results.activationValue();
    const spec = (await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec)) as ExperimentSpec;
    const node = await reference.patch(reference.resolve(spec), 'pattern_by_pos', [layer, head, q, 1]);
    const scale = Math.max(Math.abs(result.metric.clean), Math.abs(result.metric.corrupted));
    expect(compareArrays([shown], [node], { scale }).ok, `${shown} vs ${node}`).toBe(true);
    await app.snapshot(testInfo, 'attention');

    // Clean-only attention attribution: pattern * grad on the clean prompt = -(zero-ablation attribution, noising,
    // corrupted = clean).
    await app.page.getByTestId('attention.mode.clean').check();
    await expect(grid.locator('figcaption')).toContainText('clean prompt only');
    const cleanSpec = { ...spec, direction: 'noising' as const, pairs: spec.pairs.map((p) => ({ ...p, corrupted: p.clean })) };
    const zero = await reference.attribute(reference.resolve(cleanSpec), { families: ['pattern_by_pos'], mode: 'zero' });
    const [csv] = await Promise.all([app.page.waitForEvent('download'), openExport(grid).then(() => grid.getByTestId('export.json').click())]);
    const exported = JSON.parse(await readFile((await csv.path())!, 'utf8'));
    const flat = (exported.values.attention_attribution as (number | null)[][][][]).flat(3);
    const c = compareArrays(flat, Array.from(zero.values.pattern_by_pos!.data, (v) => -v), { scale });
    expect(c.ok, JSON.stringify(c)).toBe(true);
    await app.snapshot(testInfo, 'attention-clean');
  });

  await test.step('patch every cell of a view, then compare in scatter plots; exports', async () => {
    await app.results.tab('residual').click();
    await app.results.sweep();
    const result = (await app.lastResult())!;
    const spec = (await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec)) as ExperimentSpec;

    // Every cell of the view is computed and marked; the sweep equals onnxruntime-node's.
    const exp = reference.resolve(spec);
    const scale = Math.max(Math.abs(result.metric.clean), Math.abs(result.metric.corrupted));
    for (const f of ['resid_pre', 'attn_out', 'mlp_out'] as const) {
      await expect(app.results.figure(f).locator('[data-testid="heatmap.cell"][data-computed="false"]')).toHaveCount(0);
      const sweep = await reference.sweep(exp, f);
      const c = compareArrays(result.patched[f].data, sweep.data, { scale });
      expect(c.ok, `${f} sweep: ${JSON.stringify(c)}`).toBe(true);
    }

    // Scatter: one plot per family with patches, y = x line, statistics; hovering a point names its target.
    await app.results.tab('scatter').click();
    const scatter = app.results.figure('scatter.resid_pre');
    await expect(scatter.locator('.js-plotly-plot')).toBeVisible();
    await expect(scatter.getByTestId('scatter.title')).toContainText(/Pearson r = -?[\d.]+ · Spearman ρ = -?[\d.]+ · top-\d+ overlap/);
    await expect(scatter.locator('.annotation-text', { hasText: 'y = x' })).toHaveCount(1);
    await expect(app.results.figure('scatter.attn_out').locator('.js-plotly-plot')).toBeVisible();
    const points = scatter.locator('.scatterlayer .trace').first().locator('path.point');
    await expect(points).toHaveCount(result.patched.resid_pre.data.length);
    await points.nth(5).hover({ force: true });
    await expect(scatter.locator('.hoverlayer')).toContainText('blocks.');
    await points.nth(5).click({ force: true });
    await expect(app.page.getByTestId('details.target')).toContainText('hook_resid_pre');
    await app.snapshot(testInfo, 'scatter');

    // CSV / JSON exports carry axis labels and both columns.
    const [csv] = await Promise.all([app.page.waitForEvent('download'), openExport(scatter).then(() => scatter.getByTestId('export.csv').click())]);
    expect(csv.suggestedFilename()).toBe('patchwork-resid_pre.csv');
    const csvText = await readFile((await csv.path())!, 'utf8');
    expect(csvText.split('\n')[0]).toBe('\ufefflayer,layer_label,pos,pos_label,attribution,activation_patch');
    const [json] = await Promise.all([app.page.waitForEvent('download'), openExport(scatter).then(() => scatter.getByTestId('export.json').click())]);
    const parsed = JSON.parse(await readFile((await json.path())!, 'utf8'));
    expect(parsed.axes).toEqual(['layer', 'pos']);
    expect(parsed.meta.spec).toEqual(spec);
    // The scatter's image export carries the title block above its statistics (issue 14, item 7).
    const [scatterSvg] = await Promise.all([app.page.waitForEvent('download'), openExport(scatter).then(() => scatter.getByTestId('export.svg').click())]);
    expect(scatterSvg.suggestedFilename()).toBe('patchwork-scatter-resid_pre.svg');
    const scatterText = await readFile((await scatterSvg.path())!, 'utf8');
    for (const part of ['Pearson r', `metric ${spec.metric.name}`, 'clean', 'corrupted', 'estimator']) expect(scatterText, part).toContain(part);

    // Heatmap SVG and PNG downloads.
    await app.results.tab('residual').click();
    const [svg] = await Promise.all([app.page.waitForEvent('download'), openExport(app.results.figure('mlp_out')).then(() => app.results.figure('mlp_out').getByTestId('export.svg').click())]);
    expect(svg.suggestedFilename()).toBe('patchwork-mlp_out.svg');
    const svgText = await readFile((await svg.path())!, 'utf8');
    expect(/^(<\?xml[^>]*>\s*)?<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/.test(svgText), 'a standalone SVG document').toBe(true);
    expect(svgText.includes('hook_mlp_out'), 'cells keep their names').toBe(true);
    const [png] = await Promise.all([app.page.waitForEvent('download'), openExport(app.results.figure('mlp_out')).then(() => app.results.figure('mlp_out').getByTestId('export.png').click())]);
    expect((await readFile((await png.path())!)).subarray(1, 4).toString()).toBe('PNG');
  });
});

