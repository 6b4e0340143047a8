// A tiny static server for Hugging-Face-layout model folders, as a user's own model host would be: CORS open,
// Content-Length set. Paths under /slow/ are streamed in small chunks so progress and cancel can be watched.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

export interface ModelServer {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

export async function serveModels(root: string, opts: { slowChunk?: number; slowDelayMs?: number } = {}): Promise<ModelServer> {
  const requests: string[] = [];
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    requests.push(path);
    res.setHeader('access-control-allow-origin', '*');
    const slow = path.startsWith('/slow/');
    const file = normalize(join(root, slow ? path.slice('/slow'.length) : path));
    if (!file.startsWith(normalize(root))) return void res.writeHead(403).end();
    let size: number;
    try {
      const s = await stat(file);
      if (!s.isFile()) throw new Error('not a file');
      size = s.size;
    } catch {
      return void res.writeHead(404).end('not found');
    }
    res.writeHead(200, { 'content-length': String(size), 'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
    if (!slow) return void createReadStream(file).pipe(res);
    // Throttled: slowChunk bytes every slowDelayMs.
    const stream = createReadStream(file, { highWaterMark: opts.slowChunk ?? 256 * 1024 });
    stream.on('data', (chunk) => {
      stream.pause();
      res.write(chunk, () => setTimeout(() => stream.resume(), opts.slowDelayMs ?? 40));
    });
    stream.on('end', () => res.end());
    req.on('close', () => stream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
