// Reference cells of every patch family, written from TransformerLens's patching.py semantics, independently of
// the engine's family table (src/engine/patching/families.ts): for each family, the result shape, and for one
// result index, the hook and the flat indices into that hook's tensor (test/reference/gpt2-f64.ts layouts, no
// batch axis) that a patch of the cell replaces. Plain loops; nothing imported from src/engine/patching.
import type { GPT2Config } from '../../src/engine/model/types';

export interface RefCell {
  hook: string;
  /** Flat indices into the hook tensor. */
  entries: number[];
}

interface RefFamily {
  shape: (cfg: GPT2Config, P: number) => number[];
  cell: (cfg: GPT2Config, P: number, index: number[]) => RefCell;
}

/** Flat indices of a [P, d] residual-like hook at position p. */
function residAt(P: number, d: number, p: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < d; i++) out.push(p * d + i);
  return out;
}

/** [pos, head_index, d_head] at one head, every position or one position. */
function headEntries(cfg: GPT2Config, P: number, head: number, pos?: number): number[] {
  const { nHeads: H, dHead: dh } = cfg;
  const out: number[] = [];
  for (let p = 0; p < P; p++) {
    if (pos !== undefined && p !== pos) continue;
    for (let i = 0; i < dh; i++) out.push((p * H + head) * dh + i);
  }
  return out;
}

/** [head_index, query_pos, key_pos] at one head; optionally one query row, optionally one key. */
function patternEntries(P: number, head: number, query?: number, key?: number): number[] {
  const out: number[] = [];
  for (let q = 0; q < P; q++) {
    if (query !== undefined && q !== query) continue;
    for (let k = 0; k < P; k++) if (key === undefined || k === key) out.push((head * P + q) * P + k);
  }
  return out;
}

const resid = (suffix: string): RefFamily => ({
  shape: (cfg, P) => [cfg.nLayers, P],
  cell: (cfg, _P, [l, p]) => ({ hook: `blocks.${l}.${suffix}`, entries: residAt(_P, cfg.dModel, p) }),
});
const wholeHead = (suffix: string): RefFamily => ({
  shape: (cfg) => [cfg.nLayers, cfg.nHeads],
  cell: (cfg, P, [l, h]) => ({ hook: `blocks.${l}.attn.${suffix}`, entries: headEntries(cfg, P, h) }),
});
const headAtPos = (suffix: string): RefFamily => ({
  shape: (cfg, P) => [cfg.nLayers, cfg.nHeads, P],
  cell: (cfg, P, [l, h, p]) => ({ hook: `blocks.${l}.attn.${suffix}`, entries: headEntries(cfg, P, h, p) }),
});

export const REF_FAMILIES: Record<string, RefFamily> = {
  resid_pre: resid('hook_resid_pre'),
  resid_mid: resid('hook_resid_mid'),
  resid_post: resid('hook_resid_post'),
  attn_out: resid('hook_attn_out'),
  mlp_out: resid('hook_mlp_out'),
  head_out: headAtPos('hook_z'),
  head_out_all_pos: wholeHead('hook_z'),
  q: wholeHead('hook_q'),
  k: wholeHead('hook_k'),
  v: wholeHead('hook_v'),
  q_by_pos: headAtPos('hook_q'),
  k_by_pos: headAtPos('hook_k'),
  v_by_pos: headAtPos('hook_v'),
  pattern: {
    shape: (cfg) => [cfg.nLayers, cfg.nHeads],
    cell: (_cfg, P, [l, h]) => ({ hook: `blocks.${l}.attn.hook_pattern`, entries: patternEntries(P, h) }),
  },
  // get_act_patch_attn_head_pattern_by_pos: [layer, head_index, dest_pos], the whole row at one destination.
  pattern_dest: {
    shape: (cfg, P) => [cfg.nLayers, cfg.nHeads, P],
    cell: (_cfg, P, [l, h, q]) => ({ hook: `blocks.${l}.attn.hook_pattern`, entries: patternEntries(P, h, q) }),
  },
  pattern_by_pos: {
    shape: (cfg, P) => [cfg.nLayers, cfg.nHeads, P, P],
    cell: (_cfg, P, [l, h, q, k]) => ({ hook: `blocks.${l}.attn.hook_pattern`, entries: patternEntries(P, h, q, k) }),
  },
  mlp_post: {
    shape: (cfg, P) => [cfg.nLayers, P, cfg.dMlp],
    cell: (cfg, _P, [l, p, n]) => ({ hook: `blocks.${l}.mlp.hook_post`, entries: [p * cfg.dMlp + n] }),
  },
};

/** Every result index of a reference family, row-major (the layer axis outermost). */
export function refIndices(family: string, cfg: GPT2Config, P: number): number[][] {
  const f = REF_FAMILIES[family];
  if (!f) throw new Error(`reference: no family ${family}`);
  let out: number[][] = [[]];
  for (const n of f.shape(cfg, P)) out = out.flatMap((prefix) => Array.from({ length: n }, (_, i) => [...prefix, i]));
  return out;
}

export function refCell(family: string, cfg: GPT2Config, P: number, index: number[]): RefCell {
  const f = REF_FAMILIES[family];
  if (!f) throw new Error(`reference: no family ${family}`);
  return f.cell(cfg, P, index);
}
