// `patchwork edges|path|circuit` and the node-set options (`patch --together`, `attribute --patched`): the edge
// engine for scripts (issue #10). Same prompt, metric, direction and bad-input rules as `attribute`; JSON keys are a
// contract; progress and timings go to stderr.
import { isInternalMetric, notUpstream } from '../engine/patching/metric-spec';
import { receiverHook } from '../engine/patching/edges';
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ESTIMATORS, METHODS, checkMethod, type Method } from '../engine/patching/estimators';
import {
  EdgeNameError, cellName, cellPatch, edgeName, parseCells, parseEdges, rankEdges,
  type CellPatch, type Edge, type Experiment, type PairRecord, type PatchingEngine,
} from '../engine/patching';
import { eachPair, perPairJson } from './per-pair';

/** What main.ts lends: its common options, setup, output and JSON header. */
export interface CliShared<O> {
  common: (cmd: Command) => Command;
  setup: (o: O, anyLength?: boolean) => Promise<{ engine: PatchingEngine; exp: Experiment; pairs?: { exps: Experiment[]; records: PairRecord[] } }>;
  emit: (o: O, result: object) => void;
  header: (exp: Experiment, metric: { clean: number; corrupted: number }) => object;
}

/** One command's result on one experiment: its metrics, keys that do not vary by pair, and the numeric results. */
export interface CommandOut {
  metric: { clean: number; corrupted: number };
  fixed?: object;
  result: Record<string, unknown>;
}

/**
 * One prompt pair: the header, `fixed` and `result`. With --pairs: each pair on its own (any token lengths), then
 * the mean, `per_pair` and `sem` of every numeric result key (per-pair.ts). `prepare` sees every experiment first.
 */
export async function runCommand<O>(
  shared: Pick<CliShared<O>, 'setup' | 'emit' | 'header'>, o: O, what: string,
  body: (engine: PatchingEngine, exp: Experiment) => Promise<CommandOut>,
  prepare?: (engine: PatchingEngine, exps: Experiment[]) => Promise<void>,
): Promise<void> {
  const { engine, exp, pairs } = await shared.setup(o, true);
  try {
    await prepare?.(engine, pairs?.exps ?? [exp]);
    if (!pairs) {
      const r = await body(engine, exp);
      return shared.emit(o, { ...shared.header(exp, r.metric), ...r.fixed, ...r.result });
    }
    const outs = await eachPair(what, pairs.exps, (e) => body(engine, e));
    shared.emit(o, await perPairJson(pairs.exps, pairs.records, outs.map((r) => r.metric), outs.map((r) => r.result), outs[0].fixed));
  } finally {
    await engine.dispose();
  }
}

const log = (msg: string) => process.stderr.write(`${msg}\n`);
const ms = (t0: number) => `${(performance.now() - t0).toFixed(0)} ms`;
/** --top 5,20,100: positive integers (checked in the action, so that the top-level catch exits with code 2). */
function topList(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = parts.filter((p) => !/^\d+$/.test(p) || Number(p) < 1);
  if (!parts.length || bad.length) throw new EdgeNameError(`--top takes positive whole numbers separated by commas, e.g. 5,20,100${bad.length ? `; not ${bad.map((b) => `"${b}"`).join(', ')}` : ''}.`);
  return parts.map(Number);
}

/** --edges for `path`: a comma-separated list of edge names. */
const edgeList = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);

/** --edges FILE for `circuit`: a JSON list of edge names (parsed as data, never evaluated). */
function readEdgeFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new EdgeNameError(`Cannot read the edge file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`);
  }
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    throw new EdgeNameError(`The edge file ${path} is not JSON; it should be a list of edge names, e.g. ["a0.h1->a1.h0<k>", "m0->logits"].`);
  }
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string'))
    throw new EdgeNameError(`The edge file ${path} should hold a JSON list of edge names, e.g. ["a0.h1->a1.h0<k>", "m0->logits"].`);
  return list;
}

const EDGE_METHODS = METHODS.filter((m) => m !== 'ig-layer');
const stepsArg = (v: string): number => {
  if (!/^\s*\d+\s*$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('give a whole number >= 1.');
  return Number(v);
};

type Opts = { json?: string; freezeLn?: boolean; freezeAttn?: boolean; edges?: string; top?: string; method: Method; steps: number };

export function registerCircuitCommands<O extends object>(p: Command, shared: CliShared<O>): void {
  const { common } = shared;

  common(p.command('edges').description('edge attribution: every edge u->v scored from one backward pass (EAP-IG names)'))
    .option('--freeze-ln', 'no gradient through LayerNorm scales')
    .option('--freeze-attn', 'no gradient through attention patterns')
    .addOption(new Option('--method <name>', `estimator: ${EDGE_METHODS.join(', ')} (graddrop and atp-star give magnitudes; ig-layer has no edge form)`).choices(EDGE_METHODS).default('atp'))
    .option('--steps <m>', 'integrated-gradient steps for ig-inputs (EAP-IG; 1 = plain AtP)', stepsArg, 1)
    .action((o: O & Opts) => {
      checkMethod(o.method, o.steps);
      return runCommand(shared, o, 'edge attribution', async (engine, exp) => {
        const t0 = performance.now();
        const s = await engine.edgeScores(exp, o.method, o.steps);
        log(`edge attribution (${ESTIMATORS[o.method].title}${o.steps > 1 ? `, ${o.steps} steps` : ''}) in ${ms(t0)}`);
        const { senders, receivers } = s.layout;
        const R = receivers.length;
        const linear = o.method === 'atp' || o.method === 'ig-inputs';
        return {
          metric: s.metric,
          fixed: { method: s.method, steps: s.steps, senders, receivers },
          result: {
            edges: senders.map((_, i) => Array.from(s.edges.subarray(i * R, (i + 1) * R))),
            // The identity (a receiver's edges sum to its total) holds for the linear estimators only.
            receiver_totals: linear ? Array.from(s.receiverTotals) : null,
            // Internal metrics: 1 where the edge's receiver is the metric's hook or after it (its value is null).
            ...(isInternalMetric(exp.spec.metric.name) ? {
              not_upstream: senders.map((_, i) => receivers.map((r, v) => (i < s.layout.upstream[v] ? +notUpstream(exp.spec.metric, receiverHook(r)) : 0))),
            } : {}),
          },
        };
      });
    });

  common(p.command('path').description('exact direct path patch of each listed edge alone'))
    .requiredOption('--edges <list>', 'comma-separated edge names, e.g. "a0.h1->a1.h0<k>,input->m0"', edgeList)
    .action((o: O & Opts & { edges: string[] }) =>
      runCommand(shared, o, 'path patches', async (engine, exp) => {
        const edges = parseEdges(engine.cfg, o.edges);
        const t0 = performance.now();
        const values = await engine.pathPatch(exp, edges);
        log(`${edges.length} path patches in ${ms(t0)}`);
        const layout = engine.edgeLayout();
        const after = (e: Edge) => notUpstream(exp.spec.metric, receiverHook(layout.receivers[e.receiver]));
        return {
          metric: await engine.metrics(exp),
          result: {
            path: Object.fromEntries(edges.map((e, i) => [edgeName(layout, e), values[i]])),
            ...(isInternalMetric(exp.spec.metric.name) ? { not_upstream: Object.fromEntries(edges.map((e) => [edgeName(layout, e), +after(e)])) } : {}),
          },
        };
      }),
    );

  common(p.command('circuit').description('circuit evaluation: metric and faithfulness of edge sets (EAP-IG evaluate_graph)'))
    .option('--top <list>', 'circuits of the top N edges by |attribution|, e.g. 5,20,100 (with --pairs: by the mean attribution over pairs)')
    .option('--edges <file>', 'a JSON file holding a list of edge names: one circuit')
    .option('--freeze-ln', 'rank edges by attribution with no gradient through LayerNorm scales')
    .action((o: O & Opts) => {
      let circuits: Edge[][] = [];
      return runCommand(shared, o, 'circuit evaluation', async (engine, exp) => {
        const t0 = performance.now();
        const res = await engine.evaluateCircuits(exp, circuits);
        log(`${circuits.length} circuit evaluations in ${ms(t0)}`);
        return { metric: await engine.metrics(exp), result: { circuits: res.map((r, i) => ({ edges: circuits[i].length, ...r })) } };
      }, async (engine, exps) => {
        if (!o.top === !o.edges) throw new EdgeNameError('Give either --top N,.. (top edges by attribution) or --edges FILE (a JSON list of edge names).');
        if (o.edges) circuits = [parseEdges(engine.cfg, readEdgeFile(o.edges))];
        else {
          const tops = topList(o.top!); // a bad list fails before any edge is scored
          // One ranking for every pair: by the mean edge attribution over the pairs.
          const scores = [];
          for (const e of exps) scores.push(await engine.edgeScores(e));
          const edges = new Float64Array(scores[0].edges.length);
          for (const sc of scores) sc.edges.forEach((x, i) => (edges[i] += x / scores.length));
          const ranked = rankEdges({ layout: scores[0].layout, edges });
          circuits = tops.map((n) => ranked.slice(0, n));
        }
      });
    });
}

/** `attribute --patched CELLS`: the cells patched in the base run before attributing. */
export function patchedCells(engine: PatchingEngine, exp: Experiment, list: string | undefined): CellPatch | undefined {
  return list === undefined ? undefined : cellPatch(parseCells(engine.cfg, exp.nPos, list));
}

/** `patch --together CELLS`: the joint exact patch of the set, and each cell alone. */
export async function patchTogether(engine: PatchingEngine, exp: Experiment, list: string): Promise<{ joint: number; single: Record<string, number> }> {
  const cells = parseCells(engine.cfg, exp.nPos, list);
  const t0 = performance.now();
  const joint = await engine.jointPatch(exp, cells);
  const single: Record<string, number> = {};
  for (const c of cells) single[cellName(c)] = await engine.patch(exp, c.family, c.index);
  log(`joint patch of ${cells.length} cells and each alone in ${ms(t0)}`);
  return { joint, single };
}
