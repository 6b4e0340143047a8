import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { randomCheckpoint } from './checkpoint';
import { GPT2ConfigError } from './config';
import { encodeSafetensors, parseSafetensors, SafetensorsError, type FloatDtype, type TensorToWrite } from './safetensors';
import { expectedWeightShapes, type GPT2Config } from './types';
import { HttpError, hubUrl, loadModelFromBytes, loadModelFromUrl, mergeShards, weightsFromSafetensors, WeightsError } from './weights';
import { writeRandomCheckpoint } from './weights-node';

// d_mlp != 4 * d_model so that n_inner is exercised.
const TINY: GPT2Config = {
  name: 'tiny', nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 12, nCtx: 6, dVocab: 11,
  layerNormEps: 1e-5, activation: 'gelu_new',
};

/** The tiny checkpoint's tensors, with `edit` applied, as safetensors bytes. */
function tinyFile(edit: (tensors: Map<string, TensorToWrite>) => Map<string, TensorToWrite> | void = () => {}) {
  const { tensors } = randomCheckpoint(TINY, 5);
  return encodeSafetensors(edit(tensors) ?? tensors);
}

const withPrefix = (tensors: Map<string, TensorToWrite>, prefix: string) =>
  new Map([...tensors].map(([name, t]) => [prefix + name, t]));

const expectWeightsError = (bytes: Uint8Array, message: string, cfg = TINY) => {
  expect(() => weightsFromSafetensors(parseSafetensors(bytes), cfg)).toThrow(new WeightsError(message));
};

describe('weightsFromSafetensors', () => {
  for (const dtype of ['F32', 'F16', 'BF16'] as FloatDtype[]) {
    it(`loads every weight of a ${dtype} checkpoint as float32`, () => {
      const checkpoint = randomCheckpoint(TINY, 5, dtype);
      const reference = randomCheckpoint(TINY, 5, 'F32');
      // What the file holds is the F32 values rounded once to the dtype: read them back through a one-tensor file.
      const rounded = (name: string) =>
        parseSafetensors(encodeSafetensors(new Map([[name, checkpoint.tensors.get(name)!]]))).read(name).data;
      const { config, weights } = loadModelFromBytes(
        JSON.stringify(checkpoint.config),
        encodeSafetensors(checkpoint.tensors),
        'tiny',
      );
      expect(config).toEqual(TINY);
      expect([...weights.keys()]).toEqual([...expectedWeightShapes(TINY).keys()]);
      for (const [name, shape] of expectedWeightShapes(TINY)) {
        const w = weights.get(name)!;
        expect(w.shape).toEqual(shape);
        expect(w.data).toBeInstanceOf(Float32Array);
        if (dtype === 'F32') expect(w.data).toEqual(reference.tensors.get(name)!.data);
        else expect(w.data).toEqual(rounded(name));
      }
    });
  }

  it('accepts keys with the transformer. prefix', () => {
    const plain = loadModelFromBytes(randomCheckpoint(TINY, 5).config, tinyFile(), 'tiny').weights;
    const prefixed = tinyFile((t) => withPrefix(t, 'transformer.'));
    const weights = weightsFromSafetensors(parseSafetensors(prefixed), TINY);
    expect([...weights.keys()]).toEqual([...plain.keys()]);
    for (const [name, w] of plain) expect(weights.get(name)!.data).toEqual(w.data);
  });

  it('ignores legacy buffers, the tied LM head and heads that are not the transformer', () => {
    const bytes = tinyFile((t) => {
      expect(t.has('h.0.attn.bias')).toBe(true); // the generator writes it, as the hub's gpt2 does
      t.set('h.1.attn.masked_bias', { dtype: 'F32', shape: [], data: new Float32Array([-1e4]) });
      t.set('lm_head.weight', { dtype: 'F32', shape: [2], data: new Float32Array(2) }); // wrong shape: never read
      t.set('score.weight', { dtype: 'F32', shape: [1, 8], data: new Float32Array(8) });
    });
    const weights = weightsFromSafetensors(parseSafetensors(bytes), TINY);
    expect(weights.size).toBe(expectedWeightShapes(TINY).size);
    expect(weights.has('h.0.attn.bias')).toBe(false);
  });

  it('names a missing tensor', () => {
    expectWeightsError(tinyFile((t) => void t.delete('h.1.mlp.c_fc.weight')), 'missing tensor h.1.mlp.c_fc.weight');
  });

  it('says what the file holds when nearly everything is missing (another naming scheme)', () => {
    expectWeightsError(
      tinyFile((t) => withPrefix(t, 'model.')),
      "missing tensor wte.weight (and 27 more; the file's tensors begin model.wte.weight, model.wpe.weight, model.h.0.ln_1.weight)",
    );
  });

  it('names a tensor with the wrong shape and the shape it expected', () => {
    const bytes = tinyFile((t) =>
      void t.set('h.0.attn.c_attn.weight', { dtype: 'F32', shape: [8, 12], data: new Float32Array(96) }),
    );
    expectWeightsError(bytes, 'tensor h.0.attn.c_attn.weight has shape [8, 12], expected [8, 24] for this config');
  });

  it('rejects a checkpoint with more layers than its config', () => {
    expectWeightsError(
      tinyFile(),
      'tensor h.1.ln_1.weight is not part of a GPT-2 with n_layer 1; do config.json and model.safetensors come from the same model?',
      { ...TINY, nLayers: 1 },
    );
  });

  it('rejects a tensor present both with and without the prefix', () => {
    const bytes = tinyFile((t) => void t.set('transformer.wte.weight', t.get('wte.weight')!));
    expectWeightsError(bytes, 'tensor wte.weight appears twice, as wte.weight and transformer.wte.weight');
  });

  // The three damaged checkpoints of issue 16: each loaded silently and gave null / "not computed" everywhere.
  it.each([
    ['all of wte NaN', (t: Map<string, TensorToWrite>) => t.get('wte.weight')!.data.fill(NaN), /wte\.weight has 88 NaN of 88\./],
    ['one Inf in one MLP weight', (t: Map<string, TensorToWrite>) => { t.get('h.1.mlp.c_proj.weight')!.data[7] = -Infinity; }, /h\.1\.mlp\.c_proj\.weight has 1 Inf of 96\./],
    ['NaN in one token\'s embedding row', (t: Map<string, TensorToWrite>) => t.get('wte.weight')!.data.fill(NaN, 3 * 8, 4 * 8), /wte\.weight has 8 NaN of 88\./],
  ])('refuses non-finite weights, naming the tensor and the count: %s', (_, edit, message) => {
    const bytes = tinyFile((t) => void edit(t));
    expect(() => weightsFromSafetensors(parseSafetensors(bytes), TINY)).toThrow(WeightsError);
    expect(() => weightsFromSafetensors(parseSafetensors(bytes), TINY)).toThrow(message);
    expect(() => weightsFromSafetensors(parseSafetensors(bytes), TINY)).toThrow(/^the checkpoint has non-finite weights \(NaN or Inf\): /);
  });

  it('counts NaN and Inf of several tensors, F16 included', () => {
    const { tensors } = randomCheckpoint(TINY, 5, 'F16');
    tensors.get('wpe.weight')!.data.set([NaN, Infinity, 1e6], 0); // 1e6 overflows F16 to Inf
    tensors.get('ln_f.bias')!.data[2] = NaN;
    expectWeightsError(
      encodeSafetensors(tensors),
      'the checkpoint has non-finite weights (NaN or Inf): wpe.weight has 1 NaN and 2 Inf of 48; ln_f.bias has 1 NaN of 8. ' +
        'It is damaged or its training diverged: results from it would be NaN.',
    );
  });

  it('mergeShards refuses a tensor stored in two shards, naming both', () => {
    const one = parseSafetensors(tinyFile());
    const weightMap = new Map([...one.entries.keys()].filter((n) => n !== 'ln_f.bias').map((n) => [n, 'a.safetensors']));
    const other = parseSafetensors(encodeSafetensors(new Map([['ln_f.bias', randomCheckpoint(TINY, 5).tensors.get('ln_f.bias')!]])));
    expect(() => mergeShards([{ file: 'a.safetensors', safetensors: one }, { file: 'b.safetensors', safetensors: other }], weightMap)).toThrow(
      new WeightsError('tensor ln_f.bias appears in two shards, a.safetensors and b.safetensors'),
    );
  });

  it('names a required tensor stored in a dtype it cannot read', () => {
    const { tensors } = randomCheckpoint(TINY, 5);
    const header: Record<string, unknown> = {};
    const parts: Uint8Array[] = [];
    let offset = 0;
    for (const [name, t] of tensors) {
      const isI64 = name === 'h.0.attn.c_attn.weight';
      const bytes = isI64 ? new Uint8Array(t.data.length * 8) : new Uint8Array(t.data.buffer);
      header[name] = { dtype: isI64 ? 'I64' : 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.length] };
      parts.push(bytes);
      offset += bytes.length;
    }
    const json = new TextEncoder().encode(JSON.stringify(header));
    const file = new Uint8Array(8 + json.length + offset);
    new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
    file.set(json, 8);
    parts.reduce((at, p) => (file.set(p, at), at + p.length), 8 + json.length);
    expect(() => weightsFromSafetensors(parseSafetensors(file), TINY)).toThrow(
      new SafetensorsError('tensor h.0.attn.c_attn.weight has dtype I64; Patchwork reads F32, F16 and BF16'),
    );
  });

  it('loadModelFromBytes reports bad config.json text and non-GPT-2 configs', () => {
    expect(() => loadModelFromBytes('{oops', tinyFile(), 'tiny')).toThrow(/^config.json of tiny is not valid JSON \(/);
    expect(() => loadModelFromBytes({ model_type: 'llama' }, tinyFile(), 'tiny')).toThrow(GPT2ConfigError);
  });
});

describe('hubUrl', () => {
  it('points at a pinned file of a hub repository', () => {
    expect(hubUrl('openai-community/gpt2', '607a30d783dfa663caf39e06633721c8d4cfcd7e', 'model.safetensors')).toBe(
      'https://huggingface.co/openai-community/gpt2/resolve/607a30d783dfa663caf39e06633721c8d4cfcd7e/model.safetensors',
    );
  });
});

describe('loadModelFromUrl', () => {
  // Routes: /plain/* with Content-Length, /chunked/* without, /stall/* sends half of model.safetensors and hangs,
  // /cut/* sends half and drops the connection, /llama/config.json is not GPT-2; anything else is a 404.
  let dir: string;
  let server: Server;
  let base: string;
  const requests: string[] = [];
  const shards = new Map<string, Uint8Array>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'patchwork-weights-'));
    await writeRandomCheckpoint(join(dir, 'tiny'), { ...TINY, dVocab: 5000 }, 9); // ~160 kB: several body chunks
    // /sharded/: the same tiny model as two shards and an index, no model.safetensors.
    const { config, tensors } = randomCheckpoint(TINY, 5);
    const names = [...tensors.keys()];
    const index = { metadata: {}, weight_map: {} as Record<string, string> };
    for (const [i, part] of [names.slice(0, 5), names.slice(5)].entries()) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      shards.set(file, encodeSafetensors(new Map(part.map((n) => [n, tensors.get(n)!]))));
      for (const n of part) index.weight_map[n] = file;
    }
    shards.set('config.json', new TextEncoder().encode(JSON.stringify(config)));
    shards.set('model.safetensors.index.json', new TextEncoder().encode(JSON.stringify(index)));
    server = createServer(async (req, res) => {
      requests.push(req.url!);
      const [, route, file] = req.url!.split('/');
      if (route === 'llama' && file === 'config.json') return res.end(JSON.stringify({ model_type: 'llama' }));
      if (route === 'huge' && file === 'model.safetensors') {
        res.writeHead(200, { 'content-length': String(1e12) });
        return res.write(new Uint8Array(1024));
      }
      if (route === 'sharded') {
        const shard = shards.get(file);
        if (!shard) return res.writeHead(404, 'Not Found').end('Entry not found');
        return res.end(shard);
      }
      const path = join(dir, 'tiny', file);
      const size = await stat(path).then((s) => s.size, () => -1);
      if (!['plain', 'chunked', 'stall', 'cut', 'llama', 'huge'].includes(route) || size < 0) {
        res.writeHead(404, 'Not Found');
        return res.end('Entry not found');
      }
      if (route === 'chunked') return createReadStream(path).pipe(res);
      res.writeHead(200, { 'content-length': size });
      if ((route === 'stall' || route === 'cut') && file === 'model.safetensors') {
        const bytes = await readFile(path);
        res.write(bytes.subarray(0, size >> 1));
        if (route === 'cut') setTimeout(() => res.destroy(), 20);
        return;
      }
      createReadStream(path).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a Hugging Face layout folder over HTTP, reporting progress', async () => {
    const progress: [number, number | undefined][] = [];
    const model = await loadModelFromUrl(`${base}/plain/`, { onProgress: (l, t) => progress.push([l, t]) });
    const size = (await stat(join(dir, 'tiny', 'model.safetensors'))).size;
    expect(model.config).toMatchObject({ name: 'plain', nLayers: 2, dMlp: 12, dVocab: 5000 });
    expect(model.weights.get('wte.weight')!.shape).toEqual([5000, 8]);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.every(([, total]) => total === size)).toBe(true);
    expect(progress.at(-1)![0]).toBe(size);
    expect(progress.every(([loaded], i) => i === 0 || loaded > progress[i - 1][0])).toBe(true);
  });

  it('loads the same weights without a Content-Length', async () => {
    const progress: [number, number | undefined][] = [];
    const a = await loadModelFromUrl(`${base}/plain`, { name: 'tiny' });
    const b = await loadModelFromUrl(`${base}/chunked`, { name: 'tiny', onProgress: (l, t) => progress.push([l, t]) });
    expect(progress.at(-1)).toEqual([(await stat(join(dir, 'tiny', 'model.safetensors'))).size, undefined]);
    for (const [name, w] of a.weights) expect(b.weights.get(name)!.data).toEqual(w.data);
  });

  it('reports an HTTP error with the URL', async () => {
    await expect(loadModelFromUrl(`${base}/missing`)).rejects.toThrow(
      new HttpError(
        `could not download ${base}/missing/config.json: HTTP 404 Not Found (check the repository, commit and file name)`,
        404,
      ),
    );
  });

  it('stops at config.json when the model is not GPT-2, before downloading the weights', async () => {
    requests.length = 0;
    await expect(loadModelFromUrl(`${base}/llama`)).rejects.toThrow(/llama is not a GPT-2 model/);
    expect(requests).toEqual(['/llama/config.json']);
  });

  it('honours an AbortSignal during the download', async () => {
    const controller = new AbortController();
    let calls = 0;
    const loading = loadModelFromUrl(`${base}/stall`, {
      signal: controller.signal,
      onProgress: () => {
        calls++;
        controller.abort();
      },
    });
    await expect(loading).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBe(1);
  });

  it('honours an AbortSignal that fired before the call', async () => {
    await expect(loadModelFromUrl(`${base}/plain`, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  // Issue 16: a server that stops sending (here after half the file) froze the progress line for good.
  it('fails a download that stalls, with a message that says so, and loads on retry', async () => {
    const progress: number[] = [];
    const t0 = performance.now();
    await expect(loadModelFromUrl(`${base}/stall`, { stallTimeoutMs: 300, onProgress: (l) => progress.push(l) })).rejects.toThrow(
      new RegExp(`^download of ${base}/stall/model.safetensors stopped after \\d+ of \\d+ bytes: nothing arrived for 0.3 s\\. The server or the connection stalled; Retry\\.$`),
    );
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(progress.at(-1)).toBeGreaterThan(0);
    await expect(loadModelFromUrl(`${base}/plain`, { stallTimeoutMs: 300 })).resolves.toMatchObject({ config: { dVocab: 5000 } });
  });

  it('a Content-Length of 10^12 bytes gets a clear message, not "Invalid typed array length"', async () => {
    await expect(loadModelFromUrl(`${base}/huge`)).rejects.toThrow(
      new WeightsError(
        `the server says ${base}/huge/model.safetensors is 1000000000000 bytes (1.0 TB, its Content-Length), more than ` +
          'this JavaScript engine can hold in memory; GPT-2 Small is 548 MB. Is this the right URL?',
      ),
    );
  });

  it('loads a checkpoint saved in shards over HTTP', async () => {
    requests.length = 0;
    const progress: number[] = [];
    const model = await loadModelFromUrl(`${base}/sharded`, { onProgress: (l) => progress.push(l) });
    const reference = randomCheckpoint(TINY, 5).tensors;
    for (const [name, w] of model.weights) expect(w.data, name).toEqual(reference.get(name)!.data);
    expect(requests).toEqual(['/sharded/config.json', '/sharded/model.safetensors', '/sharded/model.safetensors.index.json',
      '/sharded/model-00001-of-00002.safetensors', '/sharded/model-00002-of-00002.safetensors']);
    expect(progress.at(-1)).toBe(shards.get('model-00001-of-00002.safetensors')!.length + shards.get('model-00002-of-00002.safetensors')!.length);
  });

  it('a failed cross-origin fetch says the server must allow cross-origin requests', async () => {
    // What a page at localhost:5173 sees when a server sends no Access-Control-Allow-Origin: a bare TypeError.
    const page = { href: 'http://localhost:5173/', origin: 'http://localhost:5173' };
    const realFetch = globalThis.fetch;
    vi.stubGlobal('location', page);
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    try {
      await expect(loadModelFromUrl('https://models.example.org/gpt2')).rejects.toThrow(
        new WeightsError(
          'could not download https://models.example.org/gpt2/config.json: Failed to fetch. Either the network is down, or the ' +
            'server at https://models.example.org does not allow cross-origin requests: it must answer with an ' +
            'Access-Control-Allow-Origin header that allows http://localhost:5173 (the Hugging Face hub does)',
        ),
      );
      // Same origin: CORS is not the reason, so no such hint.
      await expect(loadModelFromUrl('http://localhost:5173/models/x')).rejects.toThrow(/^could not download [^ ]+: Failed to fetch$/);
    } finally {
      vi.unstubAllGlobals();
    }
    expect(globalThis.fetch).toBe(realFetch);
  });

  it('reports a connection dropped mid-download', async () => {
    await expect(loadModelFromUrl(`${base}/cut`)).rejects.toThrow(
      new RegExp(`^download of ${base}/cut/model.safetensors failed after \\d+ bytes`),
    );
  });
});
