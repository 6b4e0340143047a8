// hook_z patches below the last layer, packed (issue 15: the sweep's speed). Patching z (attention's output) at
// positions lo..hi of layer L changes layer L only there and only after its attention, and every later layer only
// from lo on (causal attention). So a run takes the base run's cached z, patches it, and computes layer L's output
// projection and MLP at lo..hi only; layers L+1.. start from that and from the cached resid_pre of layer L+1 at the
// row's other positions, from the row's own first position on (model/gpt2-packed.ts: tokens of rows with different
// first positions packed together, so no row computes a position its patch cannot change), with keys and values
// before it from the cache. The last layer computes only what the metric positions need.
import { Add, Concat, Gather, Graph, MatMul, Reshape, Where } from '../graph';
import { weightInputs } from '../model/gpt2';
import { packedForward, residualMlp } from '../model/gpt2-packed';
import type { GPT2Config } from '../model/types';
import { int64Feed, type Feed, type Fetched } from '../runtime/types';
import { sizesWithin } from '../runtime/symbolic';
import type { SymbolicSize } from '../graph';
import { shapeKey } from './attribution';
import { atLength, type Experiment } from './experiment';
import { cellSelector, hookFor, type Family } from './families';
import { metricFeeds, metricInputs } from './metrics';
import { patchMetricRows } from './patch-metric';

/** One cell's patch of layer L's z: positions lo..hi, their mask [hi - lo + 1, heads x d_head], and its first computed position. */
export interface ZCell {
  lo: number;
  hi: number;
  start: number;
  mask: Uint8Array;
}

/** The z mask of one cell ([pos, head_index, d_head] of hook_z), cut to the positions it touches. */
export function zCell(cfg: GPT2Config, exp: Experiment, family: Family, index: readonly number[]): ZCell {
  const P = exp.nPos;
  const perPos = cfg.nHeads * cfg.dHead;
  const { select } = cellSelector(family, index);
  const full = new Uint8Array(P * perPos);
  let lo = P;
  let hi = -1;
  const coord = [0, 0, 0];
  for (let q = 0; q < P; q++)
    for (let h = 0; h < cfg.nHeads; h++)
      for (let e = 0; e < cfg.dHead; e++) {
        coord[0] = q;
        coord[1] = h;
        coord[2] = e;
        if (!select(coord)) continue;
        full[q * perPos + h * cfg.dHead + e] = 1;
        lo = Math.min(lo, q);
        hi = Math.max(hi, q);
      }
  if (hi < 0) throw new Error(`The ${family} cell [${index}] patches no entry of ${hookFor(family, index[0])}.`);
  return { lo, hi, start: Math.min(lo, ...exp.positions), mask: full.slice(lo * perPos, (hi + 1) * perPos) };
}

/** Tokens a cell's run computes: its positions from `start` on, for every pair. */
export const zCellTokens = (exp: Experiment, c: ZCell) => exp.nPairs * (exp.nPos - c.start);

/** Limits of one packed run: tokens computed, rows x positions (padded keys and values), and attention scores. */
export const PACKED_LIMITS = { tokens: 2048, rowPositions: 16384, scores: 1 << 24 };

/**
 * The cells' runs, as lists of indices into `cells`: cells sorted by first position, so that a run's rows need
 * about as many query slots as each computes, and cut where a run would pass PACKED_LIMITS (npm run bench's sweep is
 * one run per layer at 16 tokens) or hold `maxCells` cells; every run holds at least one cell. Long prompts get
 * smaller runs: padded keys, values and scores grow with the prompt's length per row.
 */
export function packedRuns(cfg: GPT2Config, exp: Experiment, cells: ZCell[], maxCells = Infinity): number[][] {
  const [N, P] = [exp.nPairs, exp.nPos];
  const order = cells.map((_, i) => i).sort((a, b) => cells[a].start - cells[b].start || a - b);
  const runs: number[][] = [];
  let run: number[] = [];
  let tokens = 0;
  let Q = 0;
  for (const i of order) {
    const t = zCellTokens(exp, cells[i]);
    const q = Math.max(Q, P - cells[i].start);
    const rows = (run.length + 1) * N;
    if (run.length && (run.length >= maxCells || tokens + t > PACKED_LIMITS.tokens || rows * P > PACKED_LIMITS.rowPositions ||
      rows * cfg.nHeads * q * P > PACKED_LIMITS.scores)) {
      runs.push(run);
      [run, tokens] = [[], 0];
    }
    run.push(i);
    tokens += t;
    Q = run.length === 1 ? P - cells[i].start : q;
  }
  if (run.length) runs.push(run);
  return runs;
}

/** [batch, pos, ...] as [batch * pos, rest]. */
const flat = (t: Fetched | Feed): Feed => {
  const [b, p, ...rest] = t.shape;
  return { dtype: 'float32', shape: [b * p, rest.reduce((x, y) => x * y, 1)], data: t.data as Float32Array };
};

/**
 * One run of S cells of layer `layer` (< the last), each applied to every pair: rows = S x nPairs, patch-major.
 * `base` reads the base run's cached activations by hook name ([nPairs, pos, ...]); `values` is what the patch
 * writes into hook_z ([nPairs, pos, head_index, d_head]: the source run's z, or an ablation's replacement).
 */
export function packedZRun(
  cfg: GPT2Config, exp: Experiment, layer: number, cells: ZCell[], base: (hook: string) => Fetched, values: Feed,
): { key: string; sizes: SymbolicSize[]; build: (sizes: number[]) => Graph; feeds: Record<string, Feed> } {
  const [N, P] = [exp.nPairs, exp.nPos];
  const perPos = cfg.nHeads * cfg.dHead;
  if (values.dtype !== 'float32') throw new Error(`The values patched into ${hookFor('head_out', layer)} must be float32.`);
  const S = cells.length;
  const U = cells.reduce((n, c) => n + N * (c.hi - c.lo + 1), 0);
  const T = cells.reduce((n, c) => n + zCellTokens(exp, c), 0);
  const Q = Math.max(...cells.map((c) => P - c.start)); // query slots per row: positions P - Q..P - 1
  const localIndex: number[] = [];
  const localMask = new Uint8Array(U * perPos);
  const start: number[] = [];
  const kv: number[] = [];
  const query: number[] = [];
  const back: number[] = [];
  const final: number[] = [];
  let t = 0;
  let u = 0;
  cells.forEach((c, s) => {
    for (let b = 0; b < N; b++) {
      const r = s * N + b;
      const first = t; // the token of (r, c.start)
      for (let q = c.lo; q <= c.hi; q++) {
        localIndex.push(b * P + q);
        localMask.set(c.mask.subarray((q - c.lo) * perPos, (q - c.lo + 1) * perPos), (u + q - c.lo) * perPos);
      }
      for (let q = 0; q < P; q++) {
        if (q < c.start) {
          kv.push(b * P + q);
          if (q >= P - Q) query.push(first);
          continue;
        }
        start.push(q >= c.lo && q <= c.hi ? u + q - c.lo : U + b * P + q);
        kv.push(N * P + t);
        query.push(t);
        back.push(r, q - (P - Q));
        t++;
      }
      for (const p of exp.positions) final.push(first + p - c.start);
      u += c.hi - c.lo + 1;
    }
  });
  const hook = hookFor('head_out', layer);
  const feeds: Record<string, Feed> = {
    'z.base': flat(base(hook)),
    'patch.values': flat(values),
    'resid.local': flat(base(`blocks.${layer}.hook_resid_pre`)),
    'resid.next': flat(base(`blocks.${layer + 1}.hook_resid_pre`)),
    'local.index': int64Feed(localIndex, [U]),
    'local.mask': { dtype: 'bool', shape: [U, perPos], data: localMask },
    'pack.start': int64Feed(start, [T]),
    'pack.kv': int64Feed(kv, [S * N, P]),
    'pack.query': int64Feed(query, [S * N, Q]),
    'pack.back': int64Feed(back, [T, 2]),
    'pack.final': int64Feed(final, [S, N, exp.positions.length]), // [S, N, K]: an input with SYM_RUNS itself as a dimension
    ...metricFeeds(cfg, exp),
  };
  for (let l = layer + 1; l < cfg.nLayers; l++) {
    feeds[`past.k.${l}`] = flat(base(`blocks.${l}.attn.hook_k`));
    feeds[`past.v.${l}`] = flat(base(`blocks.${l}.attn.hook_v`));
  }
  // One graph per layer serves every prompt length and run: SYM_POS, SYM_TOK (T), SYM_LOCAL (U), SYM_RUNS (S),
  // SYM_QUERY (Q).
  const key = `patch-zp:${cfg.name}:${shapeKey(exp)}:${hook}`;
  const sizes = sizesWithin(cfg.nCtx, P, [
    { name: 'SYM_POS', value: P }, { name: 'SYM_TOK', value: T }, { name: 'SYM_LOCAL', value: U }, { name: 'SYM_RUNS', value: S },
    { name: 'SYM_QUERY', value: Q },
  ]);
  const build = ([pos, tok, local, runs, q]: number[]) => packedZGraph(cfg, atLength(exp, pos), layer, tok, local, runs, q);
  return { key, sizes, build, feeds };
}

function packedZGraph(cfg: GPT2Config, exp: Experiment, layer: number, T: number, U: number, S: number, Q: number): Graph {
  const g = new Graph('patch-zp');
  const w = weightInputs(g, cfg);
  const W = (name: string) => w.get(name)!;
  const { nHeads: H, dHead: dh, dModel: D } = cfg;
  const [N, P] = [exp.nPairs, exp.nPos];
  const R = S * N;
  const p = `h.${layer}.`;
  // Layer L at the patched positions: z patched, then the output projection and the MLP.
  const local = g.input('local.index', [U], 'int64');
  const at = (name: string, width: number) => Gather(g.input(name, [N * P, width]), local);
  const z = Where(g.input('local.mask', [U, H * dh], 'bool'), at('patch.values', H * dh), at('z.base', H * dh)); // blocks.L.attn.hook_z
  const residMid = Add(at('resid.local', D), Add(MatMul(z, W(p + 'attn.c_proj.weight')), W(p + 'attn.c_proj.bias')));
  const residPost = residualMlp(cfg, w, layer, residMid); // [U, d_model]
  // blocks.L+1.hook_resid_pre at every computed token: recomputed at the patched positions, cached elsewhere.
  const x = Gather(Concat([residPost, g.input('resid.next', [N * P, D])], 0), g.input('pack.start', [T], 'int64'));
  const mIn = metricInputs(g, cfg, exp, true);
  const out = packedForward(cfg, w, x, layer + 1, {
    kv: g.input('pack.kv', [R, P], 'int64'),
    query: g.input('pack.query', [R, Q], 'int64'),
    back: g.input('pack.back', [T, 2], 'int64'),
    cached: (l) => ({ k: g.input(`past.k.${l}`, [N * P, D]), v: g.input(`past.v.${l}`, [N * P, D]) }),
    final: { tokens: Reshape(g.input('pack.final', [S, N, exp.positions.length], 'int64'), [R, exp.positions.length]), positions: mIn.positions! },
  });
  g.output(patchMetricRows(cfg, w, out, exp, { ...mIn, selected: true }), 'metric_rows');
  return g;
}
