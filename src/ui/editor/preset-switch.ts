// Which preset the editor shows when the model changes: a preset made for the other kind of model (toy vs GPT-2)
// is swapped for this model's first one; the user's own experiment is never replaced.
import { setSpec } from '../../state/actions';
import { presetKind, type ModelChoice } from '../../state/models';
import { getState, setState } from '../../state/store';
import { presetById, presetsFor, type Preset } from '../presets';

export function applyPreset(preset: Preset): void {
  setSpec(structuredClone(preset.spec), preset.id);
  setState((s) => ({ view: { ...s.view, tab: preset.view.tab, family: preset.view.family, head: undefined }, selected: null }));
}

export function applyDefaultPreset(choice: ModelChoice): void {
  const preset = presetsFor(presetKind(choice))[0];
  if (preset) applyPreset(preset);
}

export function applyDefaultPresetIfNeeded(choice: ModelChoice): void {
  const current = presetById(getState().presetId ?? '');
  if (current && current.kind !== presetKind(choice)) applyDefaultPreset(choice);
}
