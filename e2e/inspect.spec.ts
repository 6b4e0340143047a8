// Issue 14: the views a researcher checks before trusting a patch, in the browser, against the test process's
// engine on onnxruntime-node and the independent float64 reference (test/reference): top-5 next tokens, direct logit
// attribution summing to the metric, the logit lens, the raw attention pattern of the chosen head, and the Neurons
// tab (top-K table, click-to-patch, Patch top K) whose exact patches equal the CLI engine's `patch`.
import type { Page } from '@playwright/test';
import { loadModelFromDir } from '../src/engine/model/weights-node';
import type { ExperimentSpec } from '../src/engine/patching/types';
import { cli } from '../test/helpers/cli';
import { referenceForward } from '../test/reference/gpt2-f64';
import { referenceInspect } from '../test/reference/inspect-f64';
import { compareArrays, expect, test, TOY_DIR } from './fixtures';

const num = async (page: Page, selector: string, attr: string): Promise<number[]> =>
  page.locator(selector).evaluateAll((els, a) => els.map((e) => Number(e.getAttribute(a))), attr);

// One page and one Run for the five flows of this file (each used to open the app and run the preset itself); the
// steps keep every assertion of the separate tests, in this order. The kl step comes last: it changes the metric.
test('inspect, neurons, full granularity, the tables at three widths and the kl refusal, on one toy induction run', async ({ app, reference }, testInfo) => {
  test.setTimeout(600_000);
  // Opened, the toy induction preset run once, for every step but the last (which switches the metric to kl).
  await app.open();
  await app.ready();
  await app.editor.preset('toy-induction');
  await app.editor.run();

  await test.step('inspect tab: top-5, DLA (sums to the metric) and logit lens equal the engine and the float64 reference', async () => {
    const spec = (await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec)) as ExperimentSpec;
    const exp = reference.resolve(spec);
    const ref = await reference.inspect(exp, { k: 5 });
    const { config, weights } = await loadModelFromDir(TOY_DIR, 'toy-induction');
    const f64 = (tokens: number[]) => referenceInspect(config, weights, tokens, { pos: ref.position, target: ref.direction[0].target, wrong: ref.direction[0].wrong, k: 5 });
    const f64Clean = f64(exp.clean[0]);
    const f64Corrupted = f64(exp.corrupted[0]);

    await app.page.getByTestId('tab.inspect').click();
    const rows = app.page.getByTestId('inspect.dla.row');
    const { nLayers: L, nHeads: H } = config;
    await expect(rows).toHaveCount(1 + L * H + L + 2, { timeout: 60_000 });

    // Top 5 of each prompt: the same ids in the same order, probabilities within 1e-4.
    for (const [which, eng, f] of [['clean', ref.predictions.clean[0], f64Clean], ['corrupted', ref.predictions.corrupted[0], f64Corrupted]] as const) {
      const ids = await num(app.page, `[data-testid="inspect.top.${which}"] [data-testid="inspect.top.row"]`, 'data-id');
      const probs = await num(app.page, `[data-testid="inspect.top.${which}"] [data-testid="inspect.top.row"]`, 'data-prob');
      expect(ids).toEqual(eng.map((t) => t.id));
      expect(ids).toEqual(f.top.map((t) => t.id));
      for (let i = 0; i < 5; i++) {
        expect(Math.abs(probs[i] - eng[i].prob)).toBeLessThan(1e-4);
        expect(Math.abs(probs[i] - f.top[i].prob)).toBeLessThan(1e-4);
      }
    }

    // DLA of both runs: every component within 1e-4 of the engine and of the float64 reference, summing to the metric.
    for (const [run, f] of [['clean', f64Clean], ['corrupted', f64Corrupted]] as const) {
      await app.page.getByTestId(`inspect.dla.run.${run}`).check();
      await expect(app.page.getByTestId('inspect.dla')).toHaveAttribute('data-run', run);
      const shown = await num(app.page, '[data-testid="inspect.dla.row"]', 'data-value');
      const names = await app.page.locator('[data-testid="inspect.dla.row"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
      const d = ref.dla[run];
      const expected: number[] = [d.embed];
      const expectedF64: number[] = [f.embed];
      for (let l = 0; l < L; l++) {
        for (let h = 0; h < H; h++) {
          expected.push(d.heads.data[l * H + h]);
          expectedF64.push(f.heads[l * H + h]);
          expect(names[expected.length - 1]).toBe(`L${l}H${h}`);
        }
        expected.push(d.mlps.data[l]);
        expectedF64.push(f.mlps[l]);
      }
      expected.push(d.attnBias, d.lnFinalBias);
      expectedF64.push(f.attnBias, f.lnFinalBias);
      const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i])));
      expect(maxDiff(shown, expected), `${run}: DLA vs onnxruntime-node`).toBeLessThan(1e-4);
      expect(maxDiff(shown, expectedF64), `${run}: DLA vs float64 reference`).toBeLessThan(1e-4);
      const sumLine = app.page.getByTestId('inspect.dla.sum');
      const sum = Number(await sumLine.getAttribute('data-sum'));
      const metric = Number(await sumLine.getAttribute('data-metric'));
      const resultMetric = (await app.lastResult())!.metric[run];
      // The logit difference of the run, from the Run itself and from the float64 logits.
      const f64Metric = f.logits[ref.direction[0].target] - f.logits[ref.direction[0].wrong!];
      expect(Math.abs(sum - metric)).toBeLessThan(1e-4);
      expect(Math.abs(sum - resultMetric)).toBeLessThan(1e-4);
      expect(Math.abs(sum - f64Metric)).toBeLessThan(1e-4);
      await expect(sumLine).toContainText('logit(');
    }

    // Logit lens: the top 5 ids after each layer equal the engine's and the float64 reference's.
    for (const which of ['clean', 'corrupted'] as const) {
      const cells = await app.page.locator(`[data-testid="inspect.lens.${which}"]`).evaluateAll((els) => els.map((e) => e.getAttribute('data-ids')));
      expect(cells).toEqual(ref.logitLens[which].map((r) => r.map((t) => t.id).join(',')));
      expect(cells).toEqual((which === 'clean' ? f64Clean : f64Corrupted).lens.map((r) => r.map((t) => t.id).join(',')));
    }
    await app.snapshot(testInfo, 'inspect');

    // The Attention tab: the chosen head's raw pattern on both prompts equals the float64 forward's hook_pattern.
    await app.results.tab('attention').click();
    const head = app.page.getByTestId('attention.head').first();
    const layer = Number(await head.getAttribute('data-layer'));
    const h = Number(await head.getAttribute('data-head'));
    for (const [which, tokens] of [['clean', exp.clean[0]], ['corrupted', exp.corrupted[0]]] as const) {
      const cells = app.page.locator(`[data-testid="attention.raw.${which}"] [data-testid="attention.raw.cell"]`);
      const n = tokens.length;
      await expect(cells).toHaveCount((n * (n + 1)) / 2, { timeout: 60_000 });
      const shown = await cells.evaluateAll((els) => els.map((e) => [Number(e.getAttribute('data-q')), Number(e.getAttribute('data-k')), Number(e.getAttribute('data-value'))]));
      const pat = referenceForward(config, weights, tokens).cache.get(`blocks.${layer}.attn.hook_pattern`)!.data; // [head_index, query_pos, key_pos]
      const diff = Math.max(...shown.map(([q, k, v]) => Math.abs(v - pat[(h * n + q) * n + k])));
      expect(diff, `${which} pattern of L${layer}H${h}`).toBeLessThan(1e-5);
    }
    await app.snapshot(testInfo, 'attention-raw-pattern');
  });

  await test.step('full granularity: resid_mid, resid_post and q/k/v by position are shown (family table views) and equal onnxruntime-node', async () => {
    const spec = (await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec)) as ExperimentSpec;
    const families = ['resid_mid', 'resid_post', 'q_by_pos', 'k_by_pos', 'v_by_pos'] as const;
    const ref = await reference.attribute(reference.resolve(spec), { families: [...families] });
    const result = (await app.lastResult())!;
    const scale = Math.max(Math.abs(result.metric.clean), Math.abs(result.metric.corrupted));
    for (const f of families) {
      const c = compareArrays(result.attribution[f].data, ref.values[f]!.data, { scale });
      expect(c.ok, `${f}: ${JSON.stringify(c)}`).toBe(true);
    }
    await app.results.tab('residual').click();
    const [L, P] = result.attribution.resid_mid.shape;
    for (const f of ['resid_mid', 'resid_post'] as const) await expect(app.results.heatmapCells(f)).toHaveCount(L * P);
    await app.results.tab('heads').click();
    await app.page.getByTestId('view.perPosition').check();
    const [, H] = result.attribution.q_by_pos.shape;
    for (const f of ['head_out', 'q_by_pos', 'k_by_pos', 'v_by_pos']) {
      for (let l = 0; l < L; l++) await expect(app.page.getByTestId(`figure.${f}.L${l}`).getByTestId('heatmap.cell')).toHaveCount(H * P);
    }
    // A click on a key-by-position cell runs its exact patch, equal to the engine's.
    await app.page.getByTestId('figure.k_by_pos.L1').locator(`[data-testid="heatmap.cell"][data-row="0"][data-col="${P - 2}"]`).click();
    const shown = await app.results.activationValue();
    const exact = await reference.patch(reference.resolve(spec), 'k_by_pos', [1, 0, P - 2]);
    expect(compareArrays([shown], [exact], { scale }).ok, `${shown} vs ${exact}`).toBe(true);
    await app.snapshot(testInfo, 'heads-by-position');
  });

  await test.step('neurons tab: top-K by |attribution|, a clicked neuron and Patch top K equal the engine behind the CLI', async () => {
    const spec = (await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec)) as ExperimentSpec;
    const exp = reference.resolve(spec);
    const scale = await app.lastResult().then((r) => Math.max(Math.abs(r!.metric.clean), Math.abs(r!.metric.corrupted)));
    const ref = (await reference.attribute(exp, { families: ['mlp_post'] })).values.mlp_post!;

    await app.page.getByTestId('tab.neurons').click();
    await app.page.getByTestId('neurons.k').fill('6');
    const rows = app.page.getByTestId('neurons.row');
    await expect(rows).toHaveCount(6, { timeout: 60_000 });
    // The table's top 6 by |attribution| over every layer and position, from the reference's array sorted here.
    const [, P, N] = ref.shape;
    const order = Array.from(ref.data.keys()).sort((a, b) => Math.abs(ref.data[b]) - Math.abs(ref.data[a]) || a - b).slice(0, 6);
    const shownIdx = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-index')));
    expect(shownIdx).toEqual(order.map((f) => `${Math.floor(f / (P * N))},${Math.floor(f / N) % P},${f % N}`));
    const shownVals = await num(app.page, '[data-testid="neurons.row"]', 'data-value');
    expect(compareArrays(shownVals, order.map((f) => ref.data[f]), { scale }).ok).toBe(true);

    // Click the first row: its exact patch equals the engine's `patch` (what `patchwork patch` prints).
    await rows.first().click();
    await expect(rows.first()).toHaveAttribute('data-exact', /\d/, { timeout: 60_000 });
    const idx = shownIdx[0]!.split(',').map(Number);
    const exact = await reference.patch(exp, 'mlp_post', idx);
    const clicked = Number(await rows.first().getAttribute('data-exact'));
    expect(compareArrays([clicked], [exact], { scale }).ok).toBe(true);
    // ... and what `patchwork patch` prints for that neuron, run as a user runs it.
    const p = spec.pairs[0];
    const name = `mlp_post[${idx.join('][')}]`;
    const out = await cli(['patch', '--model', TOY_DIR, '--clean', p.clean, '--corrupted', p.corrupted, '--answer', p.answer, '--wrong', p.wrong, '--together', name, '--threads', '1']);
    expect(out.code, out.stderr).toBe(0);
    const fromCli = JSON.parse(out.stdout).single[name] as number;
    expect(compareArrays([clicked], [fromCli], { scale }).ok, `${clicked} vs CLI ${fromCli}`).toBe(true);

    // Patch top K: every row gets its exact value, equal to the engine's, and the progress goes away.
    await app.page.getByTestId('neurons.patchTop').click();
    for (let i = 0; i < 6; i++) await expect(rows.nth(i)).toHaveAttribute('data-exact', /\d/, { timeout: 60_000 });
    await expect(app.page.getByTestId('sweep.progress')).toHaveCount(0);
    const exacts = await num(app.page, '[data-testid="neurons.row"]', 'data-exact');
    const expected = await reference.patchCells(exp, 'mlp_post', shownIdx.map((s) => s!.split(',').map(Number)));
    const c = compareArrays(exacts, expected, { scale });
    expect(c.ok, JSON.stringify(c)).toBe(true);
    await app.snapshot(testInfo, 'neurons');
  });

  await test.step('inspect, neurons and the raw pattern at 1024, 1440 and 1920 px: every table inside the view (screenshots kept)', async () => {
    const view = app.page.locator('.pw-view');
    /** Each element's right edge is within the view's (its own scroll box may scroll, nothing is cut by the page). */
    const inside = async (selector: string) => {
      const v = (await view.boundingBox())!;
      const boxes = await app.page.locator(selector).evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((r) => ({ x: r.x, w: r.width })));
      expect(boxes.length, selector).toBeGreaterThan(0);
      for (const b of boxes) {
        expect(b.x, selector).toBeGreaterThanOrEqual(v.x - 1);
        expect(b.x + b.w, selector).toBeLessThanOrEqual(v.x + v.width + 1);
      }
    };
    for (const width of [1024, 1440, 1920]) {
      await app.page.setViewportSize({ width, height: 900 });
      await app.page.getByTestId('tab.inspect').click();
      await expect(app.page.getByTestId('inspect.dla.row').first()).toBeVisible({ timeout: 60_000 });
      await inside('.pw-inspect-table caption, .pw-inspect-scroll, [data-testid="inspect.dla.sum"]');
      await app.snapshot(testInfo, `inspect-${width}`);
      await app.page.getByTestId('tab.neurons').click();
      await expect(app.page.getByTestId('neurons.row').first()).toBeVisible({ timeout: 60_000 });
      await inside('.pw-neurons-controls, .pw-inspect-scroll');
      await app.snapshot(testInfo, `neurons-${width}`);
      await app.results.tab('attention').click();
      await expect(app.page.getByTestId('attention.raw.clean')).toBeVisible({ timeout: 60_000 });
      await inside('[data-testid="attention.raw"]');
      await app.snapshot(testInfo, `attention-raw-${width}`);
    }
  });

  await test.step('inspect tab refuses the kl metric with a message', async () => {
    await app.page.setViewportSize({ width: 1440, height: 900 }); // the project's default (the step above ends at 1920)
    await app.page.getByTestId('experiment.metric').selectOption('kl');
    await app.editor.run();
    await app.page.getByTestId('tab.inspect').click();
    await expect(app.page.getByTestId('inspect.error')).toContainText('the kl metric compares whole distributions');
    await expect(app.page.getByTestId('inspect.dla.row')).toHaveCount(0);
  });
});

