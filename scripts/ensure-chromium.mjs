// Browser tests drive Debian's Chromium (Playwright cannot download its own browsers on these machines).
// Installs it with apt when missing and we are root; otherwise says exactly what to do.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (existsSync(path)) process.exit(0);
if (process.getuid?.() === 0) {
  console.error(`[ensure-chromium] ${path} not found: installing Debian's chromium with apt-get`);
  execSync('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium', { stdio: 'inherit' });
  if (existsSync(path)) process.exit(0);
}
console.error(`[ensure-chromium] Browser tests need Chromium at ${path}. Install it with: sudo apt-get install -y chromium (or set CHROMIUM_PATH).`);
process.exit(1);
