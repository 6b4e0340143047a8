// Metrics on internal activations in the app (issue 13, item 3), on the toy model: pick the attention probability of
// a head, see the cells at or after its hook labelled "not upstream" (never 0, never "not computed"), click one and
// nothing is patched, click an upstream one and get the exact patch the Node engine computes; the link carries the
// metric and a link whose location the model lacks opens with a specific message.
import type { ExperimentSpec } from '../src/engine/patching/types';
import { encodePermalink, type PermalinkState } from '../src/state/permalink';
import { AppPage, reopenLink } from './pages';
import { expect, test } from './fixtures';

const HOOK = 'blocks.1.attn.hook_pattern';

test('attention-probability metric: not-upstream cells labelled, not patched, and carried by the link', async ({ app, browser, backend, reference }) => {
  // Three page loads and two runs: ~30 s on a quiet machine; the limit leaves room for a loaded one.
  test.setTimeout(360_000);
  await app.page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await app.open();
  await app.ready();
  await app.editor.preset('toy-induction');
  await app.page.getByTestId('experiment.metric').selectOption('attn');

  // The picker: layer and head from the model, positions from the prompt, labelled with its tokens.
  const site = (f: string) => app.page.getByTestId(`metric.site.${f}`);
  await expect(site('layer').locator('option')).toHaveCount(2);
  await expect(site('head').locator('option')).toHaveCount(4);
  const nPos = await site('query').locator('option').count();
  expect(nPos).toBeGreaterThan(4);
  await expect(site('query')).toHaveValue(String(nPos - 1));
  await expect(site('query').locator('option').nth(1)).toHaveText(/^1 \S+/);

  // A key after the query is named beside the fields, and nothing chosen is changed.
  await site('query').selectOption('2');
  await site('key').selectOption('3');
  await expect(app.page.getByTestId('experiment.issue.metric')).toContainText('the key position 3 is after the query position 2');
  await expect(site('key')).toHaveValue('3');
  await site('query').selectOption(String(nPos - 1));
  await expect(app.page.getByTestId('experiment.issue.metric')).toHaveCount(0);
  await site('head').selectOption('0');
  await expect(app.page.getByTestId('metric.site.text')).toHaveText(`CLI: --metric attn:1.0:${nPos - 1}:3`);

  await app.editor.run();
  const spec = (await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec)) as ExperimentSpec;
  expect(spec.metric).toEqual({ name: 'attn', site: { layer: 1, head: 0, query: nPos - 1, key: 3 } });

  // Layer x head: layer 1's head outputs and patterns are not upstream; its queries are; the metric's head is marked.
  await app.results.tab('heads').click();
  const heads = app.results.figure('head_out_all_pos');
  await expect(heads.locator('[data-testid="heatmap.cell"][data-not-upstream="true"]')).toHaveCount(4);
  await expect(heads.locator('[data-row="0"][data-not-upstream="true"]')).toHaveCount(0);
  await expect(heads.locator('[data-metric-cell="true"]')).toHaveAttribute('data-row', '1');
  await expect(heads.locator('[data-metric-cell="true"]')).toHaveAttribute('data-col', '0');
  await expect(app.results.figure('pattern').locator('[data-row="1"][data-not-upstream="true"]')).toHaveCount(4);
  await expect(app.results.figure('q').locator('[data-not-upstream="true"]')).toHaveCount(0);
  await expect(heads.getByTestId('legend.notUpstream')).toBeVisible();
  const result = (await app.lastResult())!;
  expect(result.attribution.head_out_all_pos.data.slice(4)).toEqual([null, null, null, null]);
  expect(result.attribution.head_out_all_pos.data.slice(0, 4).every((v) => typeof v === 'number')).toBe(true);

  // Hover and click a not-upstream cell: it says why, and no patch runs.
  const blocked = app.results.cell('head_out_all_pos', 1, 2);
  await expect(blocked).toHaveAttribute('aria-label', `${'blocks.1.attn.hook_z'} head 2 (all pos): not upstream of the metric (${HOOK})`);
  await blocked.hover();
  await expect(app.page.getByTestId('heatmap.tooltip.notUpstream')).toContainText(`not upstream of the metric (${HOOK})`);
  await blocked.click();
  await expect(app.page.getByTestId('details.notUpstream')).toContainText(`not upstream of the metric (${HOOK})`);
  await expect(app.page.getByTestId('details.activation')).toHaveCount(0);
  const afterClick = (await app.page.evaluate(() => window.patchwork!.state())) as { pendingCell: string | null; selected: unknown };
  expect(afterClick).toMatchObject({ pendingCell: null, selected: { family: 'head_out_all_pos', index: [1, 2] } });
  expect((await app.lastResult())!.patched.head_out_all_pos?.data[6] ?? null).toBeNull();

  // An upstream cell patches, and its value is the Node engine's exact patch for the same metric.
  await app.results.cell('head_out_all_pos', 0, 1).click();
  const exact = await app.results.activationValue();
  const exp = await reference.prepare(reference.resolve(spec));
  const viaNode = await reference.patch(exp, 'head_out_all_pos', [0, 1]);
  expect(Math.abs(exact - viaNode)).toBeLessThanOrEqual(1e-4 * Math.max(Math.abs(result.metric.clean), Math.abs(result.metric.corrupted), 1e-3));

  // Layer x position: resid_pre of layer 1 is upstream, attn_out of layer 1 is not.
  await app.results.tab('residual').click();
  await expect(app.results.figure('resid_pre').locator('[data-not-upstream="true"]')).toHaveCount(0);
  await expect(app.results.figure('attn_out').locator('[data-row="1"][data-not-upstream="true"]')).toHaveCount(nPos);
  await expect(app.results.figure('attn_out').locator('[data-row="0"][data-not-upstream="true"]')).toHaveCount(0);

  // The link carries the metric; reopened in a fresh context it recomputes the same numbers.
  await app.page.getByTestId('permalink.copy').click();
  await expect(app.page.getByTestId('permalink.status')).toHaveText('Link copied.');
  const link = await app.page.evaluate(() => navigator.clipboard.readText());
  await reopenLink(browser, backend, link, async (other) => {
    await other.page.waitForFunction(() => window.patchwork!.lastResult() !== null, null, { timeout: 150_000 });
    await expect(other.page.getByTestId('experiment.metric')).toHaveValue('attn');
    await expect(other.page.getByTestId('metric.site.key')).toHaveValue('3');
    const second = (await other.lastResult())!;
    expect(second.metric).toEqual(result.metric);
    expect(second.attribution.head_out_all_pos.data).toEqual(result.attribution.head_out_all_pos.data);
    await expect(other.results.figure('attn_out').locator('[data-not-upstream="true"]')).toHaveCount(nPos);

    // A link whose location the model does not have opens, keeps it, and names it beside the picker.
    const bad: PermalinkState = {
      model: { kind: 'builtin', id: 'toy-induction' },
      experiment: { ...spec, metric: { name: 'attn', site: { layer: 7, head: 0, query: nPos - 1, key: 3 } } },
      view: { tab: 'heads', family: 'head_out_all_pos', normalised: false },
    };
    const third = new AppPage(await other.page.context().newPage(), backend);
    await third.open(encodePermalink(bad));
    await third.ready();
    await expect(third.page.getByTestId('experiment.issue.metric')).toContainText(/layer 7 is out of range; .+ has 2 layers/);
    await expect(third.page.getByTestId('metric.site.layer')).toHaveValue('7');
  });
});
