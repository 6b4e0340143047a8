// Screenshots of every view at 1024, 1440 and 1920 px (issue 14's acceptance), kept in artefacts/screenshots/
// (gitignored), each checked for overflow: no figure wider than its view, no button outside the viewport or its
// scroll container, no horizontal scroll of the page. `npm run screenshots` runs only this file.
import { mkdir } from 'node:fs/promises';
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';

const WIDTHS = [1024, 1440, 1920];
const TABS = ['residual', 'heads', 'scatter', 'attention', 'circuit', 'inspect', 'neurons'] as const;
/** Views that compute when opened: what shows they are drawn. */
const READY: Partial<Record<(typeof TABS)[number], string>> = { inspect: 'inspect.dla.row', neurons: 'neurons.row' };
const DIR = 'artefacts/screenshots';

/** Everything that overflows: figures past their view, buttons/selects past the viewport or a clipping ancestor. */
function overflows(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const bad: string[] = [];
    const vw = document.documentElement.clientWidth;
    const name = (e: Element) => e.getAttribute('data-testid') ?? e.getAttribute('aria-label') ?? (e.textContent ?? '').trim().slice(0, 30) ?? e.tagName;
    if (document.documentElement.scrollWidth > vw + 1) bad.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${vw}`);
    const view = document.querySelector('.pw-view');
    const vr = view?.getBoundingClientRect();
    for (const f of Array.from(document.querySelectorAll('.pw-figure'))) {
      const r = f.getBoundingClientRect();
      if (vr && (r.left < vr.left - 1 || r.right > vr.right + 1)) bad.push(`figure ${name(f)} [${r.left}, ${r.right}] outside its view [${vr.left}, ${vr.right}]`);
    }
    // Every control: inside the viewport horizontally, and inside each ancestor that clips (overflow not visible).
    for (const b of Array.from(document.querySelectorAll('button, select, input[type="checkbox"], input[type="radio"]'))) {
      const r = b.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue; // not rendered
      if (r.left < -1 || r.right > vw + 1) bad.push(`control ${name(b)} [${r.left}, ${r.right}] outside the ${vw} px viewport`);
      for (let a = b.parentElement; a && a !== document.body; a = a.parentElement) {
        const s = getComputedStyle(a);
        if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
        const ar = a.getBoundingClientRect();
        // A scroll container may hold a control out of view (it scrolls to it); one that hides overflow must not.
        const scrolls = /auto|scroll/.test(s.overflowX + s.overflowY);
        if (!scrolls && (r.left < ar.left - 1 || r.right > ar.right + 1)) bad.push(`control ${name(b)} clipped by ${a.className}`);
        break;
      }
    }
    // Text of figure captions is never cut: each caption fits its figure.
    for (const c of Array.from(document.querySelectorAll('.pw-figure figcaption'))) {
      if (c.scrollWidth > c.clientWidth + 1) bad.push(`caption ${name(c.closest('figure')!)} overflows (${c.scrollWidth} > ${c.clientWidth})`);
    }
    return bad;
  });
}

test('screenshots of every view at 1024, 1440 and 1920 px, with nothing overflowing', async ({ app }) => {
  test.setTimeout(600_000); // 21 views; about a minute on a quiet machine
  await mkdir(DIR, { recursive: true });
  await app.open();
  await app.ready();
  await app.editor.run();
  // A few exact patches so the legends, dots and the scatter have something to show.
  await app.results.sweep();
  const problems: string[] = [];
  for (const width of WIDTHS) {
    await app.page.setViewportSize({ width, height: 900 });
    for (const tab of TABS) {
      await app.page.getByTestId(`tab.${tab}`).click();
      await expect(app.page.locator('.pw-view[role="tabpanel"]')).toBeVisible();
      const ready = READY[tab];
      if (ready) await expect(app.page.getByTestId(ready).first()).toBeVisible({ timeout: 60_000 });
      await app.page.waitForTimeout(tab === 'scatter' ? 800 : 150); // plotly draws after it loads
      await app.page.screenshot({ path: `${DIR}/${tab}-${width}.png`, fullPage: true });
      problems.push(...(await overflows(app.page)).map((p) => `${tab} @ ${width}px: ${p}`));
    }
  }
  expect(problems).toEqual([]);
});
