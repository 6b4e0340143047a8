// The hub path in a real browser: download (the hub itself is routed to a checkpoint the test writes), verify,
// store in the Cache API; the next load, also in a new page, comes from the cache with no network at all.
import { createHash } from 'node:crypto';
import { randomCheckpoint, TINY_GPT2_CONFIG } from '../src/engine/model/checkpoint';
import { encodeSafetensors } from '../src/engine/model/safetensors';
import { expect, test } from './fixtures';
import { AppPage } from './pages';

const ckpt = randomCheckpoint({ ...TINY_GPT2_CONFIG, nCtx: 32 }, 5);
const weights = Buffer.from(encodeSafetensors(ckpt.tensors, ckpt.metadata));
const sha256 = createHash('sha256').update(weights).digest('hex');
const source = { kind: 'hub' as const, id: 'tiny', repo: 'patchwork-test/tiny', commit: 'a'.repeat(40), sha256, size: weights.length };

test('a verified hub download is cached and the next visit loads it offline', async ({ app, context, backend }) => {
  const hits: string[] = [];
  let offline = false;
  await context.route('https://huggingface.co/**', async (route) => {
    hits.push(route.request().url());
    if (offline) return route.abort('internetdisconnected');
    const url = route.request().url();
    if (url.endsWith('/config.json')) return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(ckpt.config) });
    if (url.endsWith('/model.safetensors')) return route.fulfill({ status: 200, contentType: 'application/octet-stream', body: weights });
    return route.fulfill({ status: 404 });
  });
  await app.open();
  await app.ready();

  // A wrong checksum: refused, nothing stored.
  await expect(app.page.evaluate((s) => window.patchwork!.loadHub(s), { ...source, sha256: '0'.repeat(64) })).rejects.toThrow(/has sha256 [0-9a-f]{64}, expected 0{64}/);
  expect(await app.page.evaluate(async () => (await (await caches.open('patchwork-models-v1')).keys()).length)).toBe(0);

  const first = await app.page.evaluate((s) => window.patchwork!.loadHub(s), source);
  expect(first).toEqual({ fromCache: false, sha256 });
  expect(hits.filter((u) => u.includes(source.commit))).toHaveLength(4);

  offline = true;
  hits.length = 0;
  const fresh = new AppPage(await context.newPage(), backend);
  await fresh.open();
  await fresh.ready();
  const second = await fresh.page.evaluate((s) => window.patchwork!.loadHub(s), source);
  expect(second.fromCache).toBe(true);
  expect(hits).toEqual([]);
  await fresh.editor.run();
  expect((await fresh.lastResult())!.attribution.resid_pre.shape[0]).toBe(2);
});
