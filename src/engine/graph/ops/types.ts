import type { Node, Tensor } from '../graph';

/** A gradient rule: given the node and the gradient of its output, one gradient per input (null: none). */
export type GradRule = (node: Node, g: Tensor) => (Tensor | null)[];
