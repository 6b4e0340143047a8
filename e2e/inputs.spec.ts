// Bad inputs show specific messages next to the field, before anything runs, and nothing runs.
import { expect, test } from './fixtures';


test('unequal token counts, multi-token answers, too long, empty: each says what is wrong', async ({ app }, testInfo) => {
  await app.open();
  await app.ready();
  const { editor } = app;

  // Empty: quiet while typing, named once Run is pressed (and from then on, as you type).
  await editor.fill({ 'Clean prompt': '' });
  await expect(editor.issue('clean')).toHaveCount(0);
  await editor.runButton.click();
  await expect(editor.issue('clean')).toContainText('The clean prompt is empty.');
  expect(await app.lastResult()).toBeNull();

  // Unequal token counts: both tokenisations are shown, and the chips say the lengths differ.
  await editor.fill({ 'Clean prompt': ' cat dog bird', 'Corrupted prompt': ' cat octopus bird', Answer: ' fish', 'Wrong answer': ' cow' });
  const corrupted = editor.issue('corrupted');
  await expect(corrupted).toContainText('clean prompt is 4 tokens and the corrupted prompt 5');
  await expect(corrupted).toContainText('clean:     <|endoftext|> | ·cat | ·dog | ·bird');
  await expect(corrupted).toContainText('corrupted: <|endoftext|> | ·cat | ·oct | opus | ·bird');
  await expect(editor.field('Corrupted prompt')).toHaveAttribute('aria-invalid', 'true');
  await expect(app.page.getByTestId('tokens.summary')).toContainText('lengths differ');

  // Multi-token answers, with the pieces named; a missing leading space is pointed out.
  await editor.fill({ 'Corrupted prompt': ' cat horse bird', Answer: ' hippopotamus', 'Wrong answer': 'Mary' });
  await expect(editor.issue('corrupted')).toHaveCount(0);
  await expect(editor.issue('answer')).toContainText('" hippopotamus" is 3 tokens (·hipp | opot | amus); the answer must be a single token');
  await expect(editor.issue('wrong')).toHaveCount(0); // "Mary" is one token; fine as it is
  await editor.fill({ 'Wrong answer': 'octopus' });
  await expect(editor.issue('wrong')).toContainText('is 2 tokens');
  await app.snapshot(testInfo, 'input-issues');

  // Run refuses while anything is wrong.
  await editor.runButton.click();
  await expect(editor.issues).toBeVisible();
  expect(await app.lastResult()).toBeNull();

  // Too long for the model's context.
  const nCtx = await app.page.evaluate(() => (window.patchwork!.state() as { model: { config: { nCtx: number } } }).model.config.nCtx);
  const long = ' cat'.repeat(nCtx + 5);
  await editor.fill({ 'Clean prompt': long, 'Corrupted prompt': long, Answer: ' fish', 'Wrong answer': ' cow' });
  await expect(editor.issue('clean')).toContainText(`clean prompt is ${nCtx + 6} tokens; toy-induction reads at most ${nCtx}`);

  // Fixed: it runs.
  await editor.fill({ 'Clean prompt': ' cat dog bird', 'Corrupted prompt': ' cat horse bird' });
  await expect(editor.issues).toHaveCount(0);
  await editor.run();
  expect((await app.lastResult())!.tokens).toEqual(['<|endoftext|>', '·cat', '·dog', '·bird']);
});

test('on a toy model, words it was never trained on are marked and named; its presets have none', async ({ app }, testInfo) => {
  await app.open();
  await app.ready();
  await app.editor.preset('toy-induction');
  await expect(app.page.getByTestId('tokens.untrained')).toHaveCount(0);
  await app.editor.fill({ 'Clean prompt': ' cat dog hello cat', 'Corrupted prompt': ' cat dog bird cat', Answer: ' dog', 'Wrong answer': ' tea' });
  const note = app.page.getByTestId('tokens.untrained');
  await expect(note).toContainText('never saw "·hello": its');
  await expect(app.page.locator('.pw-chip-untrained')).toHaveCount(1); // ·hello in the clean row
  // What was typed stays as typed.
  await expect(app.editor.field('Clean prompt')).toHaveValue(' cat dog hello cat');
  await app.snapshot(testInfo, 'untrained-tokens');
});
