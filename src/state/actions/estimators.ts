// Estimators (issue 12): which one the next Run computes, other estimators of the run on screen computed on demand
// for the scatter tab (kept in the results cache, keyed by run and estimator), and "Verify top K": exact patches of
// the K cells with the largest |estimate| plus R random others, written into the run's patched values.
import { checkMethod, ESTIMATORS, type Method } from '../../engine/patching/estimators';
import type { Family, Labelled } from '../../engine/patching/types';
import { describeError, isAbort } from '../../worker/protocol';
import { estimatorKey, estimatorLabel, flatIndex, patchedFor, writePatched } from '../results';
import { getState, setState, type VerifiedLine } from '../store';
import { bumpRun, cannotPatch, currentRun, engine } from './shared';

/** The estimator for the next Run; a bad one (steps for an estimator without steps, ...) is refused with why. */
export function setEstimator(method: Method, steps = 1): void {
  const m = checkMethod(method, ESTIMATORS[method].steps ? steps : 1);
  setState({ estimator: { method: m, steps: ESTIMATORS[m].steps ? steps : 1 } });
}

/**
 * Computes another estimator of the run on screen (same spec, same model, every family the run has) and keeps it
 * in the run's `estimates`. Nothing happens when it is there already.
 */
export async function computeEstimate(method: Method, steps = 1): Promise<boolean> {
  const r = currentRun();
  if (!r) return false;
  const key = estimatorKey(method, steps);
  if (key === estimatorKey(r.method ?? 'atp', r.steps ?? 1) || r.estimates?.[key]) return true;
  const refused = cannotPatch(r) ?? (r.onTop?.length ? `${estimatorLabel(method, steps)} is not computed on top of a patch set (attribution on a patched run is plain AtP): clear "Attribute on top" to compare estimators.` : null);
  if (refused) {
    setState({ estimateError: refused });
    return false;
  }
  setState({ estimating: key, estimateError: null });
  try {
    const families = Object.keys(r.attribution) as Family[];
    const out = await engine().attribute(r.modelKey, r.spec, families, 'patch', undefined, { method, steps });
    r.estimates = { ...r.estimates, [key]: out.values };
    bumpRun();
    return true;
  } catch (e) {
    setState({ estimateError: `${estimatorLabel(method, steps)}: ${describeError(e)}` });
    return false;
  } finally {
    if (getState().estimating === key) setState({ estimating: null });
  }
}

let verifyController: AbortController | null = null;

/** A full exact sweep of the family, when every cell has been patched. */
function fullSweep(p: Labelled | undefined): Labelled | undefined {
  return p && p.data.every((v) => !Number.isNaN(v)) ? p : undefined;
}

/**
 * Verify top K for each family of a view: the run's estimate ranks the cells, the worker patches the top K and
 * `random` others, the values land in the run's patched arrays (shown as clicked cells are), and one summary line
 * per family goes to the store.
 */
export async function verifyTopK(families: Family[], k: number, random: number, label: string): Promise<void> {
  const r = currentRun();
  if (!r) return;
  cancelVerify();
  const refused = cannotPatch(r);
  if (refused) {
    setState({ verified: { runId: r.id, lines: [], error: refused } });
    return;
  }
  const controller = new AbortController();
  verifyController = controller;
  const todo = families.filter((f) => r.attribution[f]);
  const per = todo.map((f) => Math.min(r.attribution[f]!.data.length, k + random));
  const total = per.reduce((a, b) => a + b, 0);
  let done = 0;
  const lines: VerifiedLine[] = [];
  setState({ verify: { label, done: 0, total }, verified: { runId: r.id, lines: [] } });
  const method = r.method ?? 'atp';
  try {
    for (const [i, family] of todo.entries()) {
      if (controller.signal.aborted) break;
      const estimate = r.attribution[family]!;
      const v = await engine().verify(r.modelKey, r.spec, { family, estimate, k, random, seed: 1, exact: fullSweep(r.patched[family]) }, {
        signal: controller.signal,
        onProgress: (p) => { if (verifyController === controller) setState({ verify: { label, done: done + p.done, total } }); },
      }, r.onTop);
      writePatched(r, family, v.cells.map((c) => flatIndex(estimate.shape, c.index)), v.cells.map((c) => c.exact));
      patchedFor(r, family);
      done += per[i];
      lines.push({ family, method, recall: v.recall, k: v.k, cells: v.cells.map(({ estimate, exact, top }) => ({ estimate, exact, top })) });
      if (verifyController === controller) setState({ verify: { label, done, total }, verified: { runId: r.id, lines: [...lines] } });
      bumpRun();
    }
  } catch (e) {
    if (verifyController === controller) {
      setState({ verified: { runId: r.id, lines: [...lines], error: isAbort(e) ? 'Verify top K was cancelled.' : describeError(e) } });
    }
  } finally {
    if (verifyController === controller) {
      verifyController = null;
      setState({ verify: null });
    }
  }
}

/** Stops a Verify top K in flight; the families already verified keep their values and lines. */
export function cancelVerify(): void {
  if (!verifyController) return;
  verifyController.abort();
  verifyController = null;
  setState((s) => ({ verify: null, verified: s.verified ? { ...s.verified, error: 'Verify top K was cancelled.' } : null }));
}
