// Issue 14, reproductions 2, 3, 6 (answer == wrong, identical prompts) and 7: nothing hidden behind the details
// panel at 1280, 1024 or 800 px; exact activation-patching heatmaps; shared colour scales; the small text faults.
import { readFile } from 'node:fs/promises';
import type { Locator, Page } from '@playwright/test';
import { PRESETS } from '../src/ui/presets';
import { expect, test } from './fixtures';
import { openExport } from './pages';

const toy = PRESETS.find((p) => p.id === 'toy-induction')!;
const WORDS = ' cat river gold king bread moon chair snow lion boat';
/** 39 words + BOS = 40 tokens, one word changed in the corrupted prompt. */
const LONG = {
  clean: (WORDS.repeat(4).split(' ').slice(0, 40).join(' ')),
  corrupted: (WORDS.repeat(4).split(' ').slice(0, 40).join(' ')).replace(' moon', ' tea'),
};

/** The element is inside the viewport and is what a click at its centre hits (not covered by a panel). */
async function reachable(page: Page, el: Locator, what: string): Promise<void> {
  await el.scrollIntoViewIfNeeded();
  const box = (await el.boundingBox())!;
  expect(box, `${what} has a box`).not.toBeNull();
  const vp = page.viewportSize()!;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  expect(cx >= 0 && cx <= vp.width && cy >= 0 && cy <= vp.height, `${what} centre (${cx}, ${cy}) is in the ${vp.width}x${vp.height} viewport`).toBe(true);
  const hit = await el.evaluate((node, [x, y]) => {
    const top = document.elementFromPoint(x, y);
    return !!top && (node === top || node.contains(top));
  }, [cx, cy] as const);
  expect(hit, `${what} is not covered by anything`).toBe(true);
}

async function runWith(app: import('./pages').AppPage, pair: { clean: string; corrupted: string }, answer = ' boat', wrong = ' tea') {
  await app.editor.fill({ 'Clean prompt': pair.clean, 'Corrupted prompt': pair.corrupted, Answer: answer, 'Wrong answer': wrong });
  await app.editor.run();
  await app.results.tab('residual').click();
}

test('1280x900: Run is in view at load; a 40-token prompt shows its last position and every export control', async ({ app }) => {
  await app.page.setViewportSize({ width: 1280, height: 900 });
  await app.open();
  await app.ready();
  await reachable(app.page, app.editor.runButton, 'Run');
  // Run is visible without scrolling the page or the editor.
  expect(await app.page.evaluate(() => window.scrollY)).toBe(0);
  await runWith(app, LONG);
  expect((await app.lastResult())!.tokens.length).toBe(40);
  for (const f of ['resid_pre', 'attn_out', 'mlp_out'] as const) {
    await reachable(app.page, app.results.cell(f, 1, 39), `${f} last position`);
    await reachable(app.page, app.results.figure(f).getByTestId('export.menu'), `${f} export menu`);
  }
  // The last cell is clickable and its exact patch shows in the (drawer) details panel.
  await app.results.cell('resid_pre', 1, 39).click();
  await expect(app.results.details).toHaveAttribute('data-layout', 'drawer');
  await expect(app.page.getByTestId('details.toggle')).toHaveAttribute('aria-expanded', 'true');
  await app.results.activationValue();
  await reachable(app.page, app.results.cell('resid_pre', 1, 39), 'resid_pre last position with the drawer open');
  await reachable(app.page, app.results.figure('mlp_out').getByTestId('export.menu'), 'mlp_out export menu with the drawer open');
  // Every export format is in the menu, and the menu itself is not clipped.
  await openExport(app.results.figure('resid_pre'));
  for (const id of ['svg', 'png', 'csv', 'json']) await reachable(app.page, app.results.figure('resid_pre').getByTestId(`export.${id}`), `export ${id}`);
});

test('1024 px: the final column of the default preset can be scrolled into view in every view; the drawer works by keyboard', async ({ app }) => {
  await app.page.setViewportSize({ width: 1024, height: 768 });
  await app.open();
  await app.ready();
  await app.editor.run();
  await app.results.tab('residual').click();
  const n = (await app.lastResult())!.tokens.length;
  for (const f of ['resid_pre', 'attn_out', 'mlp_out'] as const) await reachable(app.page, app.results.cell(f, 1, n - 1), `${f} final column`);
  await app.results.tab('heads').click();
  await app.page.getByTestId('view.perPosition').check();
  await reachable(app.page, app.page.getByTestId('figure.head_out.L1').locator(`[data-testid="heatmap.cell"][data-col="${n - 1}"]`).first(), 'head_out L1 final column');
  // Drawer: closed until a cell is selected; the toggle opens and closes it from the keyboard; Escape closes it.
  const toggle = app.page.getByTestId('details.toggle');
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');
  await toggle.focus();
  await app.page.keyboard.press('Enter');
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  await expect(app.results.details).toContainText('Click a cell');
  await app.page.keyboard.press('Escape');
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');
  await expect(toggle).toBeFocused();
});

test('800 px: stacked layout, every figure fits its width and its last cell patches', async ({ app }) => {
  await app.page.setViewportSize({ width: 800, height: 900 });
  await app.open();
  await app.ready();
  await app.editor.run();
  await app.results.tab('residual').click();
  await expect(app.results.details).toHaveAttribute('data-layout', 'stacked');
  const n = (await app.lastResult())!.tokens.length;
  expect(await app.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(800);
  for (const f of ['resid_pre', 'attn_out', 'mlp_out'] as const) {
    const box = (await app.results.figure(f).boundingBox())!;
    expect(box.x >= 0 && box.x + box.width <= 800, `${f} within 800 px`).toBe(true);
    expect(box.width, `${f} is shown at a usable width`).toBeGreaterThan(300);
    await reachable(app.page, app.results.cell(f, 1, n - 1), `${f} last cell`);
  }
  await app.results.cell('mlp_out', 1, n - 1).click();
  await app.results.activationValue();
  await reachable(app.page, app.results.activation, 'the exact value under the views');
});

// One page and one Run for three flows (each used to open the app and run it): the colour scales and the exports
// first, as they patch nothing; then the exact heatmap, which starts from no computed patch and sweeps. Every
// assertion of the three separate tests is kept.
test('one Run of the default preset: one colour scale per view, the export menu and SVG title block, then the exact heatmap', async ({ app }) => {
  test.setTimeout(300_000);
  // Opened and the default preset run once for the three steps.
  await app.open();
  await app.ready();
  await app.editor.run();

  await test.step('one colour scale across the panels of a view: per family by default, all panels or per panel on request', async () => {
    await app.results.tab('residual').click();
    await app.results.tab('heads').click();
    await app.page.getByTestId('view.perPosition').check();
    const res = (await app.lastResult())!;
    const maxAbs = (xs: number[]) => xs.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0);
    const families = ['head_out_all_pos', 'q', 'k', 'v', 'pattern'] as const;
    const own = Object.fromEntries(families.map((f) => [f, maxAbs(res.attribution[f]!.data as number[])]));
    const domain = async (testid: string) => Number(await app.page.getByTestId(testid).getByTestId('heatmap').getAttribute('data-scale-max'));
    const headOut = res.attribution.head_out!;
    const perLayer = headOut.shape[1] * headOut.shape[2];
    const layers = Array.from({ length: headOut.shape[0] }, (_, l) => maxAbs((headOut.data as number[]).slice(l * perLayer, (l + 1) * perLayer)));
    // Default: each family its own domain; the per-position panels (one family) share one.
    for (const f of families) expect(await domain(`figure.${f}`)).toBeCloseTo(own[f], 9);
    for (let l = 0; l < layers.length; l++) expect(await domain(`figure.head_out.L${l}`)).toBeCloseTo(Math.max(...layers), 9);
    expect(new Set(Object.values(own)).size, 'the families differ in size, so the test can tell').toBeGreaterThan(1);
    // One scale for every panel of the view.
    await app.page.getByTestId('view.scale').selectOption('shared');
    const all = Math.max(...Object.values(own), ...layers);
    for (const f of families) expect(await domain(`figure.${f}`)).toBeCloseTo(all, 9);
    for (let l = 0; l < layers.length; l++) expect(await domain(`figure.head_out.L${l}`)).toBeCloseTo(all, 9);
    // Per panel: each layer of head_out its own.
    await app.page.getByTestId('view.scale').selectOption('per-panel');
    for (let l = 0; l < layers.length; l++) expect(await domain(`figure.head_out.L${l}`)).toBeCloseTo(layers[l], 9);
  });

  await test.step('exports: one menu per figure (keyboard too); SVG carries a title block with model, prompts, metric and estimator', async () => {
    await app.results.tab('residual').click();
    const fig = app.results.figure('attn_out');
    await expect(fig.getByTestId('export.menu')).toHaveCount(1);
    await expect(fig.getByTestId('export.svg')).toHaveCount(0);
    await fig.getByTestId('export.menu').focus();
    await app.page.keyboard.press('Enter');
    await expect(fig.getByRole('menuitem')).toHaveCount(4);
    await expect(fig.getByTestId('export.svg')).toBeFocused();
    await app.page.keyboard.press('ArrowDown');
    await expect(fig.getByTestId('export.png')).toBeFocused();
    await app.page.keyboard.press('Escape');
    await expect(fig.getByRole('menuitem')).toHaveCount(0);
    await expect(fig.getByTestId('export.menu')).toBeFocused();
    await openExport(fig);
    const [svg] = await Promise.all([app.page.waitForEvent('download'), fig.getByTestId('export.svg').click()]);
    const text = await readFile((await svg.path())!, 'utf8');
    const pair = toy.spec.pairs[0];
    for (const s of ['Attention output (attn_out)', 'model toy-induction', 'metric logit_diff', 'estimator AtP', JSON.stringify(pair.clean).slice(0, 30)]) {
      expect(text, s).toContain(s);
    }
    expect(text).toContain('hook_attn_out');
  });

  await test.step('exact heatmap after Patch every cell equals the details panel; estimate − exact; hatched until computed', async () => {
    await app.results.tab('residual').click();
    // Nothing computed yet: no "computed" key in the legends.
    await expect(app.results.figure('resid_pre')).not.toContainText('activation patch computed');
    await app.page.getByTestId('view.values').selectOption('exact');
    await expect(app.page.getByTestId('view.values.note')).toContainText('No activation patch computed yet');
    const values = async (f: string) => app.results.heatmapCells(f as never).evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
    expect((await values('resid_pre')).every(Number.isNaN)).toBe(true);
    await expect(app.results.figure('resid_pre')).toContainText('not computed');
    expect(await app.results.figure('resid_pre').locator('rect[fill^="url(#"][data-testid="heatmap.cell"]').count()).toBeGreaterThan(0);

    await app.results.sweep();
    await expect(app.page.getByTestId('view.values.note')).toContainText('Exact values exist for');
    const res = (await app.lastResult())!;
    for (const f of ['resid_pre', 'attn_out', 'mlp_out'] as const) {
      const shown = await values(f);
      const exact = res.patched[f]!.data as number[];
      expect(shown.length).toBe(exact.length);
      shown.forEach((v, i) => expect(Math.abs(v - exact[i]), `${f}[${i}]`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(exact[i]))));
      await expect(app.results.figure(f)).toContainText('activation patch computed');
      await expect(app.results.figure(f)).not.toContainText('not computed');
    }
    // Cells clicked one by one: the exact heatmap's value is the details panel's exact value.
    const n = res.tokens.length;
    for (const [f, r, c] of [['resid_pre', 1, n - 1], ['attn_out', 1, n - 1], ['mlp_out', 0, 3]] as const) {
      const cell = app.results.cell(f, r, c);
      await cell.click();
      await expect(app.results.activation).toHaveAttribute('data-value', /\d/);
      const detail = Number(await app.results.activation.getAttribute('data-value'));
      expect(Math.abs(Number(await cell.getAttribute('data-value')) - detail)).toBeLessThanOrEqual(1e-12 + 1e-9 * Math.abs(detail));
    }
    // estimate − exact is the details panel's "Estimate − exact".
    await app.page.getByTestId('view.values').selectOption('difference');
    const cell = app.results.cell('mlp_out', 0, 3);
    const attr = Number(await app.results.attribution.getAttribute('data-value'));
    const act = Number(await app.results.activation.getAttribute('data-value'));
    expect(Math.abs(Number(await cell.getAttribute('data-value')) - (attr - act))).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(attr)));
  });
});

test('small faults of item 7: head list values whole, scatter title not clipped, wording', async ({ app }) => {
  test.setTimeout(240_000); // a sweep and plotly's first load
  await app.page.setViewportSize({ width: 1280, height: 900 });
  await app.open();
  await app.ready();
  // A preset is in the editor: the empty results area does not ask to pick one.
  await expect(app.page.getByTestId('results.empty')).not.toContainText('Pick a preset');
  await expect(app.page.getByTestId('results.empty')).toContainText('press Run');
  await app.editor.run();
  await app.results.tab('residual').click();
  await app.results.cell('resid_pre', 1, 3).click();
  await app.results.activationValue();
  await expect(app.results.details).toContainText('relative to the unpatched base run');
  await expect(app.results.details).not.toContainText('relative to the patched run');
  // Attention head list: every value whole (the number the ranking holds, not "-4.").
  await app.results.tab('attention').click();
  const vals = app.page.getByTestId('attention.head.value');
  await expect(vals.first()).toBeVisible();
  for (const v of await vals.all()) {
    expect(await v.evaluate((e) => e.scrollWidth <= e.clientWidth + 0.5 && e.getBoundingClientRect().right <= (e.closest('button')!.getBoundingClientRect().right + 0.5))).toBe(true);
    expect(await v.textContent()).toMatch(/^[−-]?\d+(\.\d+)?(e[−+-]?\d+)?$/);
  }
  // Scatter: the statistics title lies inside the plot's SVG.
  await app.results.tab('residual').click();
  await app.results.sweep();
  await app.results.tab('scatter').click();
  const title = app.page.getByTestId('figure.scatter.resid_pre').locator('.gtitle');
  await expect(title).toContainText('Pearson', { timeout: 90_000 }); // plotly loads on first use
  const inside = await title.evaluate((t) => {
    const svg = t.closest('svg')!.getBoundingClientRect();
    const b = t.getBoundingClientRect();
    return b.left >= svg.left - 0.5 && b.right <= svg.right + 0.5 && b.top >= svg.top - 0.5;
  });
  expect(inside, 'scatter title inside the plot').toBe(true);
});

test('answer == wrong answer and identical prompts are said before Run', async ({ app }) => {
  await app.open();
  await app.ready();
  await app.editor.fill({ 'Wrong answer': toy.spec.pairs[0].answer });
  await expect(app.editor.issue('wrong')).toContainText('same token');
  await app.editor.fill({ 'Wrong answer': toy.spec.pairs[0].wrong, 'Corrupted prompt': toy.spec.pairs[0].clean });
  await expect(app.page.getByTestId('experiment.warnings')).toContainText('clean and corrupted prompts are identical');
  const runs = await app.page.evaluate(() => window.patchwork!.lastResult()?.runId ?? 0);
  expect(runs, 'nothing ran').toBe(0);
});
