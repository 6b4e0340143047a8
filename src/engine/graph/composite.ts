// Composite ops written from primitives, so they need no gradient rule of their own.
import type { Tensor } from './graph';
import { Add, Div, Exp, Identity, Log, Mul, Sqrt, Sub, Tanh } from './ops/elementwise';
import { ReduceMax, ReduceSum } from './ops/shape-reduce';

/** Forward: identity. Backward: no gradient flows through into `x`'s producer. */
export function stopGradient(x: Tensor): Tensor {
  const out = Identity(x);
  x.graph.stopGrad.add(out);
  return out;
}

/** Mean over the last axis, keeping it as size 1. */
export function meanLast(x: Tensor): Tensor {
  return Mul(ReduceSum(x, [-1], true), 1 / x.shape[x.rank - 1]);
}

/** Softmax over the last axis with max-subtraction (the max carries no gradient: softmax is shift invariant). */
export function softmax(x: Tensor): Tensor {
  const e = Exp(Sub(x, stopGradient(ReduceMax(x, [-1], true))));
  return Div(e, ReduceSum(e, [-1], true));
}

/** log(sum(exp(x))) over the last axis, keeping it as size 1. */
export function logSumExp(x: Tensor): Tensor {
  const m = stopGradient(ReduceMax(x, [-1], true));
  return Add(Log(ReduceSum(Exp(Sub(x, m)), [-1], true)), m);
}

/** GPT-2's gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function geluNew(x: Tensor): Tensor {
  const inner = Mul(Add(x, Mul(Mul(Mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return Mul(Mul(x, 0.5), Add(Tanh(inner), 1));
}

export interface LayerNormParts {
  /** sqrt(mean((x - mean)^2) + eps), [..., 1]: TransformerLens's hook_scale. */
  scale: Tensor;
  /**
   * (x - mean) / scale * w + b: TransformerLens's hook_normalized, which for LayerNorm with unfolded weights is the
   * LN output (transformer_lens/components/layer_norm.py: `return self.hook_normalized(x * self.w + self.b)`).
   */
  normalized: Tensor;
  /** The output used downstream (equal to `normalized`). */
  out: Tensor;
}

/**
 * LayerNorm over the last axis, exposing TransformerLens's two hooks. `hookScale` and `hookNormalized` let the
 * caller name, replace or freeze those tensors; what they return is used downstream.
 */
export function layerNorm(
  x: Tensor,
  w: Tensor,
  b: Tensor,
  eps: number,
  hookScale: (t: Tensor) => Tensor = (t) => t,
  hookNormalized: (t: Tensor) => Tensor = (t) => t,
): LayerNormParts {
  const centred = Sub(x, meanLast(x));
  const scale = hookScale(Sqrt(Add(meanLast(Mul(centred, centred)), eps)));
  const normalized = hookNormalized(Add(Mul(Div(centred, scale), w), b));
  return { scale, normalized, out: normalized };
}
