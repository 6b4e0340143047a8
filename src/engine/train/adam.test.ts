import { describe, expect, it } from 'vitest';
import type { Weights } from '../model/types';
import { Adam, learningRate } from './adam';

const param = (xs: number[]): Weights => new Map([['w', { shape: [xs.length], data: Float32Array.from(xs) }]]);

describe('Adam', () => {
  it('takes a first step of lr * sign(g) (bias correction makes m / sqrt(v) = g / |g|)', () => {
    const w = param([1, -2, 0.5]);
    new Adam(w, { eps: 0 }).step(new Map([['w', Float32Array.from([0.3, -4, 1e-3])]]), 0.1);
    expect(Array.from(w.get('w')!.data)).toEqual(Array.from(Float32Array.from([0.9, -1.9, 0.4])));
  });

  it('matches a float64 transcription of the update over several steps', () => {
    const w = param([0.2, -0.7]);
    const opt = new Adam(w, { beta1: 0.8, beta2: 0.9, eps: 1e-6 });
    const ref = [0.2, -0.7];
    const m = [0, 0];
    const v = [0, 0];
    for (let t = 1; t <= 5; t++) {
      const g = [Math.sin(t), 0.1 * t];
      opt.step(new Map([['w', Float32Array.from(g)]]), 0.01);
      for (let i = 0; i < 2; i++) {
        m[i] = 0.8 * m[i] + 0.2 * g[i];
        v[i] = 0.9 * v[i] + 0.1 * g[i] * g[i];
        ref[i] -= (0.01 * m[i]) / (1 - 0.8 ** t) / (Math.sqrt(v[i] / (1 - 0.9 ** t)) + 1e-6);
      }
    }
    for (let i = 0; i < 2; i++) expect(w.get('w')!.data[i]).toBeCloseTo(ref[i], 6);
  });

  it('decays matrices but not vectors when weight decay is on', () => {
    const w: Weights = new Map([
      ['m', { shape: [1, 1], data: Float32Array.from([2]) }],
      ['b', { shape: [1], data: Float32Array.from([2]) }],
    ]);
    new Adam(w, { weightDecay: 0.5 }).step(new Map([['m', Float32Array.from([0])], ['b', Float32Array.from([0])]]), 0.1);
    expect(w.get('m')!.data[0]).toBeCloseTo(2 * (1 - 0.05), 6);
    expect(w.get('b')!.data[0]).toBe(2);
  });

  it('refuses a missing gradient', () => {
    expect(() => new Adam(param([1])).step(new Map(), 0.1)).toThrow(/gradient .* for w/);
  });
});

describe('learningRate', () => {
  const s = { peak: 1e-3, warmup: 10, total: 110, minRatio: 0.1 };
  it('warms up linearly, peaks, then decays by a cosine to the floor', () => {
    expect(learningRate(0, s)).toBeCloseTo(1e-4, 12);
    expect(learningRate(9, s)).toBeCloseTo(1e-3, 12);
    expect(learningRate(10, s)).toBeCloseTo(1e-3, 12);
    expect(learningRate(60, s)).toBeCloseTo(0.55e-3, 12);
    expect(learningRate(110, s)).toBeCloseTo(1e-4, 12);
    for (let t = 10; t < 110; t++) expect(learningRate(t + 1, s)).toBeLessThanOrEqual(learningRate(t, s));
  });
});
