// Streamed JSON output (issue 16: a 51M-number result failed with "Invalid string length" after the whole run).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Labelled } from '../engine/patching';
import { checkOutputPath, OutputError, writeJson, writeJsonFile } from './json-out';

const dir = mkdtempSync(join(tmpdir(), 'patchwork-json-out-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const grid = (shape: number[], f: (i: number) => number): Labelled => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { axes: ['layer', 'head', 'query_pos', 'key_pos'].slice(0, shape.length) as Labelled['axes'], shape, data: Float64Array.from({ length: n }, (_, i) => f(i)) };
};

/** The layout JSON.stringify gives a Labelled's nested arrays, built independently of json-out. */
function nestedArrays(x: Labelled): unknown {
  const out: unknown[] = [];
  const rows = x.data.length / x.shape.at(-1)!;
  const flat: number[][] = Array.from({ length: rows }, (_, r) => Array.from(x.data.subarray(r * x.shape.at(-1)!, (r + 1) * x.shape.at(-1)!)));
  const group = (items: unknown[], size: number) => Array.from({ length: items.length / size }, (_, i) => items.slice(i * size, (i + 1) * size));
  let level: unknown[] = flat;
  for (let a = x.shape.length - 2; a >= 0; a--) level = group(level, x.shape[a]);
  out.push(...level);
  return out[0];
}

describe('writeJson', () => {
  it('writes what JSON.stringify writes, Labelled values as nested arrays', () => {
    const x = grid([2, 3, 4], (i) => (i % 5 === 0 ? -0 : i / 7 - 1e-12 * i));
    const value = { tokens: { clean: [50256, 1, 2], wrong: null }, skip: undefined, metric: { name: 'logit_diff', clean: 1.5 }, values: { head_out: x }, list: [1, 'a', true] };
    let text = '';
    writeJson((c) => (text += c), value);
    expect(text).toBe(JSON.stringify({ ...value, values: { head_out: nestedArrays(x) } }));
  });

  it('never builds the whole text: pieces of about 1 MiB for a 10 MB result', () => {
    const x = grid([4, 4, 300, 300], (i) => Math.sin(i) * 1e-3); // 1.44M numbers, ~30 MB of text
    const sizes: number[] = [];
    writeJson((c) => void sizes.push(c.length), { pattern_by_pos: x });
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(10e6);
    expect(Math.max(...sizes)).toBeLessThan((1 << 20) + 10_000); // a chunk ends at the first row past 1 MiB
  });
});

describe('writeJsonFile', () => {
  it('writes the file atomically', () => {
    const path = join(dir, 'ok.json');
    writeJsonFile(path, { a: grid([2, 2], (i) => i) });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ a: [[0, 1], [2, 3]] });
    expect(readdirSync(dir)).toEqual(['ok.json']);
  });

  it('an error in the middle leaves no file, partial or temporary', () => {
    const path = join(dir, 'broken.json');
    const poisoned = { a: grid([4, 4, 300, 300], (i) => i), b: { toJSON: () => { throw new Error('boom'); } } };
    expect(() => writeJsonFile(path, poisoned)).toThrow('boom');
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('broken'))).toEqual([]);
  });
});

describe('checkOutputPath', () => {
  it('says why a path cannot be written, before anything is computed', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    expect(() => checkOutputPath(join(dir, 'no-such-folder', 'out.json'))).toThrow(new OutputError(`cannot write ${join(dir, 'no-such-folder', 'out.json')}: the folder ${join(dir, 'no-such-folder')} does not exist`));
    expect(() => checkOutputPath(join(file, 'out.json'))).toThrow(new OutputError(`cannot write ${join(file, 'out.json')}: ${file} is not a folder`));
    expect(() => checkOutputPath(dir)).toThrow(new OutputError(`cannot write ${dir}: it is a folder`));
    expect(() => checkOutputPath(join(dir, 'fine.json'))).not.toThrow();
    expect(existsSync(join(dir, 'fine.json'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });
});
