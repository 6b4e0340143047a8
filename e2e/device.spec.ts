// A lost GPU device (driver reset, GPU process crash) is recovered: a fresh worker, a fresh device, the model
// reloaded, the user told; the numbers afterwards are the same.
import { expect, test } from './fixtures';

test('the app recovers from a lost WebGPU device @webgpu-only', async ({ app }, testInfo) => {
  await app.open();
  await app.ready();
  await app.editor.preset('toy-induction');
  await app.editor.run();
  const before = (await app.lastResult())!;

  expect(await app.page.evaluate(() => window.patchwork!.loseDevice())).toBe(true);
  await expect(app.page.getByTestId('notice')).toContainText('The GPU device was lost', { timeout: 30_000 });
  await expect(app.page.getByTestId('notice')).toContainText('the engine restarted and the model was reloaded', { timeout: 90_000 });
  await app.ready();
  await expect(app.page.getByTestId('backend.active')).toHaveText('WebGPU');
  await app.snapshot(testInfo, 'device-recovered');

  await app.editor.run();
  const after = (await app.lastResult())!;
  expect(after.metric.clean).toBeCloseTo(before.metric.clean, 5);
  expect(after.attribution.resid_pre.data).toEqual(before.attribution.resid_pre.data);
});

test('the backend switch in the header restarts the engine on the other backend @webgpu-only', async ({ app }) => {
  await app.open();
  await app.ready();
  await app.page.getByTestId('backend.switch').selectOption('wasm');
  await expect(app.page.getByTestId('backend.active')).toHaveText('wasm');
  await app.ready();
  await app.editor.preset('toy-induction');
  await app.editor.run();
  expect(await app.page.evaluate(() => window.patchwork!.backend())).toBe('wasm');
});
