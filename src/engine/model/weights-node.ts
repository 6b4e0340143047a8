// Node-only loading and writing of Hugging Face layout folders (config.json + model.safetensors).
// Kept apart from weights.ts so that the browser bundle never imports node:fs.

import { mkdir, open, readdir, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { checkpointMetadata, checkpointTensors, hfConfigJson } from './checkpoint';
import { encodeSafetensorsHeader, encodeTensorData, type FloatDtype } from './safetensors';
import type { GPT2Config } from './types';
import { loadModelFromBytes, loadModelFromShards, parseShardIndex, SHARD_INDEX, WeightsError, type LoadedModel } from './weights';

/**
 * Load `${dir}/config.json` and `${dir}/model.safetensors`; F32 weights are views into one file-sized buffer.
 * A checkpoint saved in shards (model-00001-of-00002.safetensors, ... + model.safetensors.index.json, as
 * transformers writes models over its max_shard_size) loads from its shards, one buffer per shard.
 */
export async function loadModelFromDir(dir: string, name = basename(resolve(dir))): Promise<LoadedModel> {
  const configText = await readFile(join(dir, 'config.json'), 'utf8').catch((e) => {
    throw fileError(e, dir, 'config.json');
  });
  const bytes = await readWholeFile(join(dir, 'model.safetensors')).catch((e) => {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fileError(e, dir, 'model.safetensors');
  });
  if (bytes) return loadModelFromBytes(configText, bytes, name);

  const indexText = await readFile(join(dir, SHARD_INDEX), 'utf8').catch(async (e) => {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(e, dir, SHARD_INDEX);
    const shards = (await readdir(dir).catch(() => [])).filter((f) => /^model-\d+-of-\d+\.safetensors$/.test(f));
    throw new WeightsError(
      shards.length
        ? `${dir} has shards (${shards.sort().join(', ')}) but no ${SHARD_INDEX} to say which tensor is where`
        : `${dir} has no model.safetensors (nor ${SHARD_INDEX}, for a checkpoint saved in shards)`,
    );
  });
  let index: unknown;
  try {
    index = JSON.parse(indexText);
  } catch (e) {
    throw new WeightsError(`${join(dir, SHARD_INDEX)} is not valid JSON (${(e as Error).message})`);
  }
  const { files } = parseShardIndex(index, join(dir, SHARD_INDEX));
  const shards = [];
  for (const file of files) {
    const shard = await readWholeFile(join(dir, file)).catch((e) => {
      throw fileError(e, dir, `${file}, a shard that ${SHARD_INDEX} lists`);
    });
    shards.push({ file, bytes: shard });
  }
  return loadModelFromShards(configText, index, shards, name);
}

/**
 * Read a file into a single buffer allocated once at its final size. fs.readFile would too, but it refuses files
 * over 2 GiB, and gpt2-large in F32 is 3.1 GB.
 */
export async function readWholeFile(path: string): Promise<Uint8Array> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    let buffer: Uint8Array;
    try {
      buffer = new Uint8Array(size);
    } catch {
      throw new WeightsError(`${path} is ${size} bytes, more than this JavaScript engine can hold in one buffer`);
    }
    const chunk = 64 << 20;
    for (let offset = 0; offset < size; ) {
      const { bytesRead } = await file.read(buffer, offset, Math.min(chunk, size - offset), offset);
      if (bytesRead === 0) throw new WeightsError(`${path} shrank while being read (${offset} of ${size} bytes)`);
      offset += bytesRead;
    }
    return buffer;
  } finally {
    await file.close();
  }
}

function fileError(e: unknown, dir: string, file: string): Error {
  if (e instanceof WeightsError) return e;
  if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new WeightsError(`${dir} has no ${file}`);
  return new WeightsError(`cannot read ${join(dir, file)}: ${(e as Error).message}`);
}

/**
 * Write a random checkpoint as a Hugging Face layout folder. Streams tensor by tensor, so a GPT-2-Small-sized
 * checkpoint needs memory for its largest tensor (wte), not for the whole file.
 */
export async function writeRandomCheckpoint(
  dir: string,
  cfg: GPT2Config,
  seed: number,
  dtype: FloatDtype = 'F32',
): Promise<{ configPath: string; safetensorsPath: string; bytes: number }> {
  await mkdir(dir, { recursive: true });
  const configPath = join(dir, 'config.json');
  await writeFile(configPath, JSON.stringify(hfConfigJson(cfg), null, 2) + '\n');

  const tensors = checkpointTensors(cfg, seed);
  const { prefix, dataLength } = encodeSafetensorsHeader(
    tensors.map(({ name, shape }) => ({ name, dtype, shape })),
    checkpointMetadata(seed),
  );
  const safetensorsPath = join(dir, 'model.safetensors');
  const file = await open(safetensorsPath, 'w');
  try {
    let position = await writeFully(file, prefix, 0);
    for (const t of tensors) position = await writeFully(file, encodeTensorData(dtype, t.generate()), position);
  } finally {
    await file.close();
  }
  return { configPath, safetensorsPath, bytes: prefix.length + dataLength };
}

/** write() may write less than asked for: loop until all of `data` is on disk. Returns the next position. */
async function writeFully(file: FileHandle, data: Uint8Array, position: number): Promise<number> {
  for (let done = 0; done < data.length; ) {
    const { bytesWritten } = await file.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
  return position + data.length;
}
