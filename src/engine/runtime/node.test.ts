// --threads 100000 ran for minutes (issue 16): requests are bounded by the machine's cores, and say so.
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { boundThreads } from './node';

describe('boundThreads', () => {
  it('keeps a request within the cores, all cores by default', () => {
    expect(boundThreads(undefined, 8)).toEqual({ threads: 8 });
    expect(boundThreads(3, 8)).toEqual({ threads: 3 });
    expect(boundThreads(8, 8)).toEqual({ threads: 8 });
    expect(boundThreads(undefined)).toEqual({ threads: availableParallelism() });
  });

  it('lowers a request beyond the cores, with a note', () => {
    expect(boundThreads(100000, 2)).toEqual({ threads: 2, note: '100000 threads requested, but this machine has 2 cores: using 2' });
  });

  it('refuses what is not a positive whole number', () => {
    for (const bad of [0, -1, 1.5, NaN]) expect(() => boundThreads(bad, 4)).toThrow(/threads must be a positive whole number/);
  });
});
