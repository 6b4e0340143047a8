// Page objects for the main panels: tests say what they do ("run the preset", "click this cell"), not how.
import { expect, type Browser, type Locator, type Page } from '@playwright/test';
import type { Family } from '../src/engine/patching/types';
import type { PatchworkTestApi } from '../src/ui/test-api';

export type Backend = 'wasm' | 'webgpu';
type Field = 'Clean prompt' | 'Corrupted prompt' | 'Answer' | 'Wrong answer';

export class ModelPanel {
  constructor(private readonly page: Page) {}
  get root(): Locator { return this.page.getByTestId('model.panel'); }
  get picker(): Locator { return this.page.getByTestId('model.picker'); }
  get progress(): Locator { return this.page.getByTestId('model.progress'); }
  get error(): Locator { return this.page.getByTestId('model.error'); }
  get status(): Locator { return this.page.getByTestId('model.status'); }

  async loadUrl(url: string): Promise<void> {
    await this.root.getByText('Local files or a URL').click();
    await this.page.getByTestId('model.url').fill(url);
    await this.page.getByTestId('model.url.load').click();
  }

  async loadFiles(paths: string[]): Promise<void> {
    await this.page.getByTestId('model.files.input').setInputFiles(paths);
  }

  async waitReady(): Promise<void> {
    // A switch queues behind the previous model's prewarm (session creation): on a loaded 2-core machine over 60 s.
    await expect(this.status).toHaveText(/ready/, { timeout: 120_000 });
  }
}

export class Editor {
  constructor(private readonly page: Page) {}
  field(name: Field): Locator { return this.page.getByLabel(name, { exact: true }); }
  get runButton(): Locator { return this.page.getByRole('button', { name: 'Run', exact: true }); }
  get issues(): Locator { return this.page.getByTestId('experiment.issues'); }
  issue(field: 'clean' | 'corrupted' | 'answer' | 'wrong'): Locator { return this.page.getByTestId(`experiment.issue.${field}`); }

  async preset(id: string): Promise<void> {
    await this.page.getByTestId(`preset.${id}`).click();
  }

  async fill(values: Partial<Record<Field, string>>): Promise<void> {
    for (const [k, v] of Object.entries(values)) await this.field(k as Field).fill(v);
  }

  /** Press Run and wait until the attribution of a new run is on screen. */
  async run(): Promise<number> {
    const before = await this.page.evaluate(() => window.patchwork!.lastResult()?.runId ?? 0);
    await this.runButton.click();
    await this.page.waitForFunction((b) => (window.patchwork!.lastResult()?.runId ?? 0) > b, before, { timeout: 90_000 });
    return this.page.evaluate(() => window.patchwork!.lastResult()!.runId);
  }
}

export class Results {
  constructor(private readonly page: Page) {}
  tab(id: 'residual' | 'heads' | 'scatter' | 'attention'): Locator { return this.page.getByTestId(`tab.${id}`); }
  figure(name: string): Locator { return this.page.getByTestId(`figure.${name}`); }
  heatmapCells(family: Family): Locator { return this.figure(family).getByTestId('heatmap.cell'); }
  cell(family: Family, row: number, col: number): Locator {
    return this.figure(family).locator(`[data-testid="heatmap.cell"][data-row="${row}"][data-col="${col}"]`);
  }
  get details(): Locator { return this.page.getByTestId('details'); }
  get activation(): Locator { return this.page.getByTestId('details.activation'); }
  get attribution(): Locator { return this.page.getByTestId('details.attribution'); }

  /** The exact activation value the details panel shows, once computed (full precision from data-value). */
  async activationValue(): Promise<number> {
    await expect(this.activation).toHaveAttribute('data-value', /\d/, { timeout: 60_000 });
    return Number(await this.activation.getAttribute('data-value'));
  }

  async sweep(): Promise<void> {
    await this.page.getByTestId('sweep.start').click();
    await expect(this.page.getByTestId('sweep.start')).toBeEnabled({ timeout: 90_000 });
    await expect(this.page.getByTestId('sweep.progress')).toHaveCount(0);
  }
}

export class AppPage {
  readonly model: ModelPanel;
  readonly editor: Editor;
  readonly results: Results;

  constructor(readonly page: Page, readonly backend: Backend) {
    this.model = new ModelPanel(page);
    this.editor = new Editor(page);
    this.results = new Results(page);
  }

  url(fragment = ''): string {
    return `/?backend=${this.backend}${fragment}`;
  }

  async open(fragment = ''): Promise<void> {
    await this.page.goto(this.url(fragment));
  }

  /** The model is loaded (window.patchwork.ready()). */
  async ready(timeout = 90_000): Promise<void> {
    await this.page.waitForFunction(() => window.patchwork?.ready() === true, null, { timeout });
  }

  api<T>(f: (api: PatchworkTestApi) => T | Promise<T>): Promise<T> {
    return this.page.evaluate(`(${f.toString()})(window.patchwork)`) as Promise<T>;
  }

  lastResult() {
    return this.page.evaluate(() => window.patchwork!.lastResult());
  }

  patchValue(family: Family, index: number[]): Promise<number> {
    return this.page.evaluate(([f, i]) => window.patchwork!.patchValue(f as Family, i as number[]), [family, index] as const);
  }

  /** A screenshot kept as a test artefact (test-results/<test>/<name>.png) and attached to the report. */
  async snapshot(testInfo: import('@playwright/test').TestInfo, name: string): Promise<void> {
    const path = testInfo.outputPath(`${name}.png`);
    await this.page.screenshot({ path, fullPage: true });
    await testInfo.attach(name, { path, contentType: 'image/png' });
  }
}

/** Opens a figure's Export menu (one per figure, issue 14); its SVG/PNG/CSV/JSON items are then clickable. */
export async function openExport(figure: Locator): Promise<void> {
  await figure.getByTestId('export.menu').first().click();
}

/**
 * Opens `link` in a fresh browser context (nothing shared with the page that made the link), waits for the model,
 * runs `check` on it, and closes the context: how the permalink tests reopen a link.
 */
export async function reopenLink<T>(browser: Browser, backend: Backend, link: string, check: (other: AppPage) => Promise<T>): Promise<T> {
  const context = await browser.newContext();
  try {
    const other = new AppPage(await context.newPage(), backend);
    await other.page.goto(link);
    await other.ready();
    return await check(other);
  } finally {
    await context.close();
  }
}
