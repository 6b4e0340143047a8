// Reverse-mode autodiff over the graph IR: one table of gradient rules, one per primitive op.
import { fmtShape, sameShape, type Node, type Tensor } from './graph';
import { Add, elementwiseRules } from './ops/elementwise';
import { gemmRules, matmulRules } from './ops/matmul';
import { shapeReduceRules } from './ops/shape-reduce';
import type { GradRule } from './ops/types';

export const GRAD_RULES: Record<string, GradRule> = { ...elementwiseRules, ...shapeReduceRules, ...matmulRules, ...gemmRules };

/**
 * Gradients of the scalar `loss` with respect to each tensor of `wrt` (any tensor: graph inputs such as weights,
 * or intermediate activations such as hooks). Returns one tensor per `wrt` entry, of its shape; a tensor that
 * `loss` does not depend on gets null. Only nodes on a path wrt -> loss are differentiated. Fan-out is summed;
 * tensors in graph.stopGrad pass no gradient to their producer.
 */
export function grad(loss: Tensor, wrt: Tensor[], seed?: Tensor): (Tensor | null)[] {
  const g = loss.graph;
  if (!seed && loss.size !== 1) throw new Error(`grad: loss must be a scalar, got shape [${loss.shape}]`);
  if (seed && !sameShape(seed.shape, loss.shape))
    throw new Error(`grad: the seed ${fmtShape(seed.shape)} must have the loss's shape ${fmtShape(loss.shape)}`);

  // Forward-reachable from wrt.
  const fromWrt = new Set<Tensor>(wrt);
  for (const n of g.nodes) if (n.inputs.some((i) => fromWrt.has(i)) && !g.stopGrad.has(n.output)) fromWrt.add(n.output);
  if (!fromWrt.has(loss)) return wrt.map(() => null);

  const grads = new Map<Tensor, Tensor>([[loss, seed ?? g.scalar(1)]]);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const node: Node = g.nodes[i];
    const gOut = grads.get(node.output);
    if (!gOut || g.stopGrad.has(node.output)) continue;
    if (!node.inputs.some((inp) => fromWrt.has(inp))) continue;
    const rule = GRAD_RULES[node.op];
    if (!rule) throw new Error(`autodiff: no gradient rule for op ${node.op} (node ${node.output.name}); write one in src/engine/graph/ops`);
    const gIn = rule(node, expandSeed(gOut, node.output));
    node.inputs.forEach((inp, k) => {
      const gi = gIn[k];
      if (!gi || !fromWrt.has(inp)) return;
      const prev = grads.get(inp);
      grads.set(inp, prev ? Add(prev, gi) : gi);
    });
  }
  return wrt.map((t) => grads.get(t) ?? null);
}

/** The scalar seed 1 has shape []; rules expect a gradient of the output's own shape when it is [1]-like. */
function expandSeed(gOut: Tensor, out: Tensor): Tensor {
  if (gOut.rank === out.rank) return gOut;
  return gOut.graph.node('Reshape', [gOut, gOut.graph.ints(out.shape)], out.shape, gOut.dtype);
}
