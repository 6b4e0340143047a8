// A plain static file server, as a static host (GitHub Pages, a bucket) serves the built app: no COOP/COEP headers,
// so only public/coi-serviceworker.js can make the page cross-origin isolated.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.svg': 'image/svg+xml', '.wasm': 'application/wasm', '.png': 'image/png',
};

export interface StaticServer {
  url: string;
  /** The response headers every file went out with (the test checks that no isolation header is among them). */
  headers: Set<string>;
  close(): Promise<void>;
}

export async function serveStatic(root: string): Promise<StaticServer> {
  const headers = new Set<string>();
  const server: Server = createServer(async (req, res) => {
    let path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(root, path));
    if (!file.startsWith(normalize(root))) return void res.writeHead(403).end();
    try {
      const s = await stat(file);
      if (!s.isFile()) throw new Error('not a file');
      res.setHeader('content-length', String(s.size));
      res.setHeader('content-type', TYPES[extname(file)] ?? 'application/octet-stream');
    } catch {
      return void res.writeHead(404).end('not found');
    }
    for (const h of res.getHeaderNames()) headers.add(h);
    res.writeHead(200);
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    headers,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
