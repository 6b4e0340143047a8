// The hub download path without the hub: a fake fetch serves a tiny checkpoint (whole, truncated, damaged or cut
// off mid-stream) and a fake Cache API records what gets stored. The rule under test: nothing is cached unless
// size and sha256 match, and a cached model loads with no network at all.
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { randomCheckpoint, TINY_GPT2_CONFIG } from '../engine/model/checkpoint';
import { encodeSafetensors } from '../engine/model/safetensors';
import { hubFiles, isHubCached, loadSource } from './model-loader';
import type { ModelSource } from './protocol';

class FakeCache {
  entries = new Map<string, { body: Uint8Array; headers: [string, string][] }>();
  async match(url: string) {
    const e = this.entries.get(url);
    return e ? new Response(e.body as Uint8Array<ArrayBuffer>, { headers: e.headers }) : undefined;
  }
  async put(url: string, r: Response) {
    this.entries.set(url, { body: new Uint8Array(await r.arrayBuffer()), headers: [...r.headers] });
  }
  async delete(url: string) {
    return this.entries.delete(url);
  }
}

const ckpt = randomCheckpoint({ ...TINY_GPT2_CONFIG, nCtx: 16, dVocab: 64 }, 3);
const weights = encodeSafetensors(ckpt.tensors, ckpt.metadata);
const configBytes = new TextEncoder().encode(JSON.stringify(ckpt.config));
const sha = createHash('sha256').update(weights).digest('hex');
const source: Extract<ModelSource, { kind: 'hub' }> = { kind: 'hub', id: 'tiny', repo: 'test/tiny', commit: 'c'.repeat(40), sha256: sha, size: weights.length };
const urls = hubFiles(source);

type Mode = 'ok' | 'truncated' | 'damaged' | 'cut' | 'offline';
let mode: Mode = 'ok';
let cache: FakeCache;
const fetched: string[] = [];

function body(bytes: Uint8Array, cutAt?: number, signal?: AbortSignal): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (signal?.aborted) {
        controller.error(signal.reason); // what a real fetch does to its body on abort
        return;
      }
      if (cutAt !== undefined && sent >= cutAt) {
        controller.error(new TypeError('network error'));
        return;
      }
      const n = Math.min(4096, bytes.length - sent);
      if (n <= 0) return controller.close();
      controller.enqueue(bytes.slice(sent, sent + n));
      sent += n;
    },
  });
}

beforeEach(() => {
  mode = 'ok';
  fetched.length = 0;
  cache = new FakeCache();
  vi.stubGlobal('caches', { open: async () => cache });
  vi.stubGlobal('fetch', async (url: string, init?: { signal?: AbortSignal }) => {
    fetched.push(url);
    if (mode === 'offline') throw new TypeError('Failed to fetch');
    if (init?.signal?.aborted) throw init.signal.reason;
    if (url === urls.config) return new Response(configBytes as Uint8Array<ArrayBuffer>);
    let bytes = weights;
    if (mode === 'truncated') bytes = weights.slice(0, weights.length - 100);
    if (mode === 'damaged') {
      bytes = weights.slice();
      bytes[bytes.length - 1] ^= 0xff;
    }
    const headers = { 'content-length': String(mode === 'truncated' ? bytes.length : weights.length) };
    return new Response(body(bytes, mode === 'cut' ? 8192 : undefined, init?.signal), { headers });
  });
});

afterEach(() => vi.unstubAllGlobals());

describe('hub models', () => {
  it('downloads with progress, verifies, caches, and loads the second time with no network', async () => {
    const progress: { phase: string; loaded: number; total?: number }[] = [];
    const first = await loadSource(source, { onProgress: (p) => progress.push(p) });
    expect(first.fromCache).toBe(false);
    expect(first.sha256).toBe(sha);
    expect(first.model.config.nLayers).toBe(2);
    const downloads = progress.filter((p) => p.phase === 'download');
    expect(downloads.at(-1)).toEqual({ phase: 'download', loaded: weights.length, total: weights.length });
    expect(progress.map((p) => p.phase)).toContain('verify');
    expect(await isHubCached(source)).toBe(true);

    mode = 'offline';
    fetched.length = 0;
    const second = await loadSource(source);
    expect(second.fromCache).toBe(true);
    expect(fetched).toEqual([]);
    expect(second.model.weights.get('wte.weight')!.data).toEqual(first.model.weights.get('wte.weight')!.data);
  });

  it.each([
    ['truncated', /is \d+ bytes, expected \d+/],
    ['damaged', /has sha256 [0-9a-f]{64}, expected/],
    ['cut', /failed after \d+ bytes/],
  ] as const)('a %s download is refused and leaves no cache entry', async (m, message) => {
    mode = m;
    await expect(loadSource(source)).rejects.toThrow(message);
    expect(cache.entries.size).toBe(0);
    // Retry after the network recovers: a clean download.
    mode = 'ok';
    const again = await loadSource(source);
    expect(again.fromCache).toBe(false);
    expect(await isHubCached(source)).toBe(true);
  });

  it('a cancelled download leaves no cache entry', async () => {
    const controller = new AbortController();
    const p = loadSource(source, {
      signal: controller.signal,
      onProgress: (q) => { if (q.phase === 'download' && q.loaded > 4096) controller.abort(new DOMException('Cancelled.', 'AbortError')); },
    });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(cache.entries.size).toBe(0);
  });

  it('a cache entry of the wrong size is dropped and downloaded again', async () => {
    await loadSource(source);
    const e = cache.entries.get(urls.weights)!;
    cache.entries.set(urls.weights, { ...e, body: e.body.slice(0, 1000) });
    const r = await loadSource(source);
    expect(r.fromCache).toBe(false);
    expect(cache.entries.get(urls.weights)!.body.length).toBe(weights.length);
  });

  it('works without the Cache API (blocked storage): loads, just does not remember', async () => {
    vi.stubGlobal('caches', { open: async () => { throw new DOMException('blocked', 'SecurityError'); } });
    const r = await loadSource(source);
    expect(r.fromCache).toBe(false);
    expect(await isHubCached(source)).toBe(false);
  });
});
