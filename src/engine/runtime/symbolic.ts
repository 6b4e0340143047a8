// Sessions that outlive a prompt (issue 15): a graph kind is built with symbolic sizes (graph/symbolic.ts) and its
// session is cached under a key without them, so a prompt of another length, or a sweep run of another size,
// reuses it. A kind that cannot be symbolic (a constant that is not affine in the sizes, e.g. a [pos, pos] mask
// built on the host) is remembered, and its sessions are keyed by the concrete sizes as before.
import { traceSymbolic, type Graph, type SymbolicSize } from '../graph';
import type { DeviceTensor, Feed, Fetched, KeptRun, Runtime } from './types';

const concreteOnly = new WeakMap<Runtime, Map<string, string>>();

class NotSymbolic extends Error {}

/**
 * Runs the graph kind `key` (everything that shapes the graph except `sizes`) built by `build(sizes)`; its session
 * serves every value of the sizes where the graph can be symbolic.
 */
export async function runSymbolic(
  rt: Runtime, key: string, sizes: SymbolicSize[], build: (sizes: number[]) => Graph, feeds: Record<string, Feed>,
): Promise<Record<string, Fetched>> {
  return symbolicRun(rt, key, sizes, build, (k, b) => rt.run(k, b, feeds));
}

/**
 * runSymbolic with Runtime.runKeeping: outputs where `keep(name)` stay on the device, `held` tensors are fed.
 * A runtime without runKeeping fetches every output (kept is then empty).
 */
export async function runSymbolicKeeping(
  rt: Runtime, key: string, sizes: SymbolicSize[], build: (sizes: number[]) => Graph, feeds: Record<string, Feed>,
  held: Record<string, DeviceTensor>, keep: (output: string) => boolean,
): Promise<KeptRun> {
  if (!rt.runKeeping) return { fetched: await runSymbolic(rt, key, sizes, build, feeds), kept: {} };
  return symbolicRun(rt, key, sizes, build, (k, b) => rt.runKeeping!(k, b, feeds, held, keep));
}

async function symbolicRun<T>(
  rt: Runtime, key: string, sizes: SymbolicSize[], build: (sizes: number[]) => Graph, exec: (key: string, build: () => Graph) => Promise<T>,
): Promise<T> {
  let known = concreteOnly.get(rt);
  if (!known) concreteOnly.set(rt, (known = new Map()));
  const values = sizes.map((s) => s.value);
  const concreteKey = `${key}@${sizes.map((s) => `${s.name}=${s.value}`).join(',')}`;
  if (!known.has(key)) {
    let plain: Graph | undefined;
    try {
      return await exec(`${key}@symbolic`, () => {
        const t = traceSymbolic(build, sizes);
        if (t.symbolic) return t.graph;
        plain = t.graph;
        throw new NotSymbolic(t.reason);
      });
    } catch (e) {
      if (!(e instanceof NotSymbolic)) throw e;
      known.set(key, e.message);
      return exec(concreteKey, () => plain ?? build(values));
    }
  }
  return exec(concreteKey, () => build(values));
}

/** Why the graph kind `key` has one session per size on this runtime (undefined: it is symbolic or not run yet). */
export function whyConcrete(rt: Runtime, key: string): string | undefined {
  return concreteOnly.get(rt)?.get(key);
}

/**
 * How sizes move in the traces: up by one while the largest trace (`total` positions, +2 per size) stays within
 * `limit` (the context), else down by one.
 */
export function sizesWithin(limit: number, total: number, sizes: { name: string; value: number }[]): SymbolicSize[] {
  const up = total + 2 * sizes.length <= limit;
  return sizes.map((s) => ({ ...s, moved: up ? s.value + 1 : s.value - 1 }));
}
