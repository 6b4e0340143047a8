// Issue 14, reproductions 5 and 6. Offline (the hub routed to a network failure), choosing GPT-2 Small or opening a
// GPT-2 link says so in a short message that fits the sidebar, with Retry inside it, and the Run area does not keep
// "waiting for the model". Presets for another model offer to switch to it; used anyway, they are marked; inputs that
// can only give zeros (identical prompts, answer == wrong answer) are named before Run.
import type { Locator, Page } from '@playwright/test';
import { encodePermalink } from '../src/state/permalink';
import { ioiPairs, toyIoiPairs } from '../src/ui/presets';
import { expect, test } from './fixtures';

const offline = (page: Page) => page.route(/^https:\/\/huggingface\.co\//, (route) => route.abort('internetdisconnected'));

/** `inner` lies inside `outer` horizontally and vertically (1 px of rounding allowed). */
async function expectInside(inner: Locator, outer: Locator) {
  const a = (await inner.boundingBox())!;
  const b = (await outer.boundingBox())!;
  expect(a.x).toBeGreaterThanOrEqual(b.x - 1);
  expect(a.y).toBeGreaterThanOrEqual(b.y - 1);
  expect(a.x + a.width).toBeLessThanOrEqual(b.x + b.width + 1);
  expect(a.y + a.height).toBeLessThanOrEqual(b.y + b.height + 1);
}

async function expectReadableError(page: Page) {
  const error = page.getByTestId('model.error');
  await expect(error).toBeVisible({ timeout: 60_000 });
  const summary = page.getByTestId('model.error.summary');
  await expect(summary).toContainText('GPT-2 Small could not be downloaded: the Hugging Face hub cannot be reached');
  expect(await summary.innerText()).not.toMatch(/https?:\/\//);
  // Nothing cut off: the message wraps inside its box, and the box and Retry sit inside the model panel and sidebar.
  expect(await error.evaluate((e) => e.scrollWidth <= e.clientWidth + 1)).toBe(true);
  await expectInside(error, page.getByTestId('model.panel'));
  await expectInside(page.getByTestId('model.retry'), page.getByTestId('model.panel'));
  await expectInside(page.getByTestId('model.panel'), page.locator('.pw-side'));
}

test('offline: choosing GPT-2 Small gives a short message inside the sidebar; the toy model stays and Run works', async ({ app }, testInfo) => {
  await app.open();
  await app.ready();
  await offline(app.page);
  await app.model.picker.selectOption('gpt2');
  await expectReadableError(app.page);
  await expect(app.page.getByTestId('model.error.summary')).toContainText('Toy induction (offline) is still loaded.');
  await expect(app.page.getByTestId('run.status')).not.toContainText('waiting for the model');
  await expect(app.editor.runButton).toBeEnabled();
  await app.snapshot(testInfo, 'offline-gpt2-choice');
});

test('offline: a GPT-2 link says the hub cannot be reached and the Run area says no model is loaded', async ({ app }, testInfo) => {
  await offline(app.page);
  await app.open(encodePermalink({
    model: { kind: 'builtin', id: 'gpt2' },
    experiment: { pairs: [ioiPairs()[0]], metric: { name: 'logit_diff' }, direction: 'denoising', options: { freezeLayerNorm: false, freezeAttention: false }, prependBos: true },
    view: { tab: 'residual', family: 'resid_pre', normalised: false },
  }));
  await expectReadableError(app.page);
  await expect(app.page.getByTestId('run.status')).toHaveText('No model is loaded: see Model above (Retry, or choose another).');
  await app.snapshot(testInfo, 'offline-gpt2-link');
});

test('presets for another model: offered with their model (switch loads it), marked when used anyway', async ({ app }) => {
  await app.open();
  await app.ready();
  await app.editor.preset('toy-induction');
  const state = () => app.page.evaluate(() => window.patchwork!.state() as { spec: { pairs: unknown[] }; presetId: string; model: { choice: { id?: string }; status: string } });
  const before = (await state()).spec;

  // A GPT-2 preset on the toy model: nothing is replaced until the user says so.
  await app.page.getByTestId('preset.others').selectOption('ioi');
  const offer = app.page.getByTestId('preset.offer');
  await expect(offer).toContainText('“IOI (8 pairs)” is made for GPT-2 Small, and Toy induction (offline) is loaded');
  await expect(offer.getByTestId('preset.offer.switch')).toHaveText('Switch to GPT-2 Small');
  expect((await state()).spec).toEqual(before);
  await offer.getByTestId('preset.offer.anyway').click();
  expect((await state()).spec.pairs).toEqual(ioiPairs());
  await expect(app.page.getByTestId('preset.lookfor.other')).toHaveText('Made for GPT-2 Small, not the model loaded:');
  // The toy model never saw most of GPT-2's words: the editor names them.
  await expect(app.page.getByTestId('tokens.untrained')).toContainText('never saw');

  // A toy-IOI preset: Switch loads the toy IOI model, then the preset.
  await app.page.getByTestId('preset.others').selectOption('toy-ioi');
  await app.page.getByTestId('preset.offer.switch').click();
  await expect(offer).toHaveCount(0);
  await app.page.waitForFunction(() => {
    const s = window.patchwork!.state() as { presetId: string; model: { status: string; choice: { id?: string } } };
    return s.model.status === 'ready' && s.model.choice.id === 'toy-ioi' && s.presetId === 'toy-ioi';
  }, null, { timeout: 60_000 });
  expect((await state()).spec.pairs).toEqual(toyIoiPairs());
  await expect(app.page.getByTestId('preset.lookfor.other')).toHaveCount(0);
});

test('identical prompts and answer == wrong answer are named before Run (they can only give zeros)', async ({ app }) => {
  await app.open();
  await app.ready();
  await app.editor.preset('toy-induction');
  await expect(app.page.getByTestId('experiment.warnings')).toHaveCount(0);
  const clean = await app.editor.field('Clean prompt').inputValue();
  await app.editor.fill({ 'Corrupted prompt': clean });
  await expect(app.page.getByTestId('experiment.warnings')).toContainText('The clean and corrupted prompts are identical');
  const answer = await app.editor.field('Answer').inputValue();
  await app.editor.fill({ 'Wrong answer': answer });
  await expect(app.page.getByTestId('experiment.warnings')).toContainText('The answer and wrong answer are the same token');
});
