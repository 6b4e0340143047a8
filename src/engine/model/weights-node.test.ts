import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointTensors, GPT2_SMALL_CONFIG, randomCheckpoint } from './checkpoint';
import { encodeSafetensors } from './safetensors';
import type { GPT2Config } from './types';
import { loadModelFromDir, readWholeFile, writeRandomCheckpoint } from './weights-node';
import { WeightsError } from './weights';

const TINY: GPT2Config = {
  name: 'tiny', nLayers: 2, nHeads: 2, dModel: 8, dHead: 4, dMlp: 32, nCtx: 6, dVocab: 11,
  layerNormEps: 1e-5, activation: 'gelu_new',
};
const ROOT = resolve(import.meta.dirname, '../../..');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'patchwork-weights-node-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeRandomCheckpoint / loadModelFromDir', () => {
  it('streams exactly the bytes that the in-memory writer produces, for every dtype', async () => {
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const out = join(dir, `tiny-${dtype}`);
      const { bytes } = await writeRandomCheckpoint(out, TINY, 11, dtype);
      const checkpoint = randomCheckpoint(TINY, 11, dtype);
      const expected = encodeSafetensors(checkpoint.tensors, checkpoint.metadata);
      const written = await readFile(join(out, 'model.safetensors'));
      expect(bytes).toBe(expected.length);
      expect(Buffer.compare(written, expected)).toBe(0);
      expect(JSON.parse(await readFile(join(out, 'config.json'), 'utf8'))).toEqual(checkpoint.config);
    }
  });

  it('loads a folder, named after it', async () => {
    const out = join(dir, 'my-model');
    await writeRandomCheckpoint(out, TINY, 2);
    const { config, weights } = await loadModelFromDir(out);
    expect(config).toEqual({ ...TINY, name: 'my-model' });
    expect(weights.get('h.1.mlp.c_fc.weight')!.data).toEqual(randomCheckpoint(TINY, 2).tensors.get('h.1.mlp.c_fc.weight')!.data);
    expect((await loadModelFromDir(out, 'other')).config.name).toBe('other');
  });

  it('says which file a folder lacks', async () => {
    const out = join(dir, 'incomplete');
    await writeRandomCheckpoint(out, TINY, 2);
    await unlink(join(out, 'model.safetensors'));
    await expect(loadModelFromDir(out)).rejects.toThrow(
      new WeightsError(`${out} has no model.safetensors (nor model.safetensors.index.json, for a checkpoint saved in shards)`),
    );
    await expect(loadModelFromDir(join(dir, 'nowhere'))).rejects.toThrow(
      new WeightsError(`${join(dir, 'nowhere')} has no config.json`),
    );
  });

  // Hugging Face's layout for checkpoints over max_shard_size: model-0000i-of-0000n.safetensors + an index that maps
  // every tensor to its shard. Before: "missing tensor h.1..." (issue 16).
  async function writeSharded(out: string, edit: (index: { weight_map: Record<string, string> }) => void = () => {}) {
    await mkdir(out, { recursive: true });
    const { config, tensors, metadata } = randomCheckpoint(TINY, 2);
    const names = [...tensors.keys()];
    const half = names.indexOf('h.1.ln_1.weight');
    const shards = [names.slice(0, half), names.slice(half)];
    const index = { metadata: { total_size: 0 }, weight_map: {} as Record<string, string> };
    for (const [i, part] of shards.entries()) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      await writeFile(join(out, file), encodeSafetensors(new Map(part.map((n) => [n, tensors.get(n)!])), metadata));
      for (const n of part) index.weight_map[n] = file;
    }
    edit(index);
    await writeFile(join(out, 'config.json'), JSON.stringify(config));
    await writeFile(join(out, 'model.safetensors.index.json'), JSON.stringify(index));
    return tensors;
  }

  it('loads a checkpoint saved in shards, through model.safetensors.index.json', async () => {
    const out = join(dir, 'sharded');
    const tensors = await writeSharded(out);
    const { config, weights } = await loadModelFromDir(out);
    expect(config).toEqual({ ...TINY, name: 'sharded' });
    for (const [name, w] of weights) expect(w.data, name).toEqual(tensors.get(name)!.data);
  });

  it('names what is wrong with a sharded checkpoint', async () => {
    const out = join(dir, 'sharded-bad');
    await writeSharded(out);
    await unlink(join(out, 'model-00002-of-00002.safetensors'));
    await expect(loadModelFromDir(out)).rejects.toThrow(
      new WeightsError(`${out} has no model-00002-of-00002.safetensors, a shard that model.safetensors.index.json lists`),
    );
    await unlink(join(out, 'model.safetensors.index.json'));
    await expect(loadModelFromDir(out)).rejects.toThrow(
      new WeightsError(`${out} has shards (model-00001-of-00002.safetensors) but no model.safetensors.index.json to say which tensor is where`),
    );
    const outside = join(dir, 'sharded-outside');
    await writeSharded(outside, (i) => void (i.weight_map['wte.weight'] = '../elsewhere.safetensors'));
    await expect(loadModelFromDir(outside)).rejects.toThrow(/maps wte\.weight to "\.\.\/elsewhere\.safetensors", which is not a \.safetensors file name in the same folder/);
    const wrong = join(dir, 'sharded-wrong');
    await writeSharded(wrong, (i) => void (i.weight_map['wte.weight'] = 'model-00002-of-00002.safetensors'));
    await expect(loadModelFromDir(wrong)).rejects.toThrow(
      new WeightsError('tensor wte.weight is in model-00001-of-00002.safetensors, but model.safetensors.index.json says model-00002-of-00002.safetensors'),
    );
  });

  it('reads a whole file into one buffer', async () => {
    const path = join(dir, 'tiny-F32', 'model.safetensors');
    const bytes = await readWholeFile(path);
    expect(Buffer.compare(bytes, await readFile(path))).toBe(0);
  });
});

describe('loading a GPT-2-Small-sized checkpoint', () => {
  it('peaks under 2x the weights in memory, with F32 weights as views of one buffer', async () => {
    const out = join(dir, 'gpt2-small-random');
    let start = performance.now();
    const { bytes } = await writeRandomCheckpoint(out, GPT2_SMALL_CONFIG, 0);
    console.log(`wrote ${(bytes / 1e6).toFixed(0)} MB GPT-2-Small random checkpoint in ${(performance.now() - start).toFixed(0)} ms`);

    start = performance.now();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'test/fixtures/load-dir-probe.ts'), out],
      { cwd: ROOT, maxBuffer: 1 << 20 },
    );
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!);
    const mb = (x: number) => `${(x / 1e6).toFixed(0)} MB`;
    console.log(
      `loadModelFromDir: ${r.loadMs.toFixed(0)} ms for ${mb(r.weightBytes)} of weights; ` +
        `rss ${mb(r.rssBefore)} -> ${mb(r.rssAfter)} (peak ${mb(r.peakRss)}, growth to peak ${mb(r.peakRss - r.rssBefore)}); ` +
        `arrayBuffers ${mb(r.arrayBuffersBefore)} -> ${mb(r.arrayBuffersAfter)}; child process ${(performance.now() - start).toFixed(0)} ms`,
    );

    expect(r.weightBytes).toBe(124_439_808 * 4); // GPT-2 Small's parameter count
    expect(r.peakRss - r.rssBefore).toBeLessThan(2 * r.weightBytes);
    expect(r.arrayBuffersAfter - r.arrayBuffersBefore).toBeLessThan(1.2 * r.weightBytes);
    expect(r.distinctBuffers).toBe(1);
    const lnF = checkpointTensors(GPT2_SMALL_CONFIG, 0).find((t) => t.name === 'ln_f.weight')!.generate();
    expect(r.lnF).toEqual(Array.from(lnF.subarray(0, 4)));
  });
});
