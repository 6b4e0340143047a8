// Datasets in the app (issue 13): import a JSONL file of 3 toy pairs, run them, and check every per-pair number the
// page shows (pairs table, one pair's heatmap values, its exact patch, the mean's sem in the details panel) against
// onnxruntime-node in this process; then a malformed file names its line and field and leaves the inputs intact.
import type { ExperimentSpec, Family } from '../src/engine/patching/types';
import { inductionPairs, toJsonl } from '../src/engine/patching/corrupt';
import { repeatedPair } from '../src/ui/presets';
import { compareArrays, expect, test } from './fixtures';

const WORDS = ['cat', 'river', 'gold', 'king', 'bread', 'moon', 'chair', 'snow', 'lion', 'boat'];
const PAIRS = [
  repeatedPair(WORDS, 4, 'tea'),
  repeatedPair([...WORDS].reverse(), 4, 'tea'),
  repeatedPair([...WORDS.slice(3), ...WORDS.slice(0, 3)], 4, 'tea'),
];
const FAMILY: Family = 'head_out_all_pos';

test('import a dataset of 3 toy pairs: per-pair values, pair selector, sem and exact patches equal onnxruntime-node; a bad file changes nothing @webgpu', async ({ app, reference }, testInfo) => {
  // Three pairs, every pair checked against onnxruntime-node, on SwiftShader too: longer than the default 120 s.
  test.setTimeout(300_000);
  await app.open();
  await app.ready();
  await app.editor.preset('toy-induction');
  const typedClean = await app.editor.field('Clean prompt').inputValue();

  await app.page.getByTestId('dataset.file').setInputFiles({
    name: 'toy.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(PAIRS.map((p) => JSON.stringify(p)).join('\n') + '\n'),
  });
  await expect(app.page.getByTestId('dataset.summary')).toHaveAttribute('data-pairs', '3');
  await app.editor.run();
  const spec = (await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec)) as ExperimentSpec;

  // Each pair alone in onnxruntime-node: its metrics and attribution.
  const refs: ({ exp: ReturnType<typeof reference.resolve> } & Awaited<ReturnType<typeof reference.attribute>>)[] = [];
  for (const pair of PAIRS) {
    const exp = reference.resolve({ ...spec, pairs: [pair] });
    refs.push({ exp, ...(await reference.attribute(exp, { families: [FAMILY], mode: 'patch' })) });
  }
  const scale = Math.max(...refs.map((r) => Math.max(Math.abs(r.metric.clean), Math.abs(r.metric.corrupted))));

  // The pairs table: every pair's clean and corrupted metric.
  const table = app.page.getByTestId('pairs.table');
  await expect(table.getByTestId('pairs.row')).toHaveCount(3);
  const read = (id: string) => table.getByTestId(id).evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
  expect(compareArrays(await read('pairs.clean'), refs.map((r) => r.metric.clean), { scale }).ok).toBe(true);
  expect(compareArrays(await read('pairs.corrupted'), refs.map((r) => r.metric.corrupted), { scale }).ok).toBe(true);
  // Sorting by the clean metric (largest first, then a second click smallest first) orders the rows by the references.
  const order = () => table.getByTestId('pairs.row').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-pair'))));
  const byClean = [0, 1, 2].sort((a, b) => refs[b].metric.clean - refs[a].metric.clean);
  await table.getByTestId('pairs.sort.clean').click();
  expect(await order()).toEqual(byClean);
  await table.getByTestId('pairs.sort.clean').click();
  expect(await order()).toEqual([...byClean].reverse());

  // All pairs (mean): the mean equals the mean of the references; a cell's details and tooltip carry the sem.
  const mean = (await app.lastResult())!.attribution[FAMILY];
  const n = mean.data.length;
  const refMean = Array.from({ length: n }, (_, i) => refs.reduce((a, r) => a + r.values[FAMILY]!.data[i], 0) / 3);
  expect(compareArrays(mean.data, refMean, { scale }).ok).toBe(true);
  let cell = 0;
  for (let i = 0; i < n; i++) if (Math.abs(refMean[i]) > Math.abs(refMean[cell])) cell = i;
  const nHeads = mean.shape[1];
  const [layer, head] = [Math.floor(cell / nHeads), cell % nHeads];
  await app.results.tab('heads').click();
  await app.results.cell(FAMILY, layer, head).hover();
  await expect(app.page.getByTestId('heatmap.tooltip.sem')).toContainText('sem over pairs');
  await app.results.cell(FAMILY, layer, head).click();
  const xs = refs.map((r) => r.values[FAMILY]!.data[cell]);
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - refMean[cell]) ** 2, 0) / 2);
  await expect(app.page.getByTestId('details.sem')).toHaveAttribute('data-value', /\d/);
  const sem = Number(await app.page.getByTestId('details.sem').getAttribute('data-value'));
  expect(compareArrays([sem], [sd / Math.sqrt(3)], { scale }).ok, `sem ${sem} vs ${sd / Math.sqrt(3)}`).toBe(true);
  // The exact patch of all pairs is the mean of each pair's patch.
  const exactAll = await app.results.activationValue();
  const refPatches = await Promise.all(refs.map((r) => reference.patch(r.exp, FAMILY, [layer, head])));
  expect(compareArrays([exactAll], [refPatches.reduce((a, x) => a + x, 0) / 3], { scale }).ok).toBe(true);
  // The pairs table shows the selected cell's value per pair (back in pair order).
  await table.getByTestId('pairs.sort.index').click();
  expect(await order()).toEqual([0, 1, 2]);
  expect(compareArrays(await read('pairs.cell'), [0, 1, 2].map((i) => xs[i]), { scale }).ok).toBe(true);

  // The attention view's tooltips carry the sem too.
  await app.results.tab('attention').click();
  await app.page.getByTestId('figure.attention').getByTestId('heatmap.cell').first().hover();
  await expect(app.page.getByTestId('heatmap.tooltip.sem')).toContainText('sem over pairs');
  await app.results.tab('heads').click();

  // Pair 2 in the selector: views, metric and the exact patch are pair 2's own.
  await app.page.getByTestId('pairs.select').selectOption('1');
  await expect(app.page.getByTestId('details.pair')).toContainText('2 of 3');
  const one = (await app.lastResult())!;
  expect(compareArrays(one.attribution[FAMILY].data, refs[1].values[FAMILY]!.data, { scale }).ok).toBe(true);
  expect(compareArrays([one.metric.clean, one.metric.corrupted], [refs[1].metric.clean, refs[1].metric.corrupted], { scale }).ok).toBe(true);
  await expect(app.page.getByTestId('details.sem')).toHaveCount(0);
  expect(compareArrays([await app.results.activationValue()], [refPatches[1]], { scale }).ok).toBe(true);
  await app.snapshot(testInfo, 'datasets-pair-2');
  // A row of the table selects its pair too.
  await table.locator('[data-testid="pairs.row"][data-pair="2"]').click();
  await expect(app.page.getByTestId('details.pair')).toContainText('3 of 3');

  // A malformed file: its line and field are named; the dataset and the typed prompt stay.
  const bad = [JSON.stringify(PAIRS[0]), JSON.stringify({ clean: PAIRS[1].clean, corrupted: PAIRS[1].corrupted, wrong: ' tea' })].join('\n');
  await app.page.getByTestId('dataset.file').setInputFiles({ name: 'bad.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(bad) });
  await expect(app.page.getByTestId('dataset.error')).toContainText('bad.jsonl line 2, field "answer": missing.');
  await expect(app.page.getByTestId('dataset.summary')).toHaveAttribute('data-pairs', '3');
  await expect(app.page.getByTestId('dataset.summary')).toContainText('toy.jsonl');
  expect(await app.editor.field('Clean prompt').inputValue()).toBe(typedClean);
  await expect(app.page.getByTestId('results.stale')).toHaveCount(0);
});

test('1,000 pairs run in batches with progress; Cancel stops between batches and keeps the result on screen', async ({ app }) => {
  await app.open();
  await app.ready();
  await app.editor.preset('toy-induction');
  const firstRun = await app.editor.run();
  const lines = Array.from({ length: 1000 }, (_, i) => JSON.stringify(PAIRS[i % 3])).join('\n');
  await app.page.getByTestId('dataset.file').setInputFiles({ name: 'many.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(lines) });
  await expect(app.page.getByTestId('dataset.summary')).toHaveAttribute('data-pairs', '1000');
  await app.editor.runButton.click();
  const progress = app.page.getByTestId('dataset.progress');
  await expect(progress.locator('progress')).toHaveAttribute('max', '1000');
  await expect(progress.locator('progress')).not.toHaveAttribute('value', '0');
  await app.page.getByTestId('dataset.cancel').click();
  await expect(progress).toHaveCount(0, { timeout: 5000 });
  expect((await app.lastResult())!.runId).toBe(firstRun);
  await expect(app.page.getByTestId('pairs.table')).toHaveCount(0);
});

test('generate induction pairs with a seed in the app: the exported JSONL equals the engine generator run here, seed included', async ({ app }) => {
  await app.open();
  await app.ready();
  await app.page.getByText('Generate corrupted prompts').click();
  await app.page.getByTestId('generator.kind').selectOption('induction');
  await app.page.getByTestId('generator.seed').fill('5');
  await app.page.getByTestId('generator.count').fill('3');
  await app.page.getByTestId('generator.length').fill('4');
  await app.page.getByTestId('generator.variant').selectOption('BC');
  await app.page.getByTestId('generator.run').click();
  await expect(app.page.getByTestId('dataset.summary')).toHaveAttribute('data-pairs', '3');
  await expect(app.page.getByTestId('dataset.seed')).toHaveText('5');
  const download = app.page.waitForEvent('download');
  await app.page.getByTestId('dataset.export').click();
  const file = await (await download).createReadStream();
  let text = '';
  for await (const chunk of file) text += chunk;
  expect(text).toBe(toJsonl(inductionPairs(3, 4, 5, 'BC')));
  // A bad seed is refused with a message; the dataset stays.
  await app.page.getByTestId('generator.seed').fill('-1');
  await app.page.getByTestId('generator.run').click();
  await expect(app.page.getByTestId('generator.error')).toContainText('whole number');
  await expect(app.page.getByTestId('dataset.seed')).toHaveText('5');
});
