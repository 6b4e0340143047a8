/// <reference lib="webworker" />
// The engine worker: owns the onnxruntime runtime, the loaded model and the patching engine, so the page never
// blocks on computation. One request at a time reaches the runtime (its queue), but cancels and progress flow freely.
import { PatchingEngine, cellPatch, type Experiment, type ExperimentSpec, type Labelled } from '../engine/patching';
import { browserMemoryLimits, createBrowserRuntime, destroyWebGpuDeviceForTesting } from '../engine/runtime/browser';
import { memoryShortfall, modelMemory } from '../engine/model/memory';
import { knownHubConfig } from '../engine/model/config';
import { webgpuAvailable } from '../engine/runtime/web';
import type { Runtime } from '../engine/runtime/types';
import { checkFinite, NonFiniteError } from '../engine/patching/finite';
import { resolvePairs, runBatches } from '../engine/patching/dataset';
import { meanActivations } from '../engine/patching/ablation';
import { notUpstream, notUpstreamLayers } from '../engine/patching/metric-spec';
import { receiverHook } from '../engine/patching/edges';
import type { Family, MetricSpec } from '../engine/patching/types';
import { loadSource } from './model-loader';
import { INSPECT_KL_MESSAGE, type ProgressOf, type RequestMessage, type ResultOf, type SerializedError, type WorkerMessage } from './protocol';

declare const self: DedicatedWorkerGlobalScope;

let runtime: Runtime | null = null;
let engine: PatchingEngine | null = null;
/** The page's key for the model `engine` holds. */
let loadedKey: string | null = null;
const controllers = new Map<number, AbortController>();
const experiments = new Map<string, Experiment>();

const post = (m: WorkerMessage, transfer: Transferable[] = []) => self.postMessage(m, transfer);

function serialize(e: unknown): SerializedError {
  if (e instanceof Error) {
    const { issues, redirectedTo } = e as { issues?: SerializedError['issues']; redirectedTo?: string };
    // DOMException AbortError keeps its name; a plain abort reason string becomes one.
    return { name: e.name || 'Error', message: e.message, ...(issues ? { issues } : {}), ...(redirectedTo ? { redirectedTo } : {}) };
  }
  if (e instanceof DOMException) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

/** The engine, if it holds the model the page computed its result with; a click never mixes two models. */
function needEngine(model: string): PatchingEngine {
  if (!engine) throw new Error('No model is loaded yet.');
  if (model !== loadedKey) {
    throw new Error(`This result was computed on another model (${model}) than the one loaded now (${loadedKey}): press Run to compute it again.`);
  }
  return engine;
}

/** Resolving tokenizes every prompt; the same spec comes back for every cell click, so keep a few. */
function experiment(model: string, spec: ExperimentSpec): Experiment {
  const key = JSON.stringify(spec);
  let exp = experiments.get(key);
  if (!exp) {
    exp = needEngine(model).resolve(spec);
    experiments.set(key, exp);
    if (experiments.size > 16) experiments.delete(experiments.keys().next().value!);
  }
  return exp;
}

/** A NaN or Inf patch is an error naming the cell: on the page, NaN means "not computed yet" (issue 16). */
function checkPatched(family: string, indices: number[][], values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new NonFiniteError(
        `The activation patch of ${family} [${indices[i].join(', ')}] is ${values[i]}: the model's activations overflow float32, or its weights are damaged.`,
      );
    }
  }
}

/**
 * `x` with the cells not upstream of an internal metric set to 0, for the non-finite check only: the engine leaves
 * them NaN on purpose (issue 13; the views draw them as "not upstream"), while a NaN anywhere else is still an error.
 */
function upstreamOnly(metric: MetricSpec, family: Family, x: Labelled): Labelled {
  const layers = notUpstreamLayers(metric, family, x.shape[0]);
  if (!layers.some(Boolean)) return x;
  const per = x.data.length / x.shape[0];
  return { ...x, data: Float64Array.from(x.data, (v, i) => (layers[Math.floor(i / per)] ? 0 : v)) };
}

const upstreamValues = (metric: MetricSpec, values: Partial<Record<Family, Labelled>>): [string, Labelled][] =>
  (Object.entries(values) as [Family, Labelled][]).map(([f, l]) => [f, upstreamOnly(metric, f, l)]);

function transferables(values: Partial<Record<string, Labelled>>): Transferable[] {
  return Object.values(values).map((l) => l!.data.buffer as ArrayBuffer);
}

async function handle(msg: RequestMessage, signal: AbortSignal, progress: (p: ProgressOf) => void): Promise<[unknown, Transferable[]]> {
  switch (msg.type) {
    case 'init': {
      const webgpu = await webgpuAvailable();
      await engine?.dispose().catch(() => undefined);
      engine = null;
      loadedKey = null;
      experiments.clear();
      const created = await createBrowserRuntime({
        backend: msg.backend,
        threads: msg.threads,
        onDeviceLost: (message) => post({ id: -1, kind: 'deviceLost', message }),
      });
      runtime = created.runtime;
      const { threads, isolated, warning: threadsWarning } = created.threads;
      const value: ResultOf['init'] = { backend: runtime.backend, webgpu, threads, isolated, threadsWarning };
      return [value, []];
    }
    case 'load': {
      if (!runtime) throw new Error('The runtime is not started.');
      // A known hub model too big for this device is refused before its download (gpt2-xl is 6 GB).
      const known = msg.source.kind === 'hub' ? knownHubConfig(msg.source.repo, msg.source.id) : undefined;
      const early = known && memoryShortfall(known, runtime.backend, await browserMemoryLimits(runtime.backend), runtime.precisionFor?.(modelMemory(known).parameters));
      if (early) throw new Error(early);
      const { model, bytes, fromCache, sha256, tofu, servedFrom } = await loadSource(msg.source, { signal, onProgress: progress });
      if (signal.aborted) throw signal.reason;
      // Too big for this device: refused with the figures, the previous model kept (issue 15 part 3).
      const shortfall = memoryShortfall(model.config, runtime.backend, await browserMemoryLimits(runtime.backend), runtime.precisionFor?.(modelMemory(model.config).parameters));
      if (shortfall) throw new Error(shortfall);
      progress({ phase: 'upload', loaded: 0 });
      // Drop the previous model's sessions and weights before holding the new ones (a GPU holds one at a time).
      // Until here a failed load (404, cancel, bad file) leaves the previous model in place.
      engine = null;
      loadedKey = null;
      experiments.clear();
      await runtime.clearSessions();
      engine = await PatchingEngine.create(runtime, model.config, model.weights);
      // Sessions (and WebGPU's shaders) for the first Run and click, created now but not waited for: they serve
      // prompts of any length (issue 15), and the user's first request queues behind them.
      void engine.prewarm().catch(() => undefined);
      loadedKey = msg.key;
      const value: ResultOf['load'] = { config: model.config, bytes, fromCache, sha256, tofu, servedFrom };
      return [value, []];
    }
    case 'loaded':
      return [loadedKey, []];
    case 'attribute': {
      const eng = needEngine(msg.model);
      const exp = experiment(msg.model, msg.spec);
      const patched = msg.patched?.length ? cellPatch(msg.patched) : undefined;
      const r = await eng.attribute(exp, { families: msg.families, mode: msg.mode, method: msg.method, steps: msg.steps, patched });
      checkFinite('attribution', r.metric, upstreamValues(msg.spec.metric, r.values));
      const value: ResultOf['attribute'] = { metric: r.metric, values: r.values, method: r.method, steps: r.steps };
      return [value, transferables(r.values)];
    }
    case 'attributePairs': {
      const eng = needEngine(msg.model);
      const exps = resolvePairs(msg.records, msg.spec, eng.cfg, 'dataset');
      const res = await runBatches(exps, msg.families, async (exp) => {
        // A macrotask between batches, so that a `cancel` message is handled (runBatches then stops before the next).
        await new Promise((resolve) => setTimeout(resolve, 0));
        if (signal.aborted) throw signal.reason;
        const r = await eng.attribute(exp, { families: msg.families, mode: 'patch', perPair: true });
        return { metric: r.pairs!.metric, values: r.pairs!.values };
      }, { maxPairs: msg.maxPairs, signal, onProgress: (done, total) => progress({ done, total }) });
      checkFinite('attribution', res.metric, msg.families.map((f) => [f, upstreamOnly(msg.spec.metric, f, res.mean[f]!)]));
      const value: ResultOf['attributePairs'] = { metric: res.metric, metricPerPair: res.metricPerPair, mean: res.mean, perPair: res.perPair, sem: res.sem };
      const buffers = [res.metricPerPair.clean, res.metricPerPair.corrupted, ...Object.values(res.mean), ...Object.values(res.perPair), ...Object.values(res.sem)]
        .map((a) => ('data' in a! ? a!.data : a as Float64Array).buffer as ArrayBuffer);
      return [value, buffers];
    }
    case 'patch': {
      const exp = experiment(msg.model, msg.spec);
      const value: ResultOf['patch'] = msg.patched?.length
        ? (await needEngine(msg.model).patchOnTop(exp, msg.patched, msg.family, [msg.index]))[0]
        : await needEngine(msg.model).patch(exp, msg.family, msg.index);
      checkPatched(msg.family, [msg.index], [value]);
      return [value, []];
    }
    case 'patchCells': {
      const value: ResultOf['patchCells'] = await needEngine(msg.model).patchOnTop(experiment(msg.model, msg.spec), msg.patched ?? [], msg.family, msg.indices, {
        signal,
        onProgress: (done, total) => progress({ done, total }),
      });
      checkPatched(msg.family, msg.indices, value);
      return [value, [value.buffer as ArrayBuffer]];
    }
    case 'edgeScores': {
      const r = await needEngine(msg.model).edgeScores(experiment(msg.model, msg.spec), 'atp', 1, msg.patched);
      checkFinite('edge attribution', r.metric, []);
      // Edges into receivers not upstream of an internal metric are NaN on purpose (issue 13); any other is an error.
      const R0 = r.layout.receivers.length;
      const blocked = r.layout.receivers.map((name) => notUpstream(msg.spec.metric, receiverHook(name)));
      const bad = r.edges.findIndex((x, i) => !Number.isFinite(x) && !(Number.isNaN(x) && blocked[i % R0]));
      if (bad >= 0) {
        const R = r.layout.receivers.length;
        throw new NonFiniteError(`The edge attribution of ${r.layout.senders[Math.floor(bad / R)]}->${r.layout.receivers[bad % R]} is ${r.edges[bad]}: the model's activations overflow float32, or its weights are damaged.`);
      }
      const { senders, receivers, upstream } = r.layout;
      const value: ResultOf['edgeScores'] = { metric: r.metric, senders, receivers, upstream, edges: r.edges };
      return [value, [r.edges.buffer as ArrayBuffer]];
    }
    case 'pathPatch': {
      const value: ResultOf['pathPatch'] = await needEngine(msg.model).pathPatch(experiment(msg.model, msg.spec), msg.edges, {
        signal,
        onProgress: (done, total) => progress({ done, total }),
      }, msg.patched);
      checkPatched('edge', msg.edges.map((e) => [e.sender, e.receiver]), value);
      return [value, [value.buffer as ArrayBuffer]];
    }
    case 'evaluateCircuits': {
      const value: ResultOf['evaluateCircuits'] = await needEngine(msg.model).evaluateCircuits(experiment(msg.model, msg.spec), msg.circuits, {
        signal,
        onProgress: (done, total) => progress({ done, total }),
      }, msg.patched);
      return [value, []];
    }
    case 'jointPatch': {
      const value: ResultOf['jointPatch'] = await needEngine(msg.model).jointPatch(experiment(msg.model, msg.spec), msg.cells, msg.patched);
      checkPatched('cell set', [msg.cells.map((c) => c.index).flat()], [value]);
      return [value, []];
    }
    case 'verify': {
      const exp = experiment(msg.model, msg.spec);
      const value: ResultOf['verify'] = await needEngine(msg.model).verifyTopK(exp, msg.family, msg.estimate, {
        k: msg.k,
        random: msg.random,
        seed: msg.seed,
        exact: msg.exact,
        signal,
        onProgress: (done, total) => progress({ done, total }),
      }, msg.patched);
      checkPatched(msg.family, value.cells.map((c) => c.index), value.cells.map((c) => c.exact));
      return [value, []];
    }
    case 'sessionsCreated':
      return [runtime?.sessionsCreated ?? 0, []];
    case 'transfers':
      return [{ bytesReadBack: 0, outputsKept: 0, outputsOnGpu: 0, ...runtime?.transfers, weightPrecision: runtime?.weightPrecision ?? 'float32' }, []];
    case 'inspect': {
      if (msg.spec.metric.name === 'kl') throw new Error(INSPECT_KL_MESSAGE);
      const value: ResultOf['inspect'] = await needEngine(msg.model).inspect(experiment(msg.model, msg.spec), { lensPair: msg.lensPair, k: 5 });
      checkFinite('direct logit attribution', value.metric, [['heads', value.dla.clean.heads], ['heads', value.dla.corrupted.heads]]);
      return [value, []];
    }
    case 'pattern': {
      const eng = needEngine(msg.model);
      const exp = experiment(msg.model, msg.spec);
      const pair = msg.pair ?? 0;
      const { nLayers, nHeads } = eng.cfg;
      if (pair >= exp.nPairs || msg.layer >= nLayers || msg.head >= nHeads) throw new Error(`No head L${msg.layer}H${msg.head} of pair ${pair} in this model and experiment.`);
      const hook = `blocks.${msg.layer}.attn.hook_pattern`;
      // A mean over one prompt is that prompt's pattern: [1, head_index, query_pos, key_pos].
      const one = async (tokens: number[]) => {
        const f = (await meanActivations(eng.rt, eng.cfg, [tokens], [hook])).get(hook)!;
        const n = tokens.length;
        return { n, data: Float64Array.from((f.data as Float32Array).subarray(msg.head * n * n, (msg.head + 1) * n * n)) };
      };
      const value: ResultOf['pattern'] = { layer: msg.layer, head: msg.head, clean: await one(exp.clean[pair]), corrupted: await one(exp.corrupted[pair]) };
      return [value, [value.clean.data.buffer as ArrayBuffer, value.corrupted.data.buffer as ArrayBuffer]];
    }
    case 'debugLoseDevice':
      return [runtime?.backend === 'webgpu' ? await destroyWebGpuDeviceForTesting() : false, []];
    case 'cancel':
      controllers.get(msg.target)?.abort(new DOMException('Cancelled.', 'AbortError'));
      return [null, []];
  }
}

self.onmessage = (ev: MessageEvent<RequestMessage>) => {
  const msg = ev.data;
  const controller = new AbortController();
  if (msg.type !== 'cancel') controllers.set(msg.id, controller);
  let last = 0;
  const progress = (p: ProgressOf) => {
    // At most ~20 progress messages a second; the final one (done === total) always goes.
    const now = performance.now();
    const final = 'done' in p ? p.done === p.total : p.total !== undefined && p.loaded === p.total;
    if (!final && now - last < 50) return;
    last = now;
    post({ id: msg.id, kind: 'progress', progress: p });
  };
  handle(msg, controller.signal, progress)
    .then(([value, transfer]) => post({ id: msg.id, kind: 'result', value }, transfer))
    .catch((e: unknown) => post({ id: msg.id, kind: 'error', error: serialize(controller.signal.aborted ? controller.signal.reason ?? e : e) }))
    .finally(() => controllers.delete(msg.id));
};
