// The wasm thread count the browser runtime gives onnxruntime-web, and the checks on a `?threads=N` override.
import { describe, expect, it } from 'vitest';
import { defaultWasmThreads, wasmThreads } from './web';

describe('defaultWasmThreads', () => {
  it('uses every core up to 8 on an isolated page', () => {
    expect(defaultWasmThreads(true, 2)).toBe(2);
    expect(defaultWasmThreads(true, 8)).toBe(8);
    expect(defaultWasmThreads(true, 64)).toBe(8);
  });
  it('uses one thread when the page is not isolated (no SharedArrayBuffer)', () => {
    expect(defaultWasmThreads(false, 16)).toBe(1);
  });
  it('treats a missing or odd core count as one core', () => {
    expect(defaultWasmThreads(true, undefined)).toBe(1);
    expect(defaultWasmThreads(true, 0)).toBe(1);
    expect(defaultWasmThreads(true, 2.5)).toBe(1);
  });
});

describe('wasmThreads (?threads=N)', () => {
  it('takes a valid override as given', () => {
    expect(wasmThreads('1', true, 4)).toEqual({ threads: 1 });
    expect(wasmThreads('3', true, 4)).toEqual({ threads: 3 });
    expect(wasmThreads(null, true, 4)).toEqual({ threads: 4 });
  });
  it('refuses what is not a whole number of at least 1, naming it, and keeps the default', () => {
    for (const bad of ['abc', '0', '-2', '1.5', '', '2e1']) {
      const r = wasmThreads(bad, true, 4);
      expect(r.threads).toBe(4);
      expect(r.warning).toBe(`threads=${bad} is not a whole number of at least 1; using 4.`);
    }
  });
  it('lowers to the cores and says so', () => {
    expect(wasmThreads('16', true, 4)).toEqual({ threads: 4, warning: "threads=16 is more than this machine's 4 cores; using 4." });
  });
  it('says that threads need isolation', () => {
    const r = wasmThreads('4', false, 4);
    expect(r.threads).toBe(1);
    expect(r.warning).toMatch(/needs a cross-origin isolated page/);
    expect(wasmThreads('1', false, 4)).toEqual({ threads: 1 });
  });
});
