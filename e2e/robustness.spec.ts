// Faults found by the adversarial pass of issue 16 (and issue 14 items 1 and 4): no blank page, no result mixed
// with another model or other inputs, no load that fails or is declined taking away what the user had.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TINY_GPT2_CONFIG, randomCheckpoint } from '../src/engine/model/checkpoint';
import { encodeSafetensors } from '../src/engine/model/safetensors';
import { writeRandomCheckpoint } from '../src/engine/model/weights-node';
import { decodePermalink, encodePermalink, type PermalinkState } from '../src/state/permalink';
import { PRESETS } from '../src/ui/presets';
import { expect, test } from './fixtures';
import { serveModels, type ModelServer } from './model-server';

let root: string;
let server: ModelServer;
const CFG = { ...TINY_GPT2_CONFIG, name: 'three-layers', nLayers: 3, nCtx: 64 };
const toyPreset = PRESETS.find((p) => p.id === 'toy-induction')!;

test.beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'patchwork-e2e-robust-'));
  await writeRandomCheckpoint(join(root, 'three-layers'), CFG, 11);
  // One Inf in one MLP weight (refused at load), and a finite weight so large that the activations overflow.
  for (const [name, value] of [['inf-weight', Infinity], ['overflow', 1e38]] as const) {
    const bad = randomCheckpoint({ ...CFG, name }, 12);
    bad.tensors.get('h.1.mlp.c_fc.weight')!.data[5] = value;
    await mkdir(join(root, name));
    await writeFile(join(root, name, 'config.json'), JSON.stringify(bad.config));
    await writeFile(join(root, name, 'model.safetensors'), encodeSafetensors(bad.tensors, bad.metadata));
  }
  server = await serveModels(root, { slowChunk: 64 * 1024, slowDelayMs: 100 });
});

test.afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

function link(view: PermalinkState['view'], model: PermalinkState['model'] = { kind: 'builtin', id: 'toy-induction' }): string {
  return encodePermalink({ model, experiment: toyPreset.spec, view });
}

test('a link whose attention head the model does not have opens with a notice, not a blank page', async ({ app }) => {
  await app.open(link({ tab: 'attention', family: 'pattern_by_pos', normalised: false, head: { layer: 255, head: 200 } }));
  await app.page.waitForFunction(() => window.patchwork?.lastResult() != null, null, { timeout: 90_000 });
  await expect(app.page.getByTestId('figure.attention')).toBeVisible();
  await expect(app.page.getByTestId('notice')).toContainText('Attention head L255H200');
  await expect(app.page.getByTestId('render.error')).toHaveCount(0);
  const view = await app.page.evaluate(() => (window.patchwork!.state() as { view: { head?: unknown } }).view);
  expect(view.head).toBeUndefined();
});

test('Toy IOI, a layer-2 head, then Toy induction (2 layers) and Run: the attention view still draws', async ({ app }) => {
  await app.open();
  await app.ready();
  await app.model.picker.selectOption('toy-ioi');
  await app.model.waitReady();
  await expect(app.page.getByTestId('model.note')).toContainText('3 layers');
  await app.editor.fill({ 'Wrong answer': ' Tom' });
  await app.editor.run();
  await app.results.tab('attention').click();
  await app.page.locator('[data-testid="attention.head"][data-layer="2"]').first().click();
  await expect(app.page.getByTestId('figure.attention').locator('figcaption')).toContainText('L2H');
  await app.model.picker.selectOption('toy-induction');
  await app.model.waitReady();
  await app.editor.run();
  await expect(app.page.getByTestId('figure.attention')).toBeVisible();
  await expect(app.page.getByTestId('figure.attention').locator('figcaption')).not.toContainText('L2H');
  await expect(app.page.getByTestId('notice')).toContainText('Attention head L2H');
});

test('a render error inside one view says what failed; the other views and the inputs keep working', async ({ app }) => {
  await app.open();
  await app.ready();
  await app.editor.fill({ 'Clean prompt': `${toyPreset.spec.pairs[0].clean}` });
  await app.editor.run();
  await app.api((api) => api.injectRenderError('view.attention', 'injected fault'));
  await app.results.tab('attention').click();
  await expect(app.page.getByTestId('render.error')).toContainText('The Attention view failed to draw: injected fault');
  // The rest of the page is there and usable: inputs kept, other tabs draw, typing still works.
  await expect(app.editor.field('Clean prompt')).toHaveValue(toyPreset.spec.pairs[0].clean);
  await app.results.tab('residual').click();
  await expect(app.results.figure('resid_pre')).toBeVisible();
  await app.editor.fill({ 'Answer': ' cat' });
  await expect(app.editor.field('Answer')).toHaveValue(' cat');
  // Back on the failing view it still says so; once the fault is gone, Retry draws it.
  await app.results.tab('attention').click();
  await expect(app.page.getByTestId('render.error')).toContainText('injected fault');
  await app.api((api) => api.clearRenderErrors());
  await app.page.getByTestId('render.retry').click();
  await expect(app.page.getByTestId('figure.attention')).toBeVisible();
});

test('switching model while a run is in flight: the old model\'s result never shows on the new model', async ({ app }) => {
  await app.open();
  await app.ready();
  await app.editor.run();
  // Run, and switch model in the same task: the attribution in flight belongs to toy-induction.
  await app.page.evaluate(() => {
    document.querySelector<HTMLButtonElement>('[data-testid="patching.run"]')!.click();
    const picker = document.querySelector<HTMLSelectElement>('[data-testid="model.picker"]')!;
    picker.value = 'toy-ioi';
    picker.dispatchEvent(new Event('change', { bubbles: true }));
  });
  await expect(app.model.picker.locator('option:checked')).toHaveText('Toy IOI (offline)');
  await app.model.waitReady();
  await app.page.waitForTimeout(1000);
  const shown = await app.lastResult();
  expect(shown === null || shown.modelKey === 'toy-ioi', `a ${shown?.modelKey} result is on screen with toy-ioi loaded`).toBe(true);
});

test('while another model loads, the result is marked stale and a click does not patch; a cancelled or failed load changes nothing', async ({ app }) => {
  await app.open();
  await app.ready();
  const runId = await app.editor.run();
  await app.results.tab('residual').click();
  await app.model.loadUrl(`${server.url}/slow/three-layers/`);
  await expect(app.model.progress).toBeVisible();
  await expect(app.page.getByTestId('results.stale')).toContainText('computed on Toy induction');
  await app.results.cell('resid_pre', 0, 1).click();
  await expect(app.results.details.getByRole('alert')).toContainText('computed on Toy induction');
  await expect(app.results.activation).toHaveText('not computed');
  // Cancel: the toy model is still loaded, the result still on screen and usable.
  await app.page.getByTestId('model.cancel').click();
  await expect(app.model.error).toContainText('Download cancelled');
  await expect(app.model.error).toContainText('Toy induction (offline) is still loaded');
  await expect(app.model.status).toHaveText(/ready/);
  expect((await app.lastResult())!.runId).toBe(runId);
  await expect(app.page.getByTestId('results.stale')).toHaveCount(0);
  await app.results.cell('resid_pre', 0, 1).click();
  expect(Number.isFinite(await app.results.activationValue())).toBe(true);
  // A URL that 404s: same.
  await app.model.loadUrl(`${server.url}/missing/`);
  await expect(app.model.error).toContainText('404');
  await expect(app.model.status).toHaveText(/ready/);
  await expect(app.model.picker.locator('option:checked')).toHaveText('Toy induction (offline)');
  expect((await app.lastResult())!.runId).toBe(runId);
  await expect(app.results.figure('resid_pre')).toBeVisible();
});

test('edited inputs mark the result stale, and Copy link shares what is on screen', async ({ app, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await app.open();
  await app.ready();
  await app.editor.run();
  const ran = await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec);
  await expect(app.page.getByTestId('results.stale')).toHaveCount(0);
  const answer = await app.editor.field('Answer').inputValue();
  await app.editor.fill({ 'Answer': answer === ' lion' ? ' boat' : ' lion' });
  await expect(app.page.getByTestId('results.stale')).toContainText('inputs were edited');
  await app.page.getByTestId('permalink.copy').click();
  await expect(app.page.getByTestId('permalink.status')).toContainText('shares the results on screen');
  const hash = await app.page.evaluate(() => location.hash);
  const decoded = decodePermalink(hash);
  expect(decoded.ok && decoded.state.experiment).toEqual(ran);
});

test('"Don\'t load" on an incoming link keeps the edited prompts and the model', async ({ app }) => {
  await app.open();
  await app.ready();
  await app.editor.fill({ 'Clean prompt': 'my own clean prompt', 'Corrupted prompt': 'my own corrupted prompt' });
  const fragment = link({ tab: 'residual', family: 'resid_pre', normalised: false }, { kind: 'url', url: `${server.url}/three-layers/` });
  await app.page.evaluate((f) => { location.hash = f; }, fragment);
  await expect(app.page.getByTestId('permalink.confirm')).toBeVisible();
  await app.page.getByTestId('permalink.confirm.no').click();
  await expect(app.editor.field('Clean prompt')).toHaveValue('my own clean prompt');
  await expect(app.editor.field('Corrupted prompt')).toHaveValue('my own corrupted prompt');
  await expect(app.model.status).toHaveText(/ready/);
  expect(server.requests.filter((r) => r.startsWith('/three-layers/'))).toEqual([]);
});

test('non-finite weights are refused at load; NaN or Inf in the results is an error that says where, never "not computed"', async ({ app }) => {
  await app.open();
  await app.ready();
  await app.model.loadUrl(`${server.url}/inf-weight/`);
  await expect(app.model.error).toContainText('h.1.mlp.c_fc.weight');
  await expect(app.model.error).toContainText('still loaded');
  await app.model.loadUrl(`${server.url}/overflow/`);
  await app.model.waitReady();
  await expect(app.page.getByTestId('model.note')).toContainText('3 layers');
  await app.editor.preset('ioi');
  await app.editor.runButton.click();
  await expect(app.page.getByTestId('run.error')).toContainText(/The (clean|corrupted) metric is (NaN|-?Infinity)|The attribution of \w+ is (NaN|-?Infinity) at/);
  expect(await app.lastResult()).toBeNull();
});

test('a model URL that redirects to another origin is not followed until the user confirms that origin', async ({ app }) => {
  const other = await serveModels(root);
  const redirect: Server = createServer((req, res) => {
    res.setHeader('access-control-allow-origin', '*');
    res.writeHead(302, { location: `${other.url}${req.url}` }).end();
  });
  await new Promise<void>((r) => redirect.listen(0, '127.0.0.1', r));
  const from = `http://127.0.0.1:${(redirect.address() as AddressInfo).port}`;
  try {
    await app.open();
    await app.ready();
    await app.model.loadUrl(`${from}/three-layers/`);
    await expect(app.page.getByTestId('model.redirect.confirm')).toBeVisible();
    await expect(app.page.getByTestId('model.redirect.to')).toHaveText(other.url);
    // Nothing was loaded: the toy model is still there.
    await expect(app.model.status).toHaveText(/ready/);
    await expect(app.model.picker.locator('option:checked')).toHaveText('Toy induction (offline)');
    expect(other.requests.filter((r) => r.endsWith('model.safetensors')).length).toBeLessThanOrEqual(1);
    await app.page.getByTestId('model.redirect.yes').click();
    await app.model.waitReady();
    await expect(app.page.getByTestId('model.servedFrom')).toHaveText(other.url);
    await expect(app.page.getByTestId('model.note')).toContainText('3 layers');
  } finally {
    await new Promise<void>((r) => { redirect.closeAllConnections(); redirect.close(() => r()); });
    await other.close();
  }
});

test('text typed while the app starts is kept, not replaced by the preset (issue 14 item 1)', async ({ app }) => {
  await app.open();
  // At once, before the engine and the default model are up.
  await app.editor.field('Clean prompt').fill('typed while loading');
  await app.ready();
  await app.page.waitForTimeout(500);
  await expect(app.editor.field('Clean prompt')).toHaveValue('typed while loading');
});

test('a confirmed link whose model fails to load changes nothing', async ({ app }) => {
  await app.open();
  await app.ready();
  await app.editor.fill({ 'Clean prompt': 'my own clean prompt' });
  const fragment = link({ tab: 'residual', family: 'resid_pre', normalised: false }, { kind: 'url', url: `${server.url}/missing/` });
  await app.page.evaluate((f) => { location.hash = f; }, fragment);
  await app.page.getByTestId('permalink.confirm.yes').click();
  await expect(app.model.error).toContainText('404');
  await expect(app.model.status).toHaveText(/ready/);
  await expect(app.editor.field('Clean prompt')).toHaveValue('my own clean prompt');
});
