// The engine worker's life: start it on a backend, switch backends, recover from a lost GPU device.
import { EngineClient } from '../../worker/client';
import { describeError, type BackendChoice } from '../../worker/protocol';
import { getState, setState } from '../store';
import { reloadModel } from './model';
import { engine, patchSlice, replaceClient } from './shared';
import { cancelSweep } from './sweep';

let recovering = false;

/** `?threads=N` in the address (benchmarks, comparisons): the worker checks it and says why when it is not used. */
function threadsParam(): string | null {
  return typeof location === 'undefined' ? null : new URLSearchParams(location.search).get('threads');
}

export async function startEngine(choice: BackendChoice, forced = false): Promise<void> {
  const client = new EngineClient({
    onDeviceLost: (message) => void recoverFromDeviceLoss(message),
    onCrash: (message) => setState({ notice: { kind: 'error', text: `The engine stopped: ${message}. Reload the page.` } }),
  });
  replaceClient(client);
  patchSlice('backend', { choice, forced, active: null });
  // A loaded model is gone with the old worker: nothing may run until reloadModel() has put it back.
  if (getState().model.status === 'ready') patchSlice('model', { status: 'loading', progress: { phase: 'config', loaded: 0 } });
  patchSlice('model', { loadedKey: null });
  try {
    const r = await client.init(choice, threadsParam());
    patchSlice('backend', { active: r.backend, webgpu: r.webgpu, threads: r.threads, isolated: r.isolated });
    if (r.threadsWarning) setState({ notice: { kind: 'info', text: r.threadsWarning } });
  } catch (e) {
    // A forced WebGPU that cannot start: say so and fall back to wasm rather than leave the app dead.
    setState({ notice: { kind: 'error', text: `Could not start the ${choice} backend (${describeError(e)}); using wasm.` } });
    const r = await client.init('wasm', threadsParam());
    patchSlice('backend', { choice: 'wasm', active: r.backend, webgpu: r.webgpu, threads: r.threads, isolated: r.isolated });
  }
}

export async function switchBackend(choice: BackendChoice): Promise<void> {
  cancelSweep();
  await startEngine(choice);
  await reloadModel();
}

/** The worker posts deviceLost when WebGPU's device goes away: a fresh worker gets a fresh device. */
const deviceLosses: number[] = [];

export async function recoverFromDeviceLoss(message: string): Promise<void> {
  if (recovering) return;
  recovering = true;
  // A device that keeps dying (driver resets, a GPU that cannot hold the model) would restart forever: after the
  // third loss in two minutes, fall back to wasm and say so.
  const now = Date.now();
  deviceLosses.push(now);
  while (deviceLosses.length && now - deviceLosses[0] > 120_000) deviceLosses.shift();
  const giveUp = deviceLosses.length >= 3;
  setState({ notice: { kind: 'info', text: `The GPU device was lost (${message}). Restarting the engine${giveUp ? ' on wasm' : ''} and reloading the model…` } });
  try {
    cancelSweep();
    await startEngine(giveUp ? 'wasm' : getState().backend.choice, getState().backend.forced);
    await reloadModel();
    setState({
      notice: {
        kind: 'info',
        text: `The GPU device was lost (${message}); the engine restarted${giveUp ? ' on wasm (the GPU was lost three times)' : ''} and the model was reloaded.`,
      },
    });
  } finally {
    recovering = false;
  }
}

/** Tests only: lose the GPU device; recovery then runs as for a real loss. */
export function simulateDeviceLoss(): Promise<boolean> {
  return engine().debugLoseDevice();
}
