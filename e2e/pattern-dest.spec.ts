// Issue #9's demonstration family in the browser: the Attention tab's "by destination" panel shows pattern_dest
// ([layer, head, query_pos]: the whole row of a head's pattern at one destination) for the shown head's layer; its
// attribution and a clicked cell's exact patch equal onnxruntime-node's in the test process.
import type { ExperimentSpec } from '../src/engine/patching/types';
import { compareArrays, expect, test } from './fixtures';

test('attention tab: pattern by destination, attribution and a clicked row patch equal onnxruntime-node', async ({ app, reference }, testInfo) => {
  await app.open();
  await app.ready();
  await app.editor.preset('toy-induction');
  await app.editor.run();
  await app.results.tab('attention').click();
  const result = (await app.lastResult())!;
  const spec = (await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec)) as ExperimentSpec;
  const exp = reference.resolve(spec);
  const scale = Math.max(Math.abs(result.metric.clean), Math.abs(result.metric.corrupted));
  const ref = await reference.attribute(exp, { families: ['pattern_dest'] });
  expect(result.attribution.pattern_dest.shape).toEqual(ref.values.pattern_dest!.shape);
  const c = compareArrays(result.attribution.pattern_dest.data, ref.values.pattern_dest!.data, { scale });
  expect(c.ok, JSON.stringify(c)).toBe(true);

  // The panel shows the first-ranked head's layer: heads x destination positions.
  const [, nHeads, nPos] = result.attribution.pattern_dest.shape;
  const heads = app.page.getByTestId('attention.head');
  const layer = Number(await heads.first().getAttribute('data-layer'));
  const figure = app.results.figure('pattern_dest');
  await expect(figure.locator('figcaption')).toContainText(`Layer ${layer} attention by destination`);
  await expect(figure.getByTestId('heatmap.cell')).toHaveCount(nHeads * nPos);
  const head = nHeads - 1;
  const q = nPos - 1;
  await app.results.cell('pattern_dest', head, q).click();
  await expect(app.results.details).toContainText(`blocks.${layer}.attn.hook_pattern head ${head} query_pos ${q}`);
  const shown = await app.results.activationValue();
  const exact = await reference.patch(exp, 'pattern_dest', [layer, head, q]);
  expect(compareArrays([shown], [exact], { scale }).ok, `${shown} vs ${exact}`).toBe(true);
  await app.snapshot(testInfo, 'pattern-dest');
});
