// The browser loader against a real local HTTP server (Node 20's fetch): a server that stalls after 64 KiB fails
// with a clear message instead of hanging, nothing is cached, and Retry loads the model (issue 16).
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { randomCheckpoint, TINY_GPT2_CONFIG } from '../engine/model/checkpoint';
import { encodeSafetensors } from '../engine/model/safetensors';
import { isHubCached, loadSource } from './model-loader';
import type { ModelSource } from './protocol';

const ckpt = randomCheckpoint({ ...TINY_GPT2_CONFIG, nCtx: 16, dVocab: 2000 }, 3);
const weights = encodeSafetensors(ckpt.tensors, ckpt.metadata); // ~400 kB
const configBytes = new TextEncoder().encode(JSON.stringify(ckpt.config));
const source: Extract<ModelSource, { kind: 'hub' }> = {
  kind: 'hub', id: 'tiny', repo: 'test/tiny', commit: 'c'.repeat(40),
  sha256: createHash('sha256').update(weights).digest('hex'), size: weights.length,
};

let stall = true;
let server: Server;
let origin: string;
const entries = new Map<string, Uint8Array>();

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url!.endsWith('/config.json')) return res.end(configBytes);
    if (!req.url!.endsWith('/model.safetensors')) return res.writeHead(404).end();
    res.writeHead(200, { 'content-length': String(weights.length) });
    if (stall) return res.write(weights.subarray(0, 64 << 10)); // ... and nothing more, connection left open
    res.end(weights);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => vi.unstubAllGlobals());

function serveHubLocally() {
  const realFetch = globalThis.fetch;
  vi.stubGlobal('fetch', (url: string, init?: RequestInit) => realFetch(url.replace('https://huggingface.co', origin), init));
  vi.stubGlobal('caches', {
    open: async () => ({
      match: async (url: string) => (entries.has(url) ? new Response(entries.get(url) as Uint8Array<ArrayBuffer>) : undefined),
      put: async (url: string, r: Response) => void entries.set(url, new Uint8Array(await r.arrayBuffer())),
      delete: async (url: string) => entries.delete(url),
    }),
  });
}

describe('a model server that stalls after 64 KiB', () => {
  it('hub model: fails with a stall message, caches nothing, and Retry loads it', async () => {
    serveHubLocally();
    stall = true;
    const progress: number[] = [];
    const loading = loadSource(source, { stallTimeoutMs: 400, onProgress: (p) => p.phase === 'download' && progress.push(p.loaded) });
    await expect(loading).rejects.toThrow(/^download of https:\/\/huggingface\.co\/test\/tiny\/resolve\/c+\/model\.safetensors stopped after 65536 of \d+ bytes: nothing arrived for 0\.4 s\. The server or the connection stalled; Retry\.$/);
    expect(progress.at(-1)).toBe(64 << 10);
    expect(entries.size).toBe(0);
    expect(await isHubCached(source)).toBe(false);

    stall = false;
    const again = await loadSource(source, { stallTimeoutMs: 400 });
    expect(again.fromCache).toBe(false);
    expect(again.sha256).toBe(source.sha256);
    expect(await isHubCached(source)).toBe(true);
  });

  it('model by URL: the same message', async () => {
    stall = true;
    await expect(loadSource({ kind: 'url', id: 'by-url', baseUrl: `${origin}/folder` }, { stallTimeoutMs: 400 })).rejects.toThrow(
      /^download of http:\/\/127\.0\.0\.1:\d+\/folder\/model\.safetensors stopped after 65536 of \d+ bytes: nothing arrived/,
    );
  });
});
