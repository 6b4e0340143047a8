// Permalinks: copy, reopen in a fresh browser context (fresh storage), recompute the same numbers; a damaged link
// shows the codec's message and changes nothing; a link naming a model URL asks before fetching anything.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodePermalink } from '../src/state/permalink';
import type { ExperimentSpec } from '../src/engine/patching/types';
import { reopenLink } from './pages';
import { expect, test } from './fixtures';

test('copy a link, reopen it in a fresh page: same experiment, view and selected cell, recomputed @webgpu', async ({ app, browser, backend }, testInfo) => {
  await app.page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await app.open();
  await app.ready();
  await app.editor.preset('toy-induction');
  await app.editor.fill({ 'Wrong answer': ' gold' });
  await app.editor.run();
  await app.results.tab('residual').click();
  await app.results.cell('attn_out', 1, 15).click();
  const value = await app.results.activationValue();
  await app.page.getByTestId('view.normalised').check();
  await app.page.getByTestId('permalink.copy').click();
  await expect(app.page.getByTestId('permalink.status')).toHaveText('Link copied.');
  const link = await app.page.evaluate(() => navigator.clipboard.readText());
  expect(link).toMatch(/#v1\.[A-Za-z0-9_-]+$/);
  expect(app.page.url()).toBe(link);
  const first = (await app.lastResult())!;

  await reopenLink(browser, backend, link, async (other) => {
    await expect(other.results.activation).toHaveAttribute('data-value', /\d/, { timeout: 60_000 });
    const state = (await other.page.evaluate(() => window.patchwork!.state())) as { spec: ExperimentSpec; selected: unknown; view: { tab: string; normalised: boolean } };
    expect(state.spec.pairs[0].wrong).toBe(' gold');
    expect(state.selected).toEqual({ family: 'attn_out', index: [1, 15] });
    expect(state.view).toMatchObject({ tab: 'residual', normalised: true });
    await expect(other.page.getByTestId('view.normalised')).toBeChecked();
    await expect(other.page.getByTestId('tab.residual')).toHaveAttribute('aria-selected', 'true');
    const second = (await other.lastResult())!;
    expect(second.metric).toEqual(first.metric);
    expect(second.attribution.attn_out.data).toEqual(first.attribution.attn_out.data);
    expect(second.patched.attn_out.data[16 + 15]).toBe(value);
    await other.snapshot(testInfo, `reopened-${backend}`);
  });
});

// One page for two flows after a Run of the toy induction preset (each used to open the app and run it).
test('the attention view\'s mode survives reopening the page\'s link; a damaged link says so and keeps what the user had', async ({ app, browser, backend }) => {
  test.setTimeout(240_000);
  await test.step('the attention view\'s mode survives reopening the page\'s link', async () => {
    await app.open();
    await app.ready();
    await app.editor.preset('toy-induction');
    await app.editor.run();
    await app.results.tab('attention').click();
    const before = app.page.url();
    await app.page.getByTestId('attention.mode.clean').check();
    // The address bar follows the view, so it is the link to reopen.
    await expect.poll(() => app.page.url()).not.toBe(before);

    await reopenLink(browser, backend, app.page.url(), async (other) => {
      await expect(other.page.getByTestId('attention.mode.clean')).toBeChecked({ timeout: 60_000 });
      await expect(other.page.getByTestId('tab.attention')).toHaveAttribute('aria-selected', 'true');
      const view = await other.page.evaluate(() => (window.patchwork!.state() as { view: unknown }).view);
      expect(view).toMatchObject({ tab: 'attention', attentionMode: 'clean', perPosition: false });
    });
  });

  await test.step('a damaged link says so and keeps what the user had', async () => {
    // The run is the one above (the toy induction preset); the separate test ran it afresh.
    const runId = (await app.lastResult())!.runId;
    const before = await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec);
    // Pasted into the address bar of the open app.
    await app.page.evaluate(() => { location.hash = '#v1.bm90IGEgcmVhbCBsaW5r'; });
    await expect(app.page.getByTestId('notice')).toContainText('This link is damaged');
    await expect(app.page.getByTestId('notice')).toContainText('Nothing was loaded from it.');
    expect(await app.page.evaluate(() => (window.patchwork!.state() as { spec: unknown }).spec)).toEqual(before);
    expect((await app.lastResult())!.runId).toBe(runId);

    // Opened fresh: the message, and the default offline model with its preset.
    await app.page.goto(app.url('#v2.abc'));
    await app.ready();
    await expect(app.page.getByTestId('notice')).toContainText('newer Patchwork');
    await expect(app.model.picker).toHaveValue('toy-induction');
  });
});

test('a link that names a model URL asks before downloading anything', async ({ app }) => {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/some-model/`;
    const fragment = encodePermalink({
      model: { kind: 'url', url },
      experiment: {
        pairs: [{ clean: ' cat dog', corrupted: ' cat fish', answer: ' bird', wrong: ' cow' }],
        metric: { name: 'logit_diff' },
        direction: 'denoising',
        options: { freezeLayerNorm: false, freezeAttention: false },
        prependBos: true,
      },
      view: { tab: 'residual', family: 'resid_pre', normalised: false },
    });
    await app.open(fragment);
    await expect(app.page.getByTestId('permalink.confirm')).toContainText(url);
    await app.page.waitForTimeout(500);
    expect(requests).toEqual([]);
    await app.page.getByTestId('permalink.confirm.no').click();
    await app.ready();
    await expect(app.model.picker).toHaveValue('toy-induction');
    expect(requests).toEqual([]);
  } finally {
    server.close();
  }
});
