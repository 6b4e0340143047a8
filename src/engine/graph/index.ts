// The graph builder: a typed API that builds ONNX graphs in code, with reverse-mode autodiff.
export * from './graph';
export * from './ops/elementwise';
export * from './ops/shape-reduce';
export * from './ops/matmul';
export * from './composite';
export { grad, GRAD_RULES } from './autodiff';
export { toOnnx, liveNodes, OPSET } from './onnx';
export { traceSymbolic, type SymbolicSize, type Traced } from './symbolic';
