// `npx tsx scripts/bench-browser.ts`: time from pressing Run to the first heatmap on screen, in headless Chromium
// on the wasm backend, for the offline toy model and for a GPT-2-Small-shaped random checkpoint (loaded through
// the app's custom-URL path from a local server). Prints a table and writes bench-results/browser.json.
//
// `--threads 1,all` (the default) runs every case once per thread setting: `all` is what the app picks (every core
// up to 8; the preview is cross-origin isolated), a number is passed as `?threads=N`. Each case records the threads
// the app reports using.
//
// Cold = the first Run after the model loads (includes building and compiling the attribution graph's session);
// warm = the same Run again (session cached). The build in dist/ is used; pass --build to rebuild first.
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { serveModels } from '../e2e/model-server';
import { GPT2_SMALL_CONFIG } from '../src/engine/model/checkpoint';
import { writeRandomCheckpoint } from '../src/engine/model/weights-node';

const { values: args } = parseArgs({
  options: {
    build: { type: 'boolean', default: false },
    port: { type: 'string', default: '4174' },
    warm: { type: 'string', default: '3' },
    dir: { type: 'string', default: '.cache/bench/gpt2-small-random' },
    out: { type: 'string', default: 'bench-results/browser.json' },
    /** 'circuit': only the GPT-2-Small-shaped case of Run -> drawn circuit graph (issue 11); 'heatmap': every case but that one. */
    only: { type: 'string' },
    threads: { type: 'string', default: '1,all' },
  },
});

/** `--threads 1,all`: whole numbers of at least 1, or `all` (no override). */
function threadSettings(text: string): (number | 'all')[] {
  const out = text.split(',').map((t) => t.trim()).map((t) => (t === 'all' ? 'all' : /^\d+$/.test(t) && Number(t) >= 1 ? Number(t) : null));
  if (!out.length || out.includes(null)) {
    console.error(`--threads ${text}: give a comma-separated list of whole numbers of at least 1 or "all", e.g. 1,all`);
    process.exit(2);
  }
  return out as (number | 'all')[];
}
const THREADS = threadSettings(args.threads!);
const log = (m: string) => process.stderr.write(m + '\n');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Case {
  /** The wasm threads the app reported using, and the setting asked for. */
  threads: number;
  threadsSetting: number | 'all';
  model: string;
  preset: string;
  tokens: number;
  pairs: number;
  loadMs: number;
  coldMs: number;
  warmMs: number[];
  warmMedianMs: number;
}

async function waitForServer(url: string, ms = 30_000): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    try {
      if ((await fetch(url)).ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up`);
}

/** Clicks Run inside the page and measures, with the page's clock, until a heatmap cell is in the DOM and painted. */
async function runToHeatmap(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const before = window.patchwork!.lastResult()?.runId ?? 0;
    const button = document.querySelector<HTMLButtonElement>('[data-testid="patching.run"]')!;
    const t0 = performance.now();
    button.click();
    for (;;) {
      await new Promise((r) => requestAnimationFrame(r));
      const r = window.patchwork!.lastResult();
      if (r && r.runId > before && document.querySelector('[data-testid="heatmap.cell"]')) break;
      if (performance.now() - t0 > 600_000) throw new Error('no heatmap after 10 minutes');
    }
    await new Promise((r) => requestAnimationFrame(r)); // the frame that paints it
    return performance.now() - t0;
  });
}

/** The Circuit tab open: clicks Run and measures until the new run's circuit graph has its edges in the DOM, painted. */
async function runToCircuit(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const before = window.patchwork!.lastResult()?.runId ?? 0;
    const button = document.querySelector<HTMLButtonElement>('[data-testid="patching.run"]')!;
    const t0 = performance.now();
    button.click();
    for (;;) {
      await new Promise((r) => requestAnimationFrame(r));
      const r = window.patchwork!.lastResult();
      if (r && r.runId > before && document.querySelector('[data-testid="circuit.edge"]')) break;
      const failed = document.querySelector('[data-testid="circuit.error"], [data-testid="run.error"], [role="alert"]');
      if (failed?.textContent) throw new Error(`the circuit graph failed: ${failed.textContent}`);
      if (performance.now() - t0 > 600_000) throw new Error(`no circuit graph after 10 minutes: ${document.querySelector('[data-testid="view.circuit"], [data-testid="circuit.computing"], .pw-results')?.textContent?.slice(0, 300)}`);
    }
    await new Promise((r) => requestAnimationFrame(r));
    return performance.now() - t0;
  });
}

let setting: number | 'all' = 'all';

/** The wasm threads the page's engine reports (the header's count). */
async function threadsOf(page: Page): Promise<{ threads: number; threadsSetting: number | 'all' }> {
  const b = await page.evaluate(() => (window.patchwork!.state() as { backend: { threads: number } }).backend);
  return { threads: b.threads, threadsSetting: setting };
}

/** 1 pair x 16 tokens (BOS + 15 one-token words) on the Circuit tab: Run -> circuit graph drawn. */
async function benchCircuit(page: Page, model: string): Promise<Case> {
  const words = ['violin', 'crater', 'saddle', 'mirror', 'thunder', 'basket', 'velvet', 'pepper', 'glacier', 'harbor', 'lantern', 'candle'];
  const clean = [...words, ...words.slice(0, 3)].map((w) => ` ${w}`).join('');
  await page.getByTestId('preset.gpt2-induction').click(); // one pair; its prompts are replaced below
  await page.getByLabel('Clean prompt', { exact: true }).fill(clean);
  await page.getByLabel('Corrupted prompt', { exact: true }).fill(clean.replace(' crater saddle mirror', ' crater saddle pepper'));
  await page.getByLabel('Answer', { exact: true }).fill(' mirror');
  await page.getByLabel('Wrong answer', { exact: true }).fill(' pepper');
  await page.getByTestId('tab.circuit').click();
  const coldMs = await runToCircuit(page);
  const warmMs: number[] = [];
  for (let i = 0; i < Number(args.warm); i++) warmMs.push(await runToCircuit(page));
  const r = (await page.evaluate(() => window.patchwork!.lastResult()))!;
  const c: Case = { ...(await threadsOf(page)), model, preset: 'circuit (Run -> graph)', tokens: r.tokens.length, pairs: 1, loadMs: 0, coldMs, warmMs, warmMedianMs: median(warmMs) };
  log(`[${c.threads} thread(s)] ${model} / circuit (1 pair x ${c.tokens} tokens): Run -> circuit graph cold ${c.coldMs.toFixed(0)} ms, warm ${c.warmMedianMs.toFixed(0)} ms`);
  return c;
}

async function bench(page: Page, model: string, preset: string, load: () => Promise<number>): Promise<Case> {
  const loadMs = await load();
  await page.getByTestId(`preset.${preset}`).click();
  const coldMs = await runToHeatmap(page);
  const warmMs: number[] = [];
  for (let i = 0; i < Number(args.warm); i++) warmMs.push(await runToHeatmap(page));
  const r = (await page.evaluate(() => window.patchwork!.lastResult()))!;
  const spec = (await page.evaluate(() => (window.patchwork!.state() as { spec: { pairs: unknown[] } }).spec));
  const c: Case = { ...(await threadsOf(page)), model, preset, tokens: r.tokens.length, pairs: spec.pairs.length, loadMs, coldMs, warmMs, warmMedianMs: median(warmMs) };
  log(`[${c.threads} thread(s)] ${model} / ${preset} (${c.pairs} pair(s) x ${c.tokens} tokens): load ${c.loadMs.toFixed(0)} ms, Run -> heatmap cold ${c.coldMs.toFixed(0)} ms, warm ${c.warmMedianMs.toFixed(0)} ms`);
  return c;
}

async function main() {
  if (args.build || !existsSync('dist/index.html')) execSync('npx vite build', { stdio: 'inherit' });
  const dir = resolve(args.dir!);
  if (!existsSync(join(dir, 'model.safetensors'))) {
    log(`writing a GPT-2-Small-shaped random checkpoint to ${dir} ...`);
    await writeRandomCheckpoint(dir, GPT2_SMALL_CONFIG, 0);
  }
  const models = await serveModels(resolve(dir, '..'));
  const base = `http://localhost:${args.port}`;
  const preview: ChildProcess = spawn('npx', ['vite', 'preview', '--port', args.port!, '--strictPort'], { stdio: 'ignore', detached: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const cases: Case[] = [];
  try {
    await waitForServer(base);
    for (const s of THREADS) {
      setting = s;
      // A fresh page per setting: onnxruntime reads its thread count once, when its wasm module starts.
      const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
      const t0 = performance.now();
      await page.goto(`${base}/?backend=wasm${s === 'all' ? '' : `&threads=${s}`}`);
      await page.waitForFunction(() => window.patchwork?.ready(), null, { timeout: 120_000 });
      const toyLoad = performance.now() - t0;
      const isolated = await page.evaluate(() => crossOriginIsolated);
      log(`threads ${s}: page cross-origin isolated: ${isolated}, wasm threads: ${(await threadsOf(page)).threads}`);
      if (args.only !== 'circuit') cases.push(await bench(page, 'toy-induction', 'toy-induction', async () => toyLoad));

      const loadGpt2 = async () => {
        const t = performance.now();
        await page.getByText('Local files or a URL').click();
        await page.getByTestId('model.url').fill(`${models.url}/${dir.split('/').pop()}/`);
        await page.getByTestId('model.url.load').click();
        await page.waitForFunction(() => window.patchwork!.ready() && (window.patchwork!.state() as { model: { config: { nLayers: number } } }).model.config.nLayers === 12, null, { timeout: 300_000 });
        return performance.now() - t;
      };
      if (args.only === 'circuit') {
        const loadMs = await loadGpt2();
        cases.push({ ...(await benchCircuit(page, 'gpt2-small-shaped (random)')), loadMs });
      } else {
        cases.push(await bench(page, 'gpt2-small-shaped (random)', 'factual', loadGpt2));
        cases.push(await bench(page, 'gpt2-small-shaped (random)', 'ioi', async () => 0));
        if (args.only !== 'heatmap') cases.push(await benchCircuit(page, 'gpt2-small-shaped (random)'));
      }
      await page.close();
    }
  } finally {
    await browser.close();
    await models.close();
    if (preview.pid) process.kill(-preview.pid);
  }

  const out = {
    date: new Date().toISOString(),
    what: 'Time from pressing Run to the first heatmap painted (circuit case: to the circuit graph drawn), headless Chromium, wasm backend, built app (cross-origin isolated by the preview headers); each case records the wasm threads used',
    // The 1-minute load average at the end: on a shared machine the absolute times mean little without it.
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), loadavg1: loadavg()[0] },
    chromium: execSync(`${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'} --version 2>/dev/null`).toString().trim(),
    cases,
  };
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(args.out!, JSON.stringify(out, null, 2) + '\n');
  console.log('\nthreads  model                         preset                  pairs x tokens   load      Run->heatmap cold   warm (median)');
  for (const c of cases) {
    console.log(`${String(c.threads).padEnd(9)}${c.model.padEnd(30)}${c.preset.padEnd(24)}${`${c.pairs} x ${c.tokens}`.padEnd(17)}${`${(c.loadMs / 1000).toFixed(1)} s`.padEnd(10)}${`${c.coldMs.toFixed(0)} ms`.padEnd(20)}${c.warmMedianMs.toFixed(0)} ms`);
  }
  console.log(`\nwrote ${args.out}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
