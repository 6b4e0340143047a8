// Tests only: make one part of the page throw while it renders, to check that the error boundaries hold
// (window.patchwork.injectRenderError). Nothing in the app sets these.
import { useSyncExternalStore } from 'react';

const faults = new Map<string, string>();
const listeners = new Set<() => void>();
let version = 0;

export function injectRenderError(part: string, message: string): void {
  faults.set(part, message);
  version++;
  listeners.forEach((l) => l());
}

export function clearRenderErrors(): void {
  faults.clear();
  version++;
  listeners.forEach((l) => l());
}

/** Throws the injected error of `part`, if any, during render. */
export function useInjectedFault(part: string): void {
  useSyncExternalStore((l) => { listeners.add(l); return () => listeners.delete(l); }, () => version);
  const message = faults.get(part);
  if (message !== undefined) throw new Error(message);
}
