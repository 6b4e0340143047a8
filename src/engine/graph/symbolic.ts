// Symbolic sizes by tracing: a graph is built with concrete sizes (every shape check of the builder stays), once
// at the sizes wanted and once more with each symbolic size moved, and the builds are compared. Where they differ
// only in int64 constants (reshape targets, slice bounds, ranges) and in input and output dimensions, and every
// difference is affine in the sizes (checked on one more build with all of them moved), the first build becomes a
// graph with open dimensions (ONNX dim_param) whose size-dependent constants are computed at run time from the
// inputs' shapes. One onnxruntime session then serves every size (issue 15: sessions that outlive a prompt).
// Anything else that changes with a size (a float constant, a constant of another length, another structure)
// makes the trace fail with a reason, and the caller keys its session by the concrete sizes instead.
import { Graph, type AttrValue, type Tensor } from './graph';

export interface SymbolicSize {
  /** ONNX dim_param name, e.g. SYM_POS. */
  name: string;
  value: number;
  /** The size the second build uses (value + 1 by default; value - 1 near a limit). */
  moved?: number;
}

export type Traced = { graph: Graph; symbolic: true } | { graph: Graph; symbolic: false; reason: string };

/**
 * Builds `build(sizes)` at the given sizes and at moved ones; returns the graph with symbolic sizes, or the plain
 * graph (built at the given sizes) and why it cannot be symbolic.
 */
export function traceSymbolic(build: (sizes: number[]) => Graph, sizes: SymbolicSize[]): Traced {
  const base = sizes.map((s) => s.value);
  const step = sizes.map((s) => (s.moved ?? s.value + 1) - s.value);
  const buildTraced = (v: number[]) => {
    const was = Graph.tracing;
    Graph.tracing = true;
    try {
      return build(v);
    } finally {
      Graph.tracing = was;
    }
  };
  const g0 = buildTraced(base);
  let moved: Graph[];
  let check: Graph;
  try {
    moved = sizes.map((_, i) => buildTraced(base.map((v, j) => (j === i ? v + step[j] : v))));
    check = buildTraced(base.map((v, j) => v + 2 * step[j]));
  } catch (e) {
    return { graph: g0, symbolic: false, reason: `a build at other sizes failed: ${(e as Error).message}` };
  }
  const fail = (reason: string): Traced => ({ graph: g0, symbolic: false, reason });

  // value = offset + sum_i coef_i * size_i, from the moved builds; verified on the check build.
  const fit = (v0: number, vi: number[], vc: number) => {
    const coefs = vi.map((v, i) => (v - v0) / step[i]);
    if (coefs.some((c) => !Number.isInteger(c))) return null;
    const offset = v0 - coefs.reduce((s, c, i) => s + c * base[i], 0);
    const predicted = offset + coefs.reduce((s, c, i) => s + c * (base[i] + 2 * step[i]), 0);
    return predicted === vc ? { offset, coefs } : null;
  };

  const all = [g0, ...moved, check];
  if (new Set(all.map((g) => `${g.nodes.length}/${g.inputs.length}/${g.outputs.length}/${g.constants.length}`)).size !== 1)
    return fail('the graph has another structure at other sizes');
  for (let n = 0; n < g0.nodes.length; n++) {
    const sig = (g: Graph) => {
      const node = g.nodes[n];
      return `${node.op}(${node.inputs.map((t) => t.name)})->${node.output.name}:${node.output.dtype}:${attrs(node.attrs)}`;
    };
    const s0 = sig(g0);
    if (all.some((g) => sig(g) !== s0)) return fail(`node ${s0} differs at other sizes`);
  }

  // Constants: equal, or int64 of one length with affine values (set on the graph only once the trace succeeds).
  const affine = new Map<Tensor, { offset: number[]; coefs: number[][] }>();
  for (let c = 0; c < g0.constants.length; c++) {
    const [t0, ...rest] = all.map((g) => g.constants[c]);
    const d0 = t0.constant!;
    for (const t of rest) {
      const d = t.constant!;
      if (t.name !== t0.name || d.dtype !== d0.dtype || d.values.length !== d0.values.length || d.shape.length !== d0.shape.length)
        return fail(`constant ${t0.name} changes its shape at other sizes`);
    }
    const vals = [t0, ...rest].map((t) => Array.from(t.constant!.values as ArrayLike<number | bigint>, Number));
    if (vals.every((v) => v.every((x, j) => x === vals[0][j]))) continue;
    if (d0.dtype !== 'int64') return fail(`the ${d0.dtype} constant ${t0.name} changes with the sizes`);
    const offset: number[] = [];
    const coefs: number[][] = sizes.map(() => []);
    for (let j = 0; j < vals[0].length; j++) {
      const f = fit(vals[0][j], sizes.map((_, i) => vals[1 + i][j]), vals[1 + sizes.length][j]);
      if (!f) return fail(`constant ${t0.name} is not affine in the sizes`);
      offset.push(f.offset);
      f.coefs.forEach((k, i) => coefs[i].push(k));
    }
    affine.set(t0, { offset, coefs });
  }

  // Input and output dimensions: fixed or affine; each size read from an input dimension equal to size + offset.
  const dims = new Map<Tensor, (string | undefined)[]>();
  const sources: ({ input: Tensor; axis: number; offset: number } | undefined)[] = sizes.map(() => undefined);
  for (const kind of ['inputs', 'outputs'] as const)
    for (let k = 0; k < g0[kind].length; k++) {
      const [t0, ...rest] = all.map((g) => g[kind][k]);
      if (rest.some((t) => t.name !== t0.name || t.rank !== t0.rank || t.dtype !== t0.dtype)) return fail(`${kind} ${t0.name} differs at other sizes`);
      const names: (string | undefined)[] = [];
      for (let a = 0; a < t0.rank; a++) {
        const f = fit(t0.shape[a], rest.slice(0, sizes.length).map((t) => t.shape[a]), rest[sizes.length].shape[a]);
        if (!f) return fail(`dimension ${a} of ${t0.name} is not affine in the sizes`);
        if (f.coefs.every((c) => c === 0)) {
          names.push(undefined);
          continue;
        }
        names.push(dimName(sizes, f));
        const unit = f.coefs.findIndex((c) => c === 1);
        if (kind === 'inputs' && unit >= 0 && f.coefs.every((c, i) => i === unit || c === 0))
          sources[unit] ??= { input: t0, axis: a, offset: f.offset };
      }
      if (names.some((n) => n !== undefined)) dims.set(t0, names);
    }
  const missing = sizes.filter((_, i) => !sources[i]);
  if (missing.length) return fail(`no input has a dimension equal to ${missing.map((s) => s.name).join(', ')}`);
  for (const [t, a] of affine) t.constant!.affine = a;
  g0.symbolic = { names: sizes.map((s) => s.name), sources: sources.map((s) => s!), dims };
  return { graph: g0, symbolic: true };
}

function attrs(a: Record<string, AttrValue>): string {
  return JSON.stringify(Object.entries(a).sort(([x], [y]) => (x < y ? -1 : 1)));
}

/** A readable dim_param: SYM_POS, SYM_POS-SYM_PAST, 2*SYM_RUNS+1. */
function dimName(sizes: SymbolicSize[], f: { offset: number; coefs: number[] }): string {
  let s = '';
  f.coefs.forEach((c, i) => {
    if (c === 0) return;
    const term = Math.abs(c) === 1 ? sizes[i].name : `${Math.abs(c)}*${sizes[i].name}`;
    s += c < 0 ? `-${term}` : s ? `+${term}` : term;
  });
  if (f.offset) s += f.offset > 0 ? `+${f.offset}` : `${f.offset}`;
  return s;
}
