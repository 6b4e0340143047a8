// Patch families: ONE table. An entry names the TransformerLens activation a family patches and the layout of its
// result; everything else is derived here from that: the hook name, the cell a result index stands for (which
// hook entries a patch replaces), the first position a patch can change, and, in attribution.ts, the reduction of
// per-entry scores to the result layout. Hook shapes come from the model itself (hook-shapes.ts). Adding a family
// is one entry below plus its test.
//
// Pure data and index arithmetic: no graph code, so the page bundle imports this file for titles and layouts.
import type { AxisName } from './labelled';

/** Axes of a TransformerLens hook tensor, without the batch axis. */
export type HookAxis = 'pos' | 'd_model' | 'head_index' | 'd_head' | 'query_pos' | 'key_pos' | 'd_mlp';

/**
 * The activations families patch, by TransformerLens's `get_act_name` name: hook suffix (after `blocks.{layer}.`)
 * and per-sequence axes. The first `pos` or `query_pos` axis is the activation's position axis: a change there
 * reaches only that position and later ones (causal attention).
 */
export const ACTIVATIONS = {
  resid_pre: { hook: 'hook_resid_pre', axes: ['pos', 'd_model'] },
  resid_mid: { hook: 'hook_resid_mid', axes: ['pos', 'd_model'] },
  resid_post: { hook: 'hook_resid_post', axes: ['pos', 'd_model'] },
  attn_out: { hook: 'hook_attn_out', axes: ['pos', 'd_model'] },
  mlp_out: { hook: 'hook_mlp_out', axes: ['pos', 'd_model'] },
  q: { hook: 'attn.hook_q', axes: ['pos', 'head_index', 'd_head'] },
  k: { hook: 'attn.hook_k', axes: ['pos', 'head_index', 'd_head'] },
  v: { hook: 'attn.hook_v', axes: ['pos', 'head_index', 'd_head'] },
  z: { hook: 'attn.hook_z', axes: ['pos', 'head_index', 'd_head'] },
  pattern: { hook: 'attn.hook_pattern', axes: ['head_index', 'query_pos', 'key_pos'] },
  post: { hook: 'mlp.hook_post', axes: ['pos', 'd_mlp'] },
} as const satisfies Record<string, { hook: string; axes: readonly HookAxis[] }>;

export type Activation = keyof typeof ACTIVATIONS;

/** Which hook axis a result axis indexes (the result's `layer` picks the block). */
export const INDEXES: Record<Exclude<AxisName, 'layer'>, HookAxis> = {
  pos: 'pos', head: 'head_index', query_pos: 'query_pos', key_pos: 'key_pos', neuron: 'd_mlp',
};

/**
 * Where the browser shows a family (absent: CLI only). Every family with a view is computed by each Run, except
 * 'neurons' ([layer, pos, d_mlp] is big: the Neurons tab computes it on demand for the run on screen).
 */
export type FamilyView = 'residual' | 'heads' | 'heads_by_pos' | 'attention' | 'neurons';

export interface FamilyEntry {
  /** The activation patched. */
  act: Activation;
  /** Result layout, `layer` first. A cell fixes these; the hook axes it does not name are patched whole. */
  axes: readonly AxisName[];
  title: string;
  description: string;
  view?: FamilyView;
}

/**
 * Every patch family. Layouts follow TransformerLens's patching.py where it has the family
 * (get_act_patch_resid_pre: [layer, pos]; ..._attn_head_out_all_pos: [layer, head]; ..._attn_head_pattern_by_pos:
 * [layer, head, dest_pos], here `pattern_dest` with TransformerLens's query_pos name for dest_pos).
 */
export const FAMILY_TABLE = {
  resid_pre: { act: 'resid_pre', axes: ['layer', 'pos'], view: 'residual', title: 'Residual stream (resid_pre)', description: 'The residual stream entering block L at one position.' },
  resid_mid: { act: 'resid_mid', axes: ['layer', 'pos'], view: 'residual', title: 'Residual stream (resid_mid)', description: 'The residual stream between attention and MLP of block L at one position.' },
  resid_post: { act: 'resid_post', axes: ['layer', 'pos'], view: 'residual', title: 'Residual stream (resid_post)', description: 'The residual stream leaving block L at one position.' },
  attn_out: { act: 'attn_out', axes: ['layer', 'pos'], view: 'residual', title: 'Attention output (attn_out)', description: 'The attention layer\'s output at one position (every head, with b_O).' },
  mlp_out: { act: 'mlp_out', axes: ['layer', 'pos'], view: 'residual', title: 'MLP output (mlp_out)', description: 'The MLP\'s output at one position.' },
  head_out: { act: 'z', axes: ['layer', 'head', 'pos'], view: 'heads_by_pos', title: 'Head output by position (z)', description: 'One head\'s output (hook_z) at one position.' },
  head_out_all_pos: { act: 'z', axes: ['layer', 'head'], view: 'heads', title: 'Head output, all positions (z)', description: 'One head\'s output (hook_z) at every position.' },
  q: { act: 'q', axes: ['layer', 'head'], view: 'heads', title: 'Queries (q)', description: 'One head\'s queries at every position.' },
  k: { act: 'k', axes: ['layer', 'head'], view: 'heads', title: 'Keys (k)', description: 'One head\'s keys at every position.' },
  v: { act: 'v', axes: ['layer', 'head'], view: 'heads', title: 'Values (v)', description: 'One head\'s values at every position.' },
  q_by_pos: { act: 'q', axes: ['layer', 'head', 'pos'], view: 'heads_by_pos', title: 'Queries by position', description: 'One head\'s query at one position.' },
  k_by_pos: { act: 'k', axes: ['layer', 'head', 'pos'], view: 'heads_by_pos', title: 'Keys by position', description: 'One head\'s key at one position.' },
  v_by_pos: { act: 'v', axes: ['layer', 'head', 'pos'], view: 'heads_by_pos', title: 'Values by position', description: 'One head\'s value at one position.' },
  pattern: { act: 'pattern', axes: ['layer', 'head'], view: 'heads', title: 'Attention pattern', description: 'One head\'s whole attention pattern.' },
  pattern_dest: { act: 'pattern', axes: ['layer', 'head', 'query_pos'], view: 'attention', title: 'Attention pattern by destination', description: 'One head\'s attention from one destination (query) position: the whole row of its pattern.' },
  pattern_by_pos: { act: 'pattern', axes: ['layer', 'head', 'query_pos', 'key_pos'], view: 'attention', title: 'Attention pattern by position', description: 'One attention weight: one head, one query position, one key position.' },
  mlp_post: { act: 'post', axes: ['layer', 'pos', 'neuron'], view: 'neurons', title: 'MLP neurons', description: 'One MLP neuron (hook_post) at one position.' },
} as const satisfies Record<string, FamilyEntry>;

export type Family = keyof typeof FAMILY_TABLE;

export const FAMILIES = Object.keys(FAMILY_TABLE) as Family[];

/** The families of the CLI's JSON contract, in its order. */
export const CONTRACT_FAMILIES: Family[] = ['resid_pre', 'attn_out', 'mlp_out', 'head_out', 'head_out_all_pos', 'q', 'k', 'v', 'pattern'];

export function isFamily(name: string): name is Family {
  return Object.hasOwn(FAMILY_TABLE, name);
}

/** The table entry; a name that is not a family (from a link, a file, a flag) is a specific error. */
export function familyEntry(family: string): FamilyEntry {
  if (!isFamily(family)) throw new Error(`Unknown patch family "${family}"; choose from ${FAMILIES.join(', ')}.`);
  return FAMILY_TABLE[family];
}

/** Parses a comma-separated family list, with a message naming any unknown entry. */
export function parseFamilies(list: string): Family[] {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.filter((n) => !isFamily(n));
  if (bad.length) throw new Error(`Unknown target ${bad.map((b) => `"${b}"`).join(', ')}; choose from ${FAMILIES.join(', ')}.`);
  if (!names.length) throw new Error(`No targets given; choose from ${FAMILIES.join(', ')}.`);
  return names as Family[];
}

export function familyAxes(family: Family): AxisName[] {
  return [...familyEntry(family).axes];
}

/** TransformerLens hook name of a family at a layer, e.g. hookFor('head_out', 3) = 'blocks.3.attn.hook_z'. */
export function hookFor(family: Family, layer: number): string {
  return `blocks.${layer}.${ACTIVATIONS[familyEntry(family).act].hook}`;
}

/** Axes of the family's hook tensor, without the batch axis. */
export function hookAxes(family: Family): readonly HookAxis[] {
  return ACTIVATIONS[familyEntry(family).act].axes;
}

/** Index of the hook's position axis (`pos`, or `query_pos` for patterns). */
export function hookPosAxis(family: Family): number {
  return hookAxes(family).findIndex((a) => a === 'pos' || a === 'query_pos');
}

/** Size of each result axis for a model and prompt length. */
export function familyShape(family: Family, cfg: { nLayers: number; nHeads: number; dMlp: number }, nPos: number): number[] {
  const size: Record<AxisName, number> = { layer: cfg.nLayers, pos: nPos, head: cfg.nHeads, query_pos: nPos, key_pos: nPos, neuron: cfg.dMlp };
  return familyAxes(family).map((a) => size[a]);
}

/** For each hook axis, the result axis index that fixes it, or -1 where a cell patches the whole axis. */
export function cellAxes(family: Family): number[] {
  const axes = familyEntry(family).axes;
  return hookAxes(family).map((h) => axes.findIndex((a) => a !== 'layer' && INDEXES[a] === h));
}

/**
 * For cell `index` of `family`: the layer, the hook, and a predicate over per-sequence hook coordinates (the hook's
 * axes without batch) selecting the entries a patch replaces.
 */
export function cellSelector(family: Family, index: readonly number[]): { layer: number; hook: string; select: (coord: readonly number[]) => boolean } {
  const axes = familyEntry(family).axes;
  if (index.length !== axes.length) throw new Error(`${family} cells have ${axes.length} indices [${axes.join(', ')}], got [${index.join(', ')}]`);
  const fixed = cellAxes(family)
    .map((r, h) => ({ h, value: r >= 0 ? index[r] : -1 }))
    .filter((f) => f.value >= 0);
  const layer = index[0];
  return { layer, hook: hookFor(family, layer), select: (coord) => fixed.every((f) => coord[f.h] === f.value) };
}

/** The earliest position a patch of this cell can change: its position, or 0 when it spans every position. */
export function firstPosition(family: Family, index: readonly number[]): number {
  const r = cellAxes(family)[hookPosAxis(family)];
  return r >= 0 ? index[r] : 0;
}

/** Families the browser shows in a view, in table order. */
export function familiesIn(view: FamilyView): Family[] {
  return FAMILIES.filter((f) => (FAMILY_TABLE[f] as FamilyEntry).view === view);
}
