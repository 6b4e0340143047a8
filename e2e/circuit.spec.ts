// Issue 11 in the app: the Circuit tab on the toy circuit presets. The named edges are in the graph by accessible
// name; clicking one shows the exact path patch, equal to onnxruntime-node's; the faithfulness curve's end points are
// the corrupted and clean metrics; a node lists its edges.
import { readFile } from 'node:fs/promises';
import { loadModelFromDir } from '../src/engine/model/weights-node';
import { PatchingEngine, cellPatch, parseEdges, type ExperimentSpec } from '../src/engine/patching';
import { createNodeRuntime } from '../src/engine/runtime/node';
import { presetById } from '../src/ui/presets';
import { compareArrays, expect, test } from './fixtures';
import { AppPage, reopenLink } from './pages';

const edgeButton = (app: AppPage, name: string) =>
  app.page.getByRole('button', { name: new RegExp(`^edge ${name.replace(/[.*+?^${}()|[\]\\<>]/g, '\\$&')}: `) });

async function specOf(app: AppPage): Promise<ExperimentSpec> {
  return (await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec)) as ExperimentSpec;
}

/** Clicks the edge, waits for its exact value and checks it against onnxruntime-node's path patch. */
async function checkEdge(
  app: AppPage, reference: PatchingEngine, name: string, via: 'click' | 'Enter' = 'click', edge = edgeButton(app, name),
): Promise<number> {
  await expect(edge).toHaveCount(1);
  if (via === 'click') {
    // Edges overlap: click a point ON this curve (its middle), as a user would, rather than its bounding box's centre.
    const at = await edge.evaluate((el) => {
      const path = el as SVGPathElement;
      const p = path.getPointAtLength(path.getTotalLength() / 2).matrixTransform(path.getScreenCTM()!);
      return { x: p.x, y: p.y };
    });
    await app.page.mouse.click(at.x, at.y);
  } else {
    await edge.focus();
    await app.page.keyboard.press('Enter');
  }
  await expect(app.page.getByTestId('circuit.edge.name')).toHaveText(name);
  const exactCell = app.page.getByTestId('circuit.edge.exact');
  await expect(exactCell).toHaveAttribute('data-value', /\d/, { timeout: 60_000 });
  const exact = Number(await exactCell.getAttribute('data-value'));
  const estimate = Number(await app.page.getByTestId('circuit.edge.estimate').getAttribute('data-value'));
  const difference = Number(await app.page.getByTestId('circuit.edge.difference').getAttribute('data-value'));
  const exp = reference.resolve(await specOf(app));
  const expected = await reference.pathPatch(exp, parseEdges(reference.cfg, [name]));
  const m = await reference.metrics(exp);
  const c = compareArrays([exact], expected, { scale: Math.max(Math.abs(m.clean), Math.abs(m.corrupted)) });
  expect(c.ok, `${name}: app ${exact}, onnxruntime-node ${expected[0]} (${JSON.stringify(c)})`).toBe(true);
  expect(difference).toBeCloseTo(estimate - exact, 9);
  return exact;
}

test('toy induction, key-side corruption: the edges attribution misses are in the graph and patch exactly @webgpu', async ({ app, reference }, testInfo) => {
  test.setTimeout(240_000);
  await app.open();
  await app.ready();
  await app.editor.preset('toy-induction-keys');
  const preset = presetById('toy-induction-keys')!;
  await expect(app.page.getByTestId('preset.lookfor')).toContainText(preset.edges![0]);
  await app.editor.run();
  await expect(app.page.getByTestId('tab.circuit')).toHaveAttribute('aria-selected', 'true');
  await expect(app.page.getByTestId('circuit.graph')).toBeVisible({ timeout: 60_000 });
  // The key-side edges rank low by attribution: show every edge (End on the slider) to find them.
  const slider = app.page.getByRole('slider', { name: /Edges shown/ });
  await slider.focus();
  await app.page.keyboard.press('End');
  await expect(app.page.getByTestId('circuit.count')).toHaveText(/^(\d+) of \1 edges$/);
  await app.snapshot(testInfo, 'circuit-induction-keys-graph');
  for (const name of preset.edges!) await expect(edgeButton(app, name)).toHaveCount(1);
  const first = await checkEdge(app, reference, preset.edges![0]);
  expect(first, 'exact path patching finds the edge large').toBeGreaterThan(1);
  await checkEdge(app, reference, preset.edges![1], 'Enter');
  await app.snapshot(testInfo, 'circuit-induction-keys-edge');

  // A node lists its incoming and outgoing edges; the others fade.
  await app.page.getByRole('button', { name: 'node a0.h2', exact: true }).click();
  await expect(app.page.getByTestId('circuit.node.incoming')).toContainText('input->a0.h2<v>');
  await expect(app.page.getByTestId('circuit.node.outgoing')).toContainText('a0.h2->m0');
  await app.page.getByTestId('circuit.node.outgoing').getByRole('button', { name: /^Patch edge a0\.h2->m0: / }).click();
  await expect(app.page.getByTestId('circuit.edge.name')).toHaveText('a0.h2->m0');

  // Faithfulness curve: N = 0 is the corrupted run, every edge the clean run.
  await app.page.getByRole('button', { name: 'Run faithfulness curve' }).click();
  await expect(app.page.getByTestId('circuit.curve.ends')).toBeVisible({ timeout: 120_000 });
  const points = app.page.getByTestId('circuit.curve.edges').locator('circle');
  const metrics = (await points.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-metric')))));
  const result = (await app.lastResult())!;
  const scale = Math.max(Math.abs(result.metric.clean), Math.abs(result.metric.corrupted));
  const ends = compareArrays([metrics[0], metrics[metrics.length - 1]], [result.metric.corrupted, result.metric.clean], { scale });
  expect(ends.ok, `curve ends ${metrics[0]}, ${metrics[metrics.length - 1]} vs ${result.metric.corrupted}, ${result.metric.clean}`).toBe(true);
  await expect(app.page.getByTestId('circuit.curve.nodes').locator('circle').first()).toBeVisible();
  await app.snapshot(testInfo, 'circuit-induction-keys-curve');
});

test('toy IOI circuit preset: its named edges are in the graph and patch as onnxruntime-node does', async ({ app }, testInfo) => {
  test.setTimeout(240_000);
  const { config, weights } = await loadModelFromDir('public/models/toy-ioi');
  const reference = await PatchingEngine.create(createNodeRuntime({ threads: 1 }), config, weights);
  try {
    await app.open();
    await app.ready();
    await app.model.picker.selectOption('toy-ioi');
    await app.model.waitReady();
    await app.editor.preset('toy-ioi-circuit');
    const preset = presetById('toy-ioi-circuit')!;
    await app.editor.run();
    await expect(app.page.getByTestId('circuit.graph')).toBeVisible({ timeout: 60_000 });
    for (const name of preset.edges!) await expect(edgeButton(app, name)).toHaveCount(1);
    await checkEdge(app, reference, preset.edges![0], 'Enter');
    await app.snapshot(testInfo, 'circuit-toy-ioi');
    // Head-to-head matrices: a cell is focusable and clickable; its exact value is onnxruntime-node's.
    const cell = app.page.getByTestId('figure.circuit.q').getByRole('gridcell', { name: /^edge a1\.h0->a2\.h3<q>: attribution / });
    await checkEdge(app, reference, 'a1.h0->a2.h3<q>', 'Enter', cell);
    await cell.click();
    await expect(cell).toHaveAttribute('aria-label', /exact path patch [-\d.]+/);
    await app.page.getByTestId('circuit.matrices').scrollIntoViewIfNeeded();
    await app.snapshot(testInfo, 'circuit-toy-ioi-matrices');

    // Every control of the tab has an accessible name; edges, nodes and matrix cells are in the tab order.
    const view = app.page.getByTestId('view.circuit');
    const controls = view.locator('button, input, select, progress, [role="button"], [role="slider"]');
    for (const el of await controls.all()) await expect(el).toHaveAccessibleName(/\S/);
    for (const m of ['q', 'k', 'v', 'out']) {
      const cells = app.page.getByTestId(`figure.circuit.${m}`).getByRole('gridcell');
      await expect(cells.first()).toHaveAccessibleName(/^edge /);
    }
    await expect(edgeButton(app, preset.edges![0])).toHaveAttribute('tabindex', '0');
    await expect(view.getByRole('button', { name: /^node a\d/ }).first()).toHaveAttribute('tabindex', '0');
    // Tab from an edge lands on the next edge: edges are reached by the keyboard, not only by .focus().
    const firstEdge = view.getByTestId('circuit.edge').first();
    await firstEdge.focus();
    await app.page.keyboard.press('Tab');
    expect(await app.page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('circuit.edge');

    // Exports: the graph as SVG and PNG with its title line (model, prompts, metric), edges as CSV and JSON.
    const figure = app.page.getByTestId('figure.circuit');
    const download = async (id: string) => {
      await figure.getByTestId('export.menu').click(); // one Export menu per figure (issue 14)
      const [d] = await Promise.all([app.page.waitForEvent('download'), figure.getByTestId(`export.${id}`).click()]);
      return readFile((await d.path())!);
    };
    const svgText = (await download('svg')).toString('utf8');
    expect(svgText).toMatch(/<title>[^<]*toy[^<]*logit_diff[^<]*<\/title>/i);
    expect(svgText).toMatch(/<text[^>]*>[^<]*toy[^<]*<\/text>/i); // the title line is drawn, not only in <title>
    expect(svgText).toContain(preset.spec.pairs[0].clean.trim().slice(0, 20));
    const png = await download('png');
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    const csv = (await download('csv')).toString('utf8').replace(/^\ufeff/, '').split('\n');
    expect(csv[0]).toBe('edge,sender,receiver,channel,attribution,exact_path_patch');
    expect(csv.length - 1).toBe(Number((await app.page.getByTestId('circuit.count').textContent())!.split(' ')[0]));
    const json = JSON.parse((await download('json')).toString('utf8')) as { title: string; edges: { edge: string; exact: number | null }[] };
    expect(json.title).toContain('logit_diff');
    expect(json.edges.find((e) => e.edge === preset.edges![0])?.exact).toEqual(expect.any(Number));
  } finally {
    await reference.dispose();
  }
});

// One page for two flows on the key-side preset (each used to open the app and run it): the link to the selected
// edge, reopened in a fresh page; then, on the same edge, the normalised toggle. Every assertion of both is kept.
test('Circuit tab on the key-side preset: a copied link reopens the same N, edge and exact value in a fresh page; the tab follows the normalised toggle', async ({ app, backend, browser }, testInfo) => {
  test.setTimeout(360_000);
  await test.step('a copied link reopens the Circuit tab with the same N, edge and exact value in a fresh page', async () => {
    await app.open();
    await app.ready();
    await app.editor.preset('toy-induction-keys');
    await app.editor.run();
    await expect(app.page.getByTestId('circuit.graph')).toBeVisible({ timeout: 60_000 });
    const slider = app.page.getByRole('slider', { name: /Edges shown/ });
    await slider.focus();
    await app.page.keyboard.press('End');
    const count = await app.page.getByTestId('circuit.count').textContent();
    await app.page.getByRole('button', { name: 'node a0.h2', exact: true }).click();
    const edge = edgeButton(app, 'input->a0.h2<v>');
    await edge.focus();
    await app.page.keyboard.press('Enter');
    const exactCell = app.page.getByTestId('circuit.edge.exact');
    await expect(exactCell).toHaveAttribute('data-value', /\d/, { timeout: 60_000 });
    const exact = await exactCell.getAttribute('data-value');
    await app.page.getByRole('button', { name: 'Copy link' }).click();
    const url = app.page.url();
    expect(url).toMatch(/#v1\./);

    await reopenLink(browser, backend, url, async (fresh) => {
      await expect(fresh.page.getByTestId('tab.circuit')).toHaveAttribute('aria-selected', 'true', { timeout: 60_000 });
      await expect(fresh.page.getByTestId('circuit.count')).toHaveText(count!, { timeout: 60_000 });
      await expect(fresh.page.getByTestId('circuit.edge.name')).toHaveText('input->a0.h2<v>');
      await expect(fresh.page.getByTestId('circuit.edge.exact')).toHaveAttribute('data-value', exact!, { timeout: 60_000 });
      await expect(fresh.page.getByRole('button', { name: 'node a0.h2', exact: true })).toHaveAttribute('aria-pressed', 'true');
      await expect(fresh.page.getByTestId('circuit.node.incoming')).toContainText('input->a0.h2<v>');
      await fresh.snapshot(testInfo, 'circuit-permalink-reopened');
    });
  });

  await test.step('the Circuit tab follows the normalised toggle: edge values and the curve in the same unit as other views', async () => {
    // The edge input->a0.h2<v> is the one selected above (End on the slider, then Enter on the edge); its exact value
    // is on screen.
    const edge = edgeButton(app, 'input->a0.h2<v>');
    await expect(app.page.getByTestId('circuit.edge.name')).toHaveText('input->a0.h2<v>');
    const exactCell = app.page.getByTestId('circuit.edge.exact');
    await expect(exactCell).toHaveAttribute('data-value', /\d/, { timeout: 60_000 });
    const raw = { exact: Number(await exactCell.getAttribute('data-value')), estimate: Number(await app.page.getByTestId('circuit.edge.estimate').getAttribute('data-value')) };
    await app.page.getByTestId('view.normalised').check();
    const { metric } = (await app.lastResult())!;
    const k = 1 / (metric.clean - metric.corrupted);
    await expect(app.page.getByTestId('circuit.edge.details')).toHaveAttribute('data-unit', 'normalised');
    expect(Number(await exactCell.getAttribute('data-value'))).toBeCloseTo(raw.exact * k, 9);
    expect(Number(await app.page.getByTestId('circuit.edge.estimate').getAttribute('data-value'))).toBeCloseTo(raw.estimate * k, 9);
    await expect(edge).toHaveAccessibleName(/normalised/);
    await app.page.getByRole('button', { name: 'Run faithfulness curve' }).click();
    await expect(app.page.getByTestId('circuit.curve.plot')).toHaveAttribute('data-y', 'faithfulness', { timeout: 120_000 });
    await app.snapshot(testInfo, 'circuit-normalised');
    await app.page.getByTestId('view.normalised').uncheck();
    await expect(app.page.getByTestId('circuit.curve.plot')).toHaveAttribute('data-y', 'metric');
    expect(Number(await exactCell.getAttribute('data-value'))).toBeCloseTo(raw.exact, 9);
  });
});

test('a patch set of two heatmap cells: joint, sum of singles and interaction equal onnxruntime-node', async ({ app, reference }, testInfo) => {
  test.setTimeout(240_000);
  await app.open();
  await app.ready();
  await app.editor.preset('toy-induction');
  await app.editor.run();
  await app.results.tab('heads').click();
  await app.results.cell('head_out_all_pos', 1, 0).click({ modifiers: ['Shift'] });
  await app.results.cell('head_out_all_pos', 0, 2).focus();
  await app.page.keyboard.press('Shift+Enter');
  await expect(app.page.getByTestId('patchset.chip')).toHaveText(['head_out_all_pos[1][0]×', 'head_out_all_pos[0][2]×']);
  await app.page.getByRole('button', { name: 'Patch together' }).click();
  const value = async (id: string) => {
    const el = app.page.getByTestId(`patchset.${id}`);
    await expect(el).toHaveAttribute('data-value', /\d/, { timeout: 60_000 });
    return Number(await el.getAttribute('data-value'));
  };
  const [joint, sum, interaction] = [await value('joint'), await value('sum'), await value('interaction')];
  const exp = reference.resolve(await specOf(app));
  const cells = [{ family: 'head_out_all_pos' as const, index: [1, 0] }, { family: 'head_out_all_pos' as const, index: [0, 2] }];
  const refJoint = await reference.jointPatch(exp, cells);
  const singles = [await reference.patch(exp, 'head_out_all_pos', [1, 0]), await reference.patch(exp, 'head_out_all_pos', [0, 2])];
  const refSum = singles[0] + singles[1];
  const m = await reference.metrics(exp);
  const c = compareArrays([joint, sum, interaction], [refJoint, refSum, refJoint - refSum], { scale: Math.max(Math.abs(m.clean), Math.abs(m.corrupted)) });
  expect(c.ok, `app ${[joint, sum, interaction]}, onnxruntime-node ${[refJoint, refSum, refJoint - refSum]} (${JSON.stringify(c)})`).toBe(true);
  await app.snapshot(testInfo, 'patch-set');
});

test('attribute on top of a patch set: banner, every number on the patched run, the link carries it, Clear goes back', async ({ app, backend, browser, reference }, testInfo) => {
  test.setTimeout(300_000);
  await app.open();
  await app.ready();
  await app.editor.preset('toy-induction');
  await app.editor.run();
  const plain = (await app.lastResult())!;
  await app.results.tab('heads').click();
  // The previous-token head 0.2 and the current-token head 0.1 go into the set; the induction head 1.0 is then
  // patched on top of them.
  await app.results.cell('head_out_all_pos', 0, 2).click({ modifiers: ['Shift'] });
  await app.results.cell('head_out_all_pos', 0, 1).focus();
  await app.page.keyboard.press('Shift+Enter');
  await app.page.getByRole('button', { name: 'Attribute on top' }).click();
  const banner = app.page.getByTestId('ontop.banner');
  await expect(banner).toBeVisible({ timeout: 60_000 });
  await expect(banner).toHaveAttribute('data-cells', 'head_out_all_pos[0][2],head_out_all_pos[0][1]');
  await expect(banner).toContainText('already patched');
  const onTop = (await app.lastResult())!;
  expect(onTop.runId).toBeGreaterThan(plain.runId);

  const cells = [{ family: 'head_out_all_pos' as const, index: [0, 2] }, { family: 'head_out_all_pos' as const, index: [0, 1] }];
  const exp = reference.resolve(await specOf(app));
  const m = await reference.metrics(exp);
  const scale = Math.max(Math.abs(m.clean), Math.abs(m.corrupted));
  const setJoint = await reference.jointPatch(exp, cells);
  // The run's base metric is the patched run's; its attribution is onnxruntime-node's on the patched run.
  const ref = await reference.attribute(exp, { families: ['head_out_all_pos'], patched: cellPatch(cells) });
  const metrics = compareArrays([onTop.metric.clean, onTop.metric.corrupted], [m.clean, m.corrupted + setJoint], { scale });
  expect(metrics.ok, `metrics ${JSON.stringify(onTop.metric)} vs clean ${m.clean}, patched ${m.corrupted + setJoint}`).toBe(true);
  const attr = compareArrays(onTop.attribution.head_out_all_pos.data as number[], ref.values.head_out_all_pos!.data, { scale });
  expect(attr.ok, `attribution on top ${JSON.stringify(attr)}`).toBe(true);

  // An exact patch by click is on top of the set: joint(set + cell) - joint(set).
  await app.results.cell('head_out_all_pos', 1, 0).click();
  await expect(app.results.activation).toHaveAttribute('data-value', /\d/, { timeout: 60_000 });
  const exact = Number(await app.results.activation.getAttribute('data-value'));
  const want = (await reference.jointPatch(exp, [...cells, { family: 'head_out_all_pos', index: [1, 0] }])) - setJoint;
  const c = compareArrays([exact], [want], { scale });
  expect(c.ok, `on top: app ${exact}, onnxruntime-node ${want}`).toBe(true);
  expect(Math.abs(exact - (await reference.patch(exp, 'head_out_all_pos', [1, 0]))), 'differs from the plain patch').toBeGreaterThan(1e-3);
  await app.snapshot(testInfo, 'attribute-on-top');

  // The Circuit tab is on top of the set too: an edge's exact path patch and the faithfulness curve's ends.
  await app.page.getByTestId('tab.circuit').click();
  await expect(app.page.getByTestId('circuit.graph')).toBeVisible({ timeout: 60_000 });
  const edgeName = 'a0.h0->a1.h0<v>';
  const slider = app.page.getByRole('slider', { name: /Edges shown/ });
  await slider.focus();
  await app.page.keyboard.press('End');
  await edgeButton(app, edgeName).focus();
  await app.page.keyboard.press('Enter');
  const exactCell = app.page.getByTestId('circuit.edge.exact');
  await expect(exactCell).toHaveAttribute('data-value', /\d/, { timeout: 60_000 });
  const edgeExact = Number(await exactCell.getAttribute('data-value'));
  const [refEdge] = await reference.pathPatch(exp, parseEdges(reference.cfg, [edgeName]), {}, cells);
  const [plainEdge] = await reference.pathPatch(exp, parseEdges(reference.cfg, [edgeName]));
  expect(compareArrays([edgeExact], [refEdge], { scale }).ok, `edge on top: app ${edgeExact}, onnxruntime-node ${refEdge}`).toBe(true);
  expect(Math.abs(refEdge - plainEdge), 'the edge differs on top of the set').toBeGreaterThan(1e-3);
  await app.page.getByRole('button', { name: 'Run faithfulness curve' }).click();
  await expect(app.page.getByTestId('circuit.curve.ends')).toBeVisible({ timeout: 120_000 });
  const curve = await app.page.getByTestId('circuit.curve.edges').locator('circle').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-metric'))));
  const ends = compareArrays([curve[0], curve[curve.length - 1]], [onTop.metric.corrupted, onTop.metric.clean], { scale });
  expect(ends.ok, `curve ends ${curve[0]}, ${curve[curve.length - 1]} vs ${JSON.stringify(onTop.metric)}`).toBe(true);
  await app.snapshot(testInfo, 'attribute-on-top-circuit');
  await app.results.tab('heads').click();

  // The link carries the set and "on top": a fresh page shows the same banner and numbers.
  await app.page.getByRole('button', { name: 'Copy link' }).click();
  const url = app.page.url();
  await reopenLink(browser, backend, url, async (fresh) => {
    await expect(fresh.page.getByTestId('ontop.banner')).toHaveAttribute('data-cells', 'head_out_all_pos[0][2],head_out_all_pos[0][1]', { timeout: 60_000 });
    await expect(fresh.page.getByTestId('patchset.chip')).toHaveText(['head_out_all_pos[0][2]×', 'head_out_all_pos[0][1]×']);
    const reopened = (await fresh.lastResult())!;
    expect(reopened.metric).toEqual(onTop.metric);
    expect(await fresh.patchValue('head_out_all_pos', [1, 0])).toBeCloseTo(exact, 6);
    await fresh.snapshot(testInfo, 'attribute-on-top-reopened');
  });

  // Clear: back to the plain run.
  await app.page.getByRole('button', { name: 'Clear (plain run)' }).click();
  await expect(banner).toHaveCount(0, { timeout: 60_000 });
  const back = (await app.lastResult())!;
  expect(back.metric.corrupted).toBeCloseTo(plain.metric.corrupted, 6);
});

