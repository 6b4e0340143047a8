// Independent float64 reference for edges (issue #10): a GPT-2 forward of ONE sequence, written with plain loops, in
// which every receiver (each head's query, key and value, each MLP, the logits) reads its OWN input, built
// literally as the sum of its senders' outputs plus the attention biases b_O of the layers below it. Edge
// attribution is a central finite difference of the metric along (a_u[source] - a_u[base]) in receiver v's private
// input; path patching and circuit evaluation replace those inputs as the issue defines them. It shares no code with
// src/engine (no hooks, no masks, no layouts): names are built here from the EAP-IG convention.

import type { GPT2Config, Weights } from '../../src/engine/model/types';
import { geluNew, toFloat64Weights, type WeightsF64 } from './gpt2-f64';

/** Logits of the final position, computed on demand (a full row costs d_vocab x d_model). */
export interface LastLogits {
  at(token: number): number;
  all(): Float64Array;
}
export type EdgeMetric = (logits: LastLogits) => number;

/** Sender outputs and receiver inputs by EAP-IG name, each [pos, d_model]. */
export interface EdgeRun {
  senders: Map<string, Float64Array>;
  inputs: Map<string, Float64Array>;
  metric: number;
}

/**
 * Chooses receiver `receiver`'s input. `standard` is bias + sum of every upstream sender's output in this run (what
 * the unmodified model reads); `senders` holds this run's outputs so far.
 */
export type InputChooser = (receiver: string, standard: Float64Array, senders: Map<string, Float64Array>, bias: Float64Array) => Float64Array;

export interface EdgeForwardOptions {
  choose?: InputChooser;
  /** LayerNorm scales by receiver name ([pos]) to use instead of computing them (gradients with frozen LN). */
  scales?: Map<string, Float64Array>;
  /** Records every LayerNorm's scale here, by receiver name. */
  recordScales?: Map<string, Float64Array>;
  /** Replaces a sender's output [pos, d_model] as it is computed (node patches: "patched on top"). */
  outputs?: (sender: string, out: Float64Array) => Float64Array;
}

export function senderNames(cfg: GPT2Config): string[] {
  const out = ['input'];
  for (let l = 0; l < cfg.nLayers; l++) {
    for (let h = 0; h < cfg.nHeads; h++) out.push(`a${l}.h${h}`);
    out.push(`m${l}`);
  }
  return out;
}

/** Receivers with their senders (upstream nodes), in the forward's order. */
export function receiverSenders(cfg: GPT2Config): [string, string[]][] {
  const out: [string, string[]][] = [];
  const up = ['input'];
  for (let l = 0; l < cfg.nLayers; l++) {
    for (let h = 0; h < cfg.nHeads; h++) for (const x of ['q', 'k', 'v']) out.push([`a${l}.h${h}<${x}>`, [...up]]);
    for (let h = 0; h < cfg.nHeads; h++) up.push(`a${l}.h${h}`);
    out.push([`m${l}`, [...up]]);
    up.push(`m${l}`);
  }
  out.push(['logits', [...up]]);
  return out;
}

/** GPT-2 forward of one sequence with per-receiver inputs. */
export function edgeForward(cfg: GPT2Config, weights: Weights | WeightsF64, tokens: number[], metric: EdgeMetric, opts: EdgeForwardOptions = {}): EdgeRun {
  const w = weights instanceof Map && weights.values().next().value instanceof Float64Array ? (weights as WeightsF64) : toFloat64Weights(cfg, weights as Weights);
  const { nLayers, nHeads: H, dModel: D, dHead: dh, dMlp, dVocab, layerNormEps: eps } = cfg;
  const T = tokens.length;
  const get = (n: string) => {
    const t = w.get(n);
    if (!t) throw new Error(`missing weight ${n}`);
    return t;
  };
  const sendersRaw = new Map<string, Float64Array>();
  const senders = {
    set: (n: string, a: Float64Array) => sendersRaw.set(n, opts.outputs ? opts.outputs(n, a) : a),
    get: (n: string) => sendersRaw.get(n),
    values: () => sendersRaw.values(),
  };
  const inputs = new Map<string, Float64Array>();
  const bias = new Float64Array(D); // sum of b_O of the attention layers read so far

  const biasRows = () => {
    const x = new Float64Array(T * D);
    for (let t = 0; t < T; t++) x.set(bias, t * D);
    return x;
  };
  const read = (receiver: string) => {
    const standard = biasRows();
    for (const a of senders.values()) for (let i = 0; i < standard.length; i++) standard[i] += a[i];
    const x = opts.choose ? opts.choose(receiver, standard, sendersRaw, biasRows()) : standard;
    inputs.set(receiver, x);
    return x;
  };
  const layerNorm = (receiver: string, x: Float64Array, g: Float64Array, b: Float64Array) => {
    const out = new Float64Array(T * D);
    const scales = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      let mean = 0;
      for (let i = 0; i < D; i++) mean += x[t * D + i];
      mean /= D;
      let ms = 0;
      for (let i = 0; i < D; i++) ms += (x[t * D + i] - mean) ** 2;
      const given = opts.scales?.get(receiver);
      const scale = given ? given[t] : Math.sqrt(ms / D + eps);
      scales[t] = scale;
      for (let i = 0; i < D; i++) out[t * D + i] = ((x[t * D + i] - mean) / scale) * g[i] + b[i];
    }
    opts.recordScales?.set(receiver, scales);
    return out;
  };
  /** x [T, D] @ W[:, c0 .. c0 + n] + b[c0 ..], W is [D, cols] (Conv1D layout). */
  const project = (x: Float64Array, nIn: number, W: Float64Array, cols: number, bvec: Float64Array | null, c0: number, n: number) => {
    const out = new Float64Array(T * n);
    for (let t = 0; t < T; t++) {
      const o = t * n;
      if (bvec) for (let j = 0; j < n; j++) out[o + j] = bvec[c0 + j];
      for (let i = 0; i < nIn; i++) {
        const xi = x[t * nIn + i];
        const row = i * cols + c0;
        for (let j = 0; j < n; j++) out[o + j] += xi * W[row + j];
      }
    }
    return out;
  };

  // input = token embedding + position embedding
  const wte = get('wte.weight');
  const wpe = get('wpe.weight');
  const input = new Float64Array(T * D);
  for (let t = 0; t < T; t++) for (let i = 0; i < D; i++) input[t * D + i] = wte[tokens[t] * D + i] + wpe[t * D + i];
  senders.set('input', input);

  for (let l = 0; l < nLayers; l++) {
    const p = `h.${l}.`;
    const Wqkv = get(p + 'attn.c_attn.weight'); // [D, 3D]
    const bqkv = get(p + 'attn.c_attn.bias');
    const Wo = get(p + 'attn.c_proj.weight'); // [D, D], rows h*dh.. belong to head h
    const results: [string, Float64Array][] = [];
    for (let h = 0; h < H; h++) {
      const part = (x: 'q' | 'k' | 'v', which: number) => {
        const name = `a${l}.h${h}<${x}>`;
        const ln = layerNorm(name, read(name), get(p + 'ln_1.weight'), get(p + 'ln_1.bias'));
        return project(ln, D, Wqkv, 3 * D, bqkv, which * D + h * dh, dh); // [T, dh]
      };
      const q = part('q', 0);
      const k = part('k', 1);
      const v = part('v', 2);
      const z = new Float64Array(T * dh);
      for (let i = 0; i < T; i++) {
        const s = new Float64Array(i + 1);
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {
          let d = 0;
          for (let e = 0; e < dh; e++) d += q[i * dh + e] * k[j * dh + e];
          s[j] = d / Math.sqrt(dh);
          max = Math.max(max, s[j]);
        }
        let sum = 0;
        for (let j = 0; j <= i; j++) sum += s[j] = Math.exp(s[j] - max);
        for (let j = 0; j <= i; j++) for (let e = 0; e < dh; e++) z[i * dh + e] += (s[j] / sum) * v[j * dh + e];
      }
      // result = z @ W_O[h*dh .. (h+1)*dh, :], no bias
      const r = new Float64Array(T * D);
      for (let t = 0; t < T; t++)
        for (let j = 0; j < D; j++) {
          let s = 0;
          for (let e = 0; e < dh; e++) s += z[t * dh + e] * Wo[(h * dh + e) * D + j];
          r[t * D + j] = s;
        }
      results.push([`a${l}.h${h}`, r]);
    }
    // Heads of one layer read before any of them writes.
    for (const [n, r] of results) senders.set(n, r);
    const bo = get(p + 'attn.c_proj.bias');
    for (let i = 0; i < D; i++) bias[i] += bo[i];

    const ln2 = layerNorm(`m${l}`, read(`m${l}`), get(p + 'ln_2.weight'), get(p + 'ln_2.bias'));
    const pre = project(ln2, D, get(p + 'mlp.c_fc.weight'), dMlp, get(p + 'mlp.c_fc.bias'), 0, dMlp);
    for (let i = 0; i < pre.length; i++) pre[i] = geluNew(pre[i]);
    senders.set(`m${l}`, project(pre, dMlp, get(p + 'mlp.c_proj.weight'), D, get(p + 'mlp.c_proj.bias'), 0, D));
  }

  const lnf = layerNorm('logits', read('logits'), get('ln_f.weight'), get('ln_f.bias'));
  const last = lnf.subarray((T - 1) * D, T * D);
  const cache = new Map<number, number>();
  const at = (tok: number) => {
    if (!Number.isInteger(tok) || tok < 0 || tok >= dVocab) throw new Error(`token ${tok} outside 0..${dVocab - 1}`);
    let s = cache.get(tok);
    if (s === undefined) {
      s = 0;
      for (let i = 0; i < D; i++) s += last[i] * wte[tok * D + i];
      cache.set(tok, s);
    }
    return s;
  };
  const all = () => Float64Array.from({ length: dVocab }, (_, v) => at(v));
  return { senders: sendersRaw, inputs, metric: metric({ at, all }) };
}

export interface RefPair {
  base: number[];
  source: number[];
  metric: EdgeMetric;
}

const sub = (a: Float64Array, b: Float64Array) => a.map((x, i) => x - b[i]);

/**
 * Senders patched on top: each listed sender's output rows (at `positions`, or all) taken from the source run. A
 * head's output at every position is the patch of its hook_z; an MLP's at one position, of hook_mlp_out there.
 */
export type OnTop = { sender: string; positions?: number[] }[];

/** An `outputs` option that applies `onTop` with the source run's sender outputs. */
function onTopOutputs(onTop: OnTop | undefined, source: Map<string, Float64Array>, D: number) {
  if (!onTop?.length) return undefined;
  return (sender: string, out: Float64Array) => {
    const p = onTop.find((o) => o.sender === sender);
    if (!p) return out;
    const src = source.get(sender)!;
    const x = out.slice();
    const T = x.length / D;
    for (let t = 0; t < T; t++) if (!p.positions || p.positions.includes(t)) for (let i = 0; i < D; i++) x[t * D + i] = src[t * D + i];
    return x;
  };
}

/**
 * Edge attribution, mean over pairs: for each edge u->v, the central difference of the metric of the base run
 * along (a_u[source] - a_u[base]) added to v's input alone; and per receiver, along (in_v[source] - in_v[base]).
 * freezeLn holds every LayerNorm scale at its base-run value (the gradient with scales treated as constants).
 */
export function referenceEdgeScores(cfg: GPT2Config, weights: Weights, pairs: RefPair[], opts: { freezeLn?: boolean; eps?: number; receivers?: string[]; onTop?: OnTop } = {}) {
  const w = toFloat64Weights(cfg, weights);
  const eps = opts.eps ?? 1e-3;
  const edges = new Map<string, number>();
  const totals = new Map<string, number>();
  const wanted = opts.receivers ? new Set(opts.receivers) : undefined;
  for (const pair of pairs) {
    const scales = new Map<string, Float64Array>();
    const source = edgeForward(cfg, w, pair.source, pair.metric);
    const outputs = onTopOutputs(opts.onTop, source.senders, cfg.dModel);
    const base = edgeForward(cfg, w, pair.base, pair.metric, { recordScales: scales, outputs });
    const along = (receiver: string, dir: Float64Array) => {
      const run = (sign: number) =>
        edgeForward(cfg, w, pair.base, pair.metric, {
          outputs,
          scales: opts.freezeLn ? scales : undefined,
          choose: (r, standard) => (r === receiver ? standard.map((x, i) => x + sign * eps * dir[i]) : standard),
        }).metric;
      return (run(1) - run(-1)) / (2 * eps);
    };
    const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v / pairs.length);
    for (const [receiver, ups] of receiverSenders(cfg)) {
      if (wanted && !wanted.has(receiver)) continue;
      for (const u of ups) add(edges, `${u}->${receiver}`, along(receiver, sub(source.senders.get(u)!, base.senders.get(u)!)));
      add(totals, receiver, along(receiver, sub(source.inputs.get(receiver)!, base.inputs.get(receiver)!)));
    }
  }
  return { edges, totals };
}

/** Exact direct path patch of u->v: the base run in which v alone reads in_v[base] - a_u[base] + a_u[source]. Mean over pairs. */
export function referencePathPatch(cfg: GPT2Config, weights: Weights, pairs: RefPair[], edge: string, onTop?: OnTop): number {
  const w = toFloat64Weights(cfg, weights);
  const [u, v] = edge.split('->');
  let total = 0;
  for (const pair of pairs) {
    const source = edgeForward(cfg, w, pair.source, pair.metric);
    const outputs = onTopOutputs(onTop, source.senders, cfg.dModel);
    const base = edgeForward(cfg, w, pair.base, pair.metric, { outputs });
    const inBase = base.inputs.get(v)!;
    const [aBase, aSource] = [base.senders.get(u)!, source.senders.get(u)!];
    const patched = edgeForward(cfg, w, pair.base, pair.metric, {
      outputs,
      choose: (r, standard) => (r === v ? inBase.map((x, i) => x - aBase[i] + aSource[i]) : standard),
    });
    total += patched.metric - base.metric;
  }
  return total / pairs.length;
}

/**
 * Circuit evaluation (EAP-IG evaluate_graph): the source run in which every receiver reads the biases plus, per
 * sender, that sender's output in this run if the edge is in the circuit, else its base-run output. Mean metric.
 */
export function referenceCircuit(cfg: GPT2Config, weights: Weights, pairs: RefPair[], circuit: Set<string>, onTop?: OnTop): number {
  const w = toFloat64Weights(cfg, weights);
  const ups = new Map(receiverSenders(cfg));
  let total = 0;
  for (const pair of pairs) {
    // On top: the base run with the set's senders from the source run, and the set held there in the circuit run too.
    const source = edgeForward(cfg, w, pair.source, pair.metric);
    const outputs = onTopOutputs(onTop, source.senders, cfg.dModel);
    const base = edgeForward(cfg, w, pair.base, pair.metric, { outputs });
    const run = edgeForward(cfg, w, pair.source, pair.metric, {
      outputs,
      choose: (r, _standard, senders, bias) => {
        const x = bias.slice();
        for (const u of ups.get(r)!) {
          const a = circuit.has(`${u}->${r}`) ? senders.get(u)! : base.senders.get(u)!;
          for (let i = 0; i < x.length; i++) x[i] += a[i];
        }
        return x;
      },
    });
    total += run.metric;
  }
  return total / pairs.length;
}

/** Mean metric of the plain base and source runs. */
export function referenceMetrics(cfg: GPT2Config, weights: Weights, pairs: RefPair[]): { base: number; source: number } {
  const w = toFloat64Weights(cfg, weights);
  let [b, s] = [0, 0];
  for (const p of pairs) {
    b += edgeForward(cfg, w, p.base, p.metric).metric / pairs.length;
    s += edgeForward(cfg, w, p.source, p.metric).metric / pairs.length;
  }
  return { base: b, source: s };
}
