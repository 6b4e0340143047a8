// IEEE 754 binary16, decoded in float64 from its definition (sign, 5-bit exponent biased by 15, 10-bit fraction),
// independent of the engine's float32 -> float16 conversion: the tests check that conversion against it.
import type { Weights } from '../../src/engine/model/types';

/** The value of a float16 bit pattern. */
export function decodeFloat16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal (and zero)
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * The float16 value nearest to x (ties to the even fraction), found by bisection over the ordered positive
 * patterns 0x0000..0x7bff; beyond 65504 + half a step (65520) it is Infinity.
 */
export function nearestFloat16(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  const s = x < 0 || Object.is(x, -0) ? -1 : 1;
  if (a >= 65520) return s * Infinity;
  let lo = 0;
  let hi = 0x7bff;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (decodeFloat16(mid) <= a) lo = mid;
    else hi = mid;
  }
  const [dl, dh] = [decodeFloat16(lo), decodeFloat16(hi)];
  const pick = a - dl < dh - a ? lo : a - dl > dh - a ? hi : lo % 2 === 0 ? lo : hi;
  return s * decodeFloat16(a <= dl ? lo : pick);
}

/** Weights as a float16 runtime holds them: each value rounded to the nearest float16 (as float32 again). */
export function roundedToFloat16(weights: Weights): Weights {
  return new Map([...weights].map(([name, w]) => [name, { shape: w.shape, data: Float32Array.from(w.data, nearestFloat16) }]));
}
