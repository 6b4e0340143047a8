// Tolerance checks that print the largest difference (llm.c style), so a failure says where and by how much.
import { expect } from 'vitest';

export interface Diff {
  maxAbs: number;
  scale: number;
  rel: number;
  at: number;
}

/** Normwise relative difference: max|a - e| / max(max|e|, floor). Infinities must match exactly. */
export function relDiff(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-6): Diff {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let maxAbs = 0;
  let scale = floor;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (a !== e) return { maxAbs: Infinity, scale, rel: Infinity, at: i };
      continue;
    }
    scale = Math.max(scale, Math.abs(e));
    const d = Math.abs(a - e);
    if (d > maxAbs) [maxAbs, at] = [d, i];
  }
  return { maxAbs, scale, rel: maxAbs / scale, at };
}

export function expectClose(label: string, actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, floor?: number): Diff {
  const d = relDiff(actual, expected, floor);
  const msg = `${label}: max |diff| ${d.maxAbs.toExponential(2)} at ${d.at} (actual ${actual[d.at]}, expected ${expected[d.at]}), relative ${d.rel.toExponential(2)} > ${rtol}`;
  expect(d.rel, msg).toBeLessThanOrEqual(rtol);
  return d;
}
