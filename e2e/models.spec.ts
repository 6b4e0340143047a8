// Models: a folder served by the test (custom URL) with progress, cancel and retry; files picked from disk; a hub
// download that fails verification leaves no cache entry. Random checkpoints are written by the test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TINY_GPT2_CONFIG } from '../src/engine/model/checkpoint';
import { loadModelFromDir, writeRandomCheckpoint } from '../src/engine/model/weights-node';
import { PatchingEngine } from '../src/engine/patching';
import type { ExperimentSpec } from '../src/engine/patching/types';
import { createNodeRuntime } from '../src/engine/runtime/node';
import { compareArrays, expect, test } from './fixtures';
import { serveModels, type ModelServer } from './model-server';

let root: string;
let server: ModelServer;
const CFG = { ...TINY_GPT2_CONFIG, name: 'three-layers', nLayers: 3, nCtx: 64 };

test.beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'patchwork-e2e-models-'));
  await writeRandomCheckpoint(join(root, 'three-layers'), CFG, 11);
  server = await serveModels(root, { slowChunk: 128 * 1024, slowDelayMs: 40 });
});

test.afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});


test('load a model from a URL served by the test: progress, cancel, retry, run; numbers equal onnxruntime-node', async ({ app }, testInfo) => {
  await app.open();
  await app.ready();

  // Slow first: the progress bar shows bytes, percent and speed; Cancel leaves an error with Retry.
  await app.model.loadUrl(`${server.url}/slow/three-layers/`);
  await expect(app.model.progress).toBeVisible();
  await expect(app.page.getByTestId('model.progress.bytes')).toHaveText(/^[\d.]+ (kB|MB) \/ 13\.\d MB · \d+% · [\d.]+ (kB|MB)\/s$/, { timeout: 20_000 });
  await app.snapshot(testInfo, 'model-progress');
  await app.page.getByTestId('model.cancel').click();
  await expect(app.model.error).toContainText('Download cancelled');
  // A cancelled load changes nothing: the model that was loaded before stays (issue 16).
  expect(await app.page.evaluate(() => window.patchwork!.ready())).toBe(true);
  await expect(app.model.picker.locator('option:checked')).toHaveText('Toy induction (offline)');

  await app.page.getByTestId('model.retry').click();
  await app.model.waitReady();
  await expect(app.page.getByTestId('model.note')).toContainText('3 layers × 4 heads');

  // A URL model gets the GPT-2 presets; run IOI on it and check against the same folder in onnxruntime-node.
  await expect(app.page.getByTestId('preset.ioi')).toBeVisible();
  await app.editor.preset('ioi');
  await app.editor.run();
  await app.results.tab('residual').click();
  await expect(app.results.heatmapCells('resid_pre')).toHaveCount(3 * 15);
  const result = (await app.lastResult())!;
  const spec = (await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec)) as ExperimentSpec;
  const { config, weights } = await loadModelFromDir(join(root, 'three-layers'));
  const engine = await PatchingEngine.create(createNodeRuntime({ threads: 1 }), config, weights);
  try {
    const ref = await engine.attribute(engine.resolve(spec), { families: ['resid_pre', 'head_out_all_pos'] });
    const scale = Math.max(Math.abs(ref.metric.clean), Math.abs(ref.metric.corrupted));
    for (const f of ['resid_pre', 'head_out_all_pos'] as const) {
      const c = compareArrays(result.attribution[f].data, ref.values[f]!.data, { scale });
      expect(c.ok, `${f}: ${JSON.stringify(c)}`).toBe(true);
    }
  } finally {
    await engine.dispose();
  }

  // A long sweep can be cancelled; what was computed stays marked.
  await app.results.tab('heads').click();
  await app.page.getByTestId('view.perPosition').check();
  await app.page.getByTestId('sweep.start').click();
  await expect(app.page.getByTestId('sweep.progress')).toBeVisible();
  await app.page.getByTestId('sweep.cancel').click();
  await expect(app.page.getByTestId('sweep.progress')).toHaveCount(0);
  const after = (await app.lastResult())!;
  const computed = Object.values(after.patched).flatMap((l) => l.data).filter((v) => v !== null).length;
  const total = ['head_out_all_pos', 'q', 'k', 'v', 'pattern', 'head_out'].reduce((n, f) => n + after.attribution[f].data.length, 0);
  expect(computed).toBeLessThan(total);
});

test('load config.json + model.safetensors picked from disk', async ({ app }) => {
  await app.open();
  await app.ready();
  await app.model.root.getByText('Local files or a URL').click();
  await app.model.loadFiles([join(root, 'three-layers', 'config.json'), join(root, 'three-layers', 'model.safetensors')]);
  await app.model.waitReady();
  await expect(app.model.picker.locator('option:checked')).toHaveText('model (local files)');
  await expect(app.page.getByTestId('model.note')).toContainText('Local files · 3 layers × 4 heads');
  await app.editor.run();
  await app.results.tab('heads').click();
  await expect(app.results.heatmapCells('head_out_all_pos')).toHaveCount(3 * 4);

  // Only one of the two files: says which is missing.
  await app.model.loadFiles([join(root, 'three-layers', 'config.json')]);
  await expect(app.page.getByTestId('model.local.error')).toContainText('model.safetensors is missing');
});

test('a hub download that fails verification is refused, offers Retry, and caches nothing', async ({ app, context }) => {
  // The hub is unreachable from test machines: answer for it with a body of the wrong size.
  let calls = 0;
  await context.route('https://huggingface.co/**', async (route) => {
    calls++;
    const url = route.request().url();
    if (url.endsWith('/config.json')) return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ model_type: 'gpt2', n_layer: 12, n_head: 12, n_embd: 768, n_positions: 1024, vocab_size: 50257 }) });
    return route.fulfill({ status: 200, contentType: 'application/octet-stream', body: Buffer.alloc(4096) });
  });
  await app.open();
  await app.ready();
  await app.model.picker.selectOption('gpt2');
  await expect(app.model.error).toContainText('is 4096 bytes, expected 548105171: the download is incomplete or damaged. Retry.');
  await expect(app.page.getByTestId('model.retry')).toBeVisible();
  const keys = await app.page.evaluate(async () => (await (await caches.open('patchwork-models-v1')).keys()).length);
  expect(keys).toBe(0);
  await expect(app.model.picker.locator('option[value="gpt2"]')).not.toContainText('cached');

  await app.page.getByTestId('model.retry').click();
  await expect(app.model.error).toContainText('expected 548105171');
  expect(calls).toBe(4);
});
