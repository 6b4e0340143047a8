// The one shape product of the code base (graph, checkpoints, patching layouts and views all count entries with it).
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
