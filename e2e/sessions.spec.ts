// Sessions that outlive a prompt (issue 15): after a Run and a click, a prompt of a length never seen before runs
// and patches on the sessions already created (counted through window.patchwork.sessionsCreated).
import { expect, test } from './fixtures';

test('a second prompt of a new length creates no onnxruntime session', async ({ app }) => {
  test.setTimeout(300_000); // two Runs and two clicks; on a shared 2-core machine the first Run waits for the prewarm
  await app.open();
  await app.ready();
  const sessions = () => app.page.evaluate(() => window.patchwork!.sessionsCreated());
  const runAndClick = async () => {
    await app.editor.run();
    const r = (await app.lastResult())!;
    const last = r.tokens.length - 1;
    return { tokens: r.tokens, patch: await app.page.evaluate((p) => window.patchwork!.patchValue('head_out', [0, 0, p]), last) };
  };

  await app.editor.fill({ 'Clean prompt': ' cat dog bird', 'Corrupted prompt': ' cat horse bird', Answer: ' fish', 'Wrong answer': ' cow' });
  const first = await runAndClick();
  expect(first.tokens).toHaveLength(4);
  expect(Number.isFinite(first.patch)).toBe(true);
  const created = await sessions();
  expect(created).toBeGreaterThan(0);

  await app.editor.fill({ 'Clean prompt': ' cat dog bird fish tea', 'Corrupted prompt': ' cat horse bird fish tea', Answer: ' dog', 'Wrong answer': ' cow' });
  const second = await runAndClick();
  expect(second.tokens).toHaveLength(6);
  expect(Number.isFinite(second.patch)).toBe(true);
  expect(await sessions()).toBe(created);
});
