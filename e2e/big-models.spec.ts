// GPT-2 Large and XL in the picker (issue 15 item 3): listed with their float32 and float16 weight sizes, and
// refused with the figures where memory is short BEFORE anything is downloaded (the model's config is known ahead:
// engine/model/config.ts knownHubConfig). On wasm both pass the 4 GiB heap, so the refusal is certain here; the hub
// is routed and counted, so the test fails if the app starts a download first.
import { expect, test } from './fixtures';

test('GPT-2 Large and XL are listed with their sizes, and refused on wasm before any download', async ({ app, context }) => {
  // Untagged: runs on the wasm project only (playwright.config.ts), whose heap limit refuses both models.
  const hub: string[] = [];
  await context.route('https://huggingface.co/**', async (route) => {
    hub.push(route.request().url());
    return route.fulfill({ status: 404 });
  });
  await app.open();
  await app.ready();
  await expect(app.model.picker.locator('option[value="gpt2-large"]')).toHaveText('GPT-2 Large · 3.1 GB f32 · 1.5 GB f16');
  await expect(app.model.picker.locator('option[value="gpt2-xl"]')).toHaveText('GPT-2 XL · 6.2 GB f32 · 3.1 GB f16');

  for (const [id, name] of [['gpt2-xl', 'gpt2-xl \\(1558M parameters, 5,942 MB'], ['gpt2-large', 'gpt2-large \\(774M parameters, 2,953 MB']] as const) {
    await app.model.picker.selectOption(id);
    await expect(app.model.error).toContainText(new RegExp(`${name} of float32 weights\\) does not fit the wasm backend: it needs about [\\d,]+ MB in onnxruntime's heap, which cannot grow past 4,096 MB\\. Try WebGPU or a smaller model\\.`));
  }
  expect(hub).toEqual([]);
  // The previous model stays loaded.
  await expect(app.model.status).toHaveText(/ready/);
});
