// Cross-origin isolation (issue 15 part 2): the built app as `npm run preview` serves it is isolated, so
// onnxruntime-web runs wasm on every core (up to 8); a static host without headers gets there through the
// vendored service worker; downloads from other origins still work under COEP require-corp.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { TINY_GPT2_CONFIG } from '../src/engine/model/checkpoint';
import { writeRandomCheckpoint } from '../src/engine/model/weights-node';
import type { PatchingEngine } from '../src/engine/patching';
import type { ExperimentSpec } from '../src/engine/patching/types';
import { compareArrays, expect, test } from './fixtures';
import { serveModels } from './model-server';
import type { AppPage } from './pages';
import { serveStatic } from './static-server';

interface BackendState { active: string; threads: number; isolated: boolean }
const backendState = (page: Page) => page.evaluate(() => (window.patchwork!.state() as { backend: BackendState }).backend);

/** Runs the toy induction preset and checks its resid_pre attribution against onnxruntime-node. */
async function runToyPreset(app: AppPage, reference: PatchingEngine): Promise<void> {
  await app.editor.preset('toy-induction');
  await app.editor.run();
  const result = (await app.lastResult())!;
  const nPos = result.tokens.length;
  await app.results.tab('residual').click();
  await expect(app.results.heatmapCells('resid_pre')).toHaveCount(result.attribution.resid_pre.shape[0] * nPos);
  const spec = (await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec)) as ExperimentSpec;
  const ref = await reference.attribute(reference.resolve(spec), { families: ['resid_pre'], mode: 'patch' });
  const c = compareArrays(result.attribution.resid_pre.data, ref.values.resid_pre!.data, { scale: Math.abs(ref.metric.clean) });
  expect(c.ok, JSON.stringify(c)).toBe(true);
}

test('the built app is cross-origin isolated and runs wasm on every core', async ({ app, reference }) => {
  const response = await app.page.goto(app.url());
  expect(response!.headers()['cross-origin-opener-policy']).toBe('same-origin');
  expect(response!.headers()['cross-origin-embedder-policy']).toBe('require-corp');
  await app.ready();
  expect(await app.page.evaluate(() => crossOriginIsolated)).toBe(true);
  const cores = await app.page.evaluate(() => navigator.hardwareConcurrency);
  const b = await backendState(app.page);
  expect(b).toMatchObject({ active: 'wasm', isolated: true, threads: Math.min(8, cores) });
  // Headless Chromium here reports 2 cores; a machine with one core could not show threads at all.
  expect(b.threads).toBeGreaterThan(1);
  await expect(app.page.getByTestId('backend.threads')).toHaveText(`${b.threads} threads`);
  await runToyPreset(app, reference);
});

test('?threads=N sets the wasm threads; a bad value is named and the default kept', async ({ app }) => {
  await app.page.goto(`${app.url()}&threads=1`);
  await app.ready();
  expect((await backendState(app.page)).threads).toBe(1);
  await expect(app.page.getByTestId('backend.threads')).toHaveText('1 thread');
  await app.editor.preset('toy-induction');
  await app.editor.run();

  await app.page.goto(`${app.url()}&threads=lots`);
  await app.ready();
  const cores = await app.page.evaluate(() => navigator.hardwareConcurrency);
  await expect(app.page.getByTestId('notice')).toContainText(`threads=lots is not a whole number of at least 1; using ${Math.min(8, cores)}.`);
  expect((await backendState(app.page)).threads).toBe(Math.min(8, cores));
});

test('a model from another origin loads under COEP require-corp (CORS), with the preview headers', async ({ app }) => {
  const root = await mkdtemp(join(tmpdir(), 'patchwork-coep-'));
  await writeRandomCheckpoint(join(root, 'tiny'), { ...TINY_GPT2_CONFIG, name: 'tiny', nCtx: 32 }, 3);
  const models = await serveModels(root);
  try {
    await app.open();
    await app.ready();
    await app.model.loadUrl(`${models.url}/tiny/`);
    await app.model.waitReady();
    await expect(app.page.getByTestId('model.note')).toContainText('2 layers');
    expect(await app.page.evaluate(() => crossOriginIsolated)).toBe(true);
  } finally {
    await models.close();
    await rm(root, { recursive: true, force: true });
  }
});

test('a static host without headers: the service worker isolates the page, which then runs on threads', async ({ app, reference }) => {
  // A reload, the toy run and two model loads: on the shared 2-core machine this passed 120 s once.
  test.setTimeout(300_000);
  const host = await serveStatic(join(process.cwd(), 'dist'));
  const root = await mkdtemp(join(tmpdir(), 'patchwork-static-'));
  await writeRandomCheckpoint(join(root, 'tiny'), { ...TINY_GPT2_CONFIG, name: 'tiny', nCtx: 32 }, 3);
  const models = await serveModels(root);
  // A model URL that redirects to another origin: the worker behind the service worker must still see the redirect.
  const redirect: Server = createServer((req, res) => {
    res.setHeader('access-control-allow-origin', '*');
    res.writeHead(302, { location: `${models.url}${req.url}` }).end();
  });
  await new Promise<void>((r) => redirect.listen(0, '127.0.0.1', r));
  try {
    const response = await app.page.goto(`${host.url}/?backend=wasm`);
    expect(response!.headers()['cross-origin-embedder-policy']).toBeUndefined();
    // The first visit registers the service worker and reloads once; the reloaded page is isolated.
    await expect.poll(() => app.page.evaluate(() => crossOriginIsolated).catch(() => false), { timeout: 30_000 }).toBe(true);
    expect(await app.page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(`${host.url}/coi-serviceworker.js`);
    await app.ready();
    const b = await backendState(app.page);
    expect(b.isolated).toBe(true);
    expect(b.threads).toBeGreaterThan(1);
    await runToyPreset(app, reference);

    await app.model.loadUrl(`http://127.0.0.1:${(redirect.address() as AddressInfo).port}/tiny/`);
    await expect(app.page.getByTestId('model.redirect.confirm')).toBeVisible();
    await expect(app.page.getByTestId('model.redirect.to')).toHaveText(models.url);
    await app.page.getByTestId('model.redirect.yes').click();
    await app.model.waitReady();
    await expect(app.page.getByTestId('model.note')).toContainText('2 layers');
    expect([...host.headers].filter((h) => h.startsWith('cross-origin'))).toEqual([]);
  } finally {
    await new Promise<void>((r) => { redirect.closeAllConnections(); redirect.close(() => r()); });
    await models.close();
    await host.close();
    await rm(root, { recursive: true, force: true });
  }
});
