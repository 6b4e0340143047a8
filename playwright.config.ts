// End-to-end tests against the BUILT app (vite preview), in Debian's Chromium: one project per backend.
// WebGPU runs on SwiftShader (CPU-emulated) here, so its project keeps to the toy model and a few runs.
import { defineConfig } from '@playwright/test';
import type { E2EOptions } from './e2e/fixtures';

// E2E_PORT lets several checkouts run their suites side by side on one machine.
const PORT = Number(process.env.E2E_PORT ?? 4173);
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const args = [
  '--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu',
];

export default defineConfig<E2EOptions>({
  testDir: 'e2e',
  outputDir: 'test-results',
  timeout: 120_000,
  expect: { timeout: 30_000 },
  // Two cores: the browser and the Node-side reference engine already share them. Two workers were tried (Dec 2026,
  // inspect + permalink + views specs) only on a machine shared with other suites (load ~15): the reopened-link
  // tests ran past their limits there, as they then did with one worker too, so two workers are not shown safe here.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  use: {
    baseURL: `http://localhost:${PORT}`,
    viewport: { width: 1440, height: 900 },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    // Playwright launches each browser with a fresh temporary profile (user-data dir).
    launchOptions: { executablePath, args },
  },
  // Every test runs on wasm except those tagged @webgpu-only; the WebGPU project runs only tests tagged @webgpu
  // (SwiftShader is slow: the toy model's main flow, permalinks, device loss and the backend switch). Backend-
  // independent behaviour (validation, codecs, model loading, storage) is checked once, on wasm.
  projects: [
    { name: 'wasm', use: { backend: 'wasm' }, grepInvert: /@webgpu-only/ },
    { name: 'webgpu', use: { backend: 'webgpu' }, grep: /@webgpu/ },
  ],
  webServer: {
    command: `npx vite preview --port ${PORT} --strictPort`,
    url: `http://localhost:${PORT}`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
  },
});
