// Estimators in the app (issue 12), on the offline IOI model, wasm: the estimator selector, its numbers checked
// against onnxruntime-node's engine in this process; the QK fix on the issue's own pair; the scatter tab's
// estimator comparison; Verify top K with progress and cancel; a permalink that carries the estimator.
import type { Page } from '@playwright/test';
import type { Method } from '../src/engine/patching/estimators';
import type { ExperimentSpec, Family } from '../src/engine/patching/types';
import { loadModelFromDir } from '../src/engine/model/weights-node';
import { PatchingEngine } from '../src/engine/patching';
import { createNodeRuntime } from '../src/engine/runtime/node';
import { encodePermalink } from '../src/state/permalink';
import { AppPage, reopenLink } from './pages';
import { compareArrays, expect, test as base } from './fixtures';

const test = base.extend<object, { ioi: PatchingEngine }>({
  // eslint-disable-next-line no-empty-pattern -- Playwright reads a fixture's dependencies from this pattern: none
  ioi: [async ({}, use) => {
    const { config, weights } = await loadModelFromDir('public/models/toy-ioi', 'toy-ioi');
    const engine = await PatchingEngine.create(createNodeRuntime({ threads: 1 }), config, weights);
    await use(engine);
    await engine.dispose();
  }, { scope: 'worker' }],
});

async function openIoi(app: AppPage): Promise<void> {
  await app.open();
  await app.ready();
  await app.model.picker.selectOption('toy-ioi');
  await app.model.waitReady();
  await app.editor.preset('toy-ioi');
}

const chooseEstimator = (page: Page, method: Method) => page.getByTestId('estimator.select').selectOption(method);
const specOf = async (page: Page) => ((await page.evaluate(() => window.patchwork!.state())) as { spec: ExperimentSpec }).spec;
const scaleOf = (m: { clean: number; corrupted: number }) => Math.max(Math.abs(m.clean), Math.abs(m.corrupted));


test('the QK fix on the issue\'s pair gives head 2.3\'s query the exact patch\'s sign', async ({ app, ioi }, testInfo) => {
  // The pair as a link (one pair, plain AtP), then the QK fix chosen in the app and run again.
  const pair = {
    clean: 'When Mary and John went to the store, John gave the drink to',
    corrupted: 'When Mary and John went to the store, Mary gave the drink to',
    answer: ' Mary',
    wrong: ' John',
  };
  await app.open(encodePermalink({
    model: { kind: 'builtin', id: 'toy-ioi' },
    experiment: { pairs: [pair], metric: { name: 'logit_diff' }, direction: 'denoising', options: { freezeLayerNorm: false, freezeAttention: false }, prependBos: true },
    view: { tab: 'heads', family: 'q', normalised: false },
  }));
  await app.ready();
  await app.page.waitForFunction(() => window.patchwork!.lastResult()?.method === 'atp', null, { timeout: 90_000 });
  const atp = (await app.lastResult())!;
  expect((await specOf(app.page)).pairs).toEqual([pair]);
  await chooseEstimator(app.page, 'qk-fix');
  await app.editor.run();
  const result = (await app.lastResult())!;
  expect(result.method).toBe('qk-fix');
  expect(result.runId).toBeGreaterThan(atp.runId);
  await app.results.tab('heads').click();
  await app.results.cell('q', 2, 3).click();
  const exact = await app.results.activationValue();
  const estimate = Number(await app.results.attribution.getAttribute('data-value'));
  expect(Math.sign(estimate), `QK fix ${estimate}, exact ${exact}`).toBe(Math.sign(exact));
  // Plain AtP gets this cell's sign wrong (the example); the QK fix is what changed it.
  const nH = atp.attribution.q.shape[1];
  expect(Math.sign(atp.attribution.q.data[2 * nH + 3]!), 'plain AtP').toBe(-Math.sign(exact));

  // Both numbers are onnxruntime-node's, on the spec the app ran.
  const exp = ioi.resolve(await specOf(app.page));
  const ref = await ioi.attribute(exp, { families: ['q'], method: 'qk-fix' });
  const nHeads = ref.values.q!.shape[1];
  const c = compareArrays([estimate], [ref.values.q!.data[2 * nHeads + 3]], { scale: scaleOf(result.metric) });
  expect(c.ok, JSON.stringify(c)).toBe(true);
  const e = compareArrays([exact], [await ioi.patch(exp, 'q', [2, 3])], { scale: scaleOf(result.metric) });
  expect(e.ok, JSON.stringify(e)).toBe(true);
  await app.snapshot(testInfo, 'qk-fix-q-2-3');
});

/** Pearson r written out here, apart from the app's stats module. */
function pearson(x: number[], y: number[]): number {
  const mx = x.reduce((a, b) => a + b, 0) / x.length;
  const my = y.reduce((a, b) => a + b, 0) / y.length;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  x.forEach((_, i) => {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  });
  return sxy / Math.sqrt(sxx * syy);
}

/** Average ranks (ties share the mean rank), Spearman's rho and top-k overlap by |.|, written out here. */
function ranks(v: number[]): number[] {
  const order = v.map((x, i) => [x, i]).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(v.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    for (let t = i; t <= j; t++) r[order[t][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}
const topByMagnitude = (v: number[], k: number) => new Set(v.map((x, i) => [Math.abs(x), i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k).map(([, i]) => i));

// One page for the four flows below (the IOI model loaded and its preset run once; each used to open its own page):
// Verify top K, then the scatter tab on the sweep Verify made, then AtP*, then a permalink carrying IG. Each step's
// assertions are those of the separate test it replaces, in the order they ran there.
test('estimators on the toy IOI preset: Verify top K, the scatter comparison, AtP* and a permalink, on one page', async ({ app, ioi, browser, backend }, testInfo) => {
  test.setTimeout(480_000);
  await openIoi(app);
  await app.editor.run();

  await test.step('Verify top K: progress and cancel, then exact values equal onnxruntime-node\'s patches', async () => {
    await app.results.tab('residual').click();

    // Cancel: a big K on every residual family, cancelled while it runs.
    await app.page.getByTestId('verify.k').fill('40');
    await app.page.getByTestId('verify.random').fill('0');
    await app.page.getByTestId('verify.start').click();
    await expect(app.page.getByTestId('verify.progress')).toBeVisible();
    await app.page.getByTestId('verify.cancel').click();
    await expect(app.page.getByTestId('verify.progress')).toHaveCount(0);
    await expect(app.page.getByTestId('verify.error')).toHaveText('Verify top K was cancelled.');
    await expect(app.page.getByTestId('verify.start')).toBeEnabled();

    // Heads view, K = 3 plus 2 random others per family.
    await app.results.tab('heads').click();
    await app.page.getByTestId('verify.k').fill('3');
    await app.page.getByTestId('verify.random').fill('2');
    await app.page.getByTestId('verify.start').click();
    await expect(app.page.getByTestId('verify.summary.head_out_all_pos')).toContainText('top 3 by |AtP|: estimate vs exact', { timeout: 90_000 });
    await expect(app.page.getByTestId('verify.progress')).toHaveCount(0, { timeout: 90_000 });
    await expect(app.page.getByTestId('verify.summary.head_out_all_pos')).toContainText('recall of the true top K: needs every cell patched');
    const result = (await app.lastResult())!;
    const exp = ioi.resolve(await specOf(app.page));
    const families: Family[] = ['head_out_all_pos', 'q', 'k', 'v', 'pattern'];
    for (const family of families) {
      const p = result.patched[family];
      const indices: number[][] = [];
      const values: number[] = [];
      const [, nHeads] = p.shape;
      p.data.forEach((v, f) => { if (v !== null) { indices.push([Math.floor(f / nHeads), f % nHeads]); values.push(v); } });
      expect(indices.length, family).toBe(5);
      // The top 3 by |estimate| are among them.
      const est = result.attribution[family].data as number[];
      const top = est.map((v, f) => [Math.abs(v), f]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 3).map(([, f]) => f);
      for (const f of top) expect(p.data[f], `${family} top cell ${f}`).not.toBeNull();
      const ref = await ioi.patchCells(exp, family, indices);
      const c = compareArrays(values, ref, { scale: scaleOf(result.metric) });
      expect(c.ok, `${family} ${JSON.stringify(c)}`).toBe(true);
    }
    // Verified cells show as computed cells do (the dot, the aria label with both numbers).
    await expect(app.results.figure('q').locator('[data-testid="heatmap.cell"][aria-label*="activation patch"]:not([aria-label*="not computed"])')).toHaveCount(5);

    // With a full sweep at hand, the summary gives the recall of the true top K, checked against the patched values.
    await app.results.sweep();
    await app.page.getByTestId('verify.start').click();
    const line = app.page.getByTestId('verify.summary.head_out_all_pos');
    await expect(line).toContainText('recall of the true top 3:', { timeout: 90_000 });
    const full = (await app.lastResult())!;
    const exactAll = full.patched.head_out_all_pos.data as number[];
    const estAll = full.attribution.head_out_all_pos.data as number[];
    const topOf = (v: number[]) => new Set(v.map((x, f) => [Math.abs(x), f]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 3).map(([, f]) => f));
    const truth = topOf(exactAll);
    const recall = [...topOf(estAll)].filter((f) => truth.has(f)).length / 3;
    expect(Number(await line.getAttribute('data-recall'))).toBeCloseTo(recall, 12);
    await app.snapshot(testInfo, 'verify-top-k');
  });

  await test.step('the scatter tab compares two estimators with the exact patch: r, rho and top-k recall', async () => {
    // The sweep of the heads view is the one Verify top K ran above (the separate test ran it itself).
    await app.results.tab('heads').click();
    await app.results.tab('scatter').click();
    const compare = app.page.getByTestId('estimators.compare');
    await compare.getByTestId('estimators.family').selectOption('head_out_all_pos');
    await compare.getByTestId('estimators.compute.atp-star').click();
    await expect(compare.getByTestId('estimators.stats.atp-star')).toBeVisible({ timeout: 90_000 });
    const result = (await app.lastResult())!;
    expect(Object.keys(result.estimates).sort()).toEqual(['atp', 'atp-star']);
    const exact = result.patched.head_out_all_pos.data as number[];
    expect(exact.every((v) => v !== null)).toBe(true);
    for (const [method, signed] of [['atp', true], ['atp-star', false]] as const) {
      const row = compare.getByTestId(`estimators.stats.${method}`);
      const est = result.estimates[method].head_out_all_pos.data as number[];
      const y = signed ? exact : exact.map(Math.abs);
      expect(Number(await row.getAttribute('data-n'))).toBe(exact.length);
      expect(Number(await row.getAttribute('data-pearson'))).toBeCloseTo(pearson(est, y), 9);
      expect(Number(await row.getAttribute('data-spearman'))).toBeCloseTo(pearson(ranks(est), ranks(y)), 9);
      const k = Math.min(10, est.length);
      const truth = topByMagnitude(y, k);
      expect(Number(await row.getAttribute('data-recall'))).toBeCloseTo([...topByMagnitude(est, k)].filter((i) => truth.has(i)).length / k, 12);
      await expect(row).toContainText(/-?\d\.\d{3}.*-?\d\.\d{3}/);
    }
    await expect(app.page.getByTestId('figure.estimator.atp-star').getByTestId('scatter.title')).toContainText('Pearson r =');
    await app.snapshot(testInfo, 'estimators-scatter');
  });

  await test.step('AtP* on the toy IOI preset: the q values the app shows are onnxruntime-node\'s, drawn as magnitudes', async () => {
    await chooseEstimator(app.page, 'atp-star');
    await expect(app.page.getByTestId('estimator.description')).toContainText('Magnitudes');
    await app.editor.run();
    const result = (await app.lastResult())!;
    expect(result.method).toBe('atp-star');
    await expect(app.page.getByTestId('run.estimator')).toHaveText('estimator: AtP* (magnitudes)');

    const exp = ioi.resolve(await specOf(app.page));
    const ref = await ioi.attribute(exp, { families: ['q'], method: 'atp-star' });
    expect(ref.method).toBe('atp-star');
    const c = compareArrays(result.attribution.q.data, ref.values.q!.data, { rel: 1e-4 });
    expect(c.ok, JSON.stringify(c)).toBe(true);
    // Magnitudes: never negative, and said so where they are shown.
    expect(result.attribution.q.data.every((v) => v !== null && v >= 0)).toBe(true);

    await app.results.tab('heads').click();
    const cell = app.results.cell('q', 1, 0);
    await expect(cell).toHaveAttribute('aria-label', /AtP\* estimate, magnitude [\d.]+/);
    const legend = app.results.figure('q').locator('.pw-legend');
    await expect(legend).toContainText('AtP* estimate, magnitude (logit diff)');
    // A sequential bar from 0: no negative ticks, as on the diverging scale.
    await expect(legend).not.toContainText('-');
    // The shown number is the array's (scale 1: not normalised).
    await cell.click();
    const shown = Number(await app.results.attribution.getAttribute('data-value'));
    const [, nHeads] = result.attribution.q.shape;
    expect(shown).toBe(result.attribution.q.data[1 * nHeads + 0]);
    await app.snapshot(testInfo, 'atp-star-heads');
  });

  await test.step('a permalink carries the estimator and reopens it', async () => {
    await chooseEstimator(app.page, 'ig-inputs');
    await app.page.getByTestId('estimator.steps').fill('4');
    await app.editor.run();
    const first = (await app.lastResult())!;
    expect([first.method, first.steps]).toEqual(['ig-inputs', 4]);
    await expect(app.page).toHaveURL(/#v1\./);
    const link = app.page.url();

    await reopenLink(browser, backend, link, async (other) => {
      await other.page.waitForFunction(() => window.patchwork!.lastResult() !== null, null, { timeout: 90_000 });
      const second = (await other.lastResult())!;
      expect([second.method, second.steps]).toEqual(['ig-inputs', 4]);
      await expect(other.page.getByTestId('estimator.select')).toHaveValue('ig-inputs');
      await expect(other.page.getByTestId('estimator.steps')).toHaveValue('4');
      await expect(other.page.getByTestId('run.estimator')).toHaveText('estimator: IG (inputs), 4 steps');
      const c = compareArrays(second.attribution.q.data, first.attribution.q.data as number[], { scale: scaleOf(first.metric) });
      expect(c.ok, JSON.stringify(c)).toBe(true);
    });
  });
});
