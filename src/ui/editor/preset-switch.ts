// Which preset the editor shows when the model changes: a preset made for the other kind of model (toy vs GPT-2)
// is swapped for this model's first one; the user's own experiment is never replaced.
import { loadModel, setSpec, showPresetView } from '../../state/actions';
import { presetKind, type ModelChoice } from '../../state/models';
import { getState } from '../../state/store';
import { presetById, presetModel, presetsFor, type Preset } from '../presets';

export function applyPreset(preset: Preset): void {
  setSpec(structuredClone(preset.spec), preset.id);
  showPresetView(preset.view);
}

export function applyDefaultPreset(choice: ModelChoice): void {
  const preset = presetsFor(presetKind(choice))[0];
  if (preset) applyPreset(preset);
}

export function applyDefaultPresetIfNeeded(choice: ModelChoice): void {
  const current = presetById(getState().presetId ?? '');
  if (current && current.kind !== presetKind(choice)) applyDefaultPreset(choice);
}

/**
 * A preset made for another model (issue 14 item 6): load that model, then the preset; a failed load changes
 * nothing (the load's own error says why).
 */
export async function switchToPresetModel(preset: Preset): Promise<boolean> {
  const ok = await loadModel({ kind: 'builtin', id: presetModel(preset).id });
  if (ok) applyPreset(preset);
  return ok;
}
