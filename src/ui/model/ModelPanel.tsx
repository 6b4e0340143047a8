// Model picker: the built-ins (offline toy model and pinned hub models), local files or a folder (picker or drop),
// and a custom URL. Shows download progress (bytes, percent, speed) with Cancel, and Retry after a failure.
import { useId, useRef, useState, type DragEvent } from 'react';
import { cancelLoad, loadModel } from '../../state/actions';
import { BUILTIN_MODELS, builtin, modelKey, modelLabel, weightSizes, type ModelChoice } from '../../state/models';
import { isAllowedModelUrl, type BuiltinModelId } from '../../state/permalink';
import { useStore } from '../../state/store';
import { applyDefaultPresetIfNeeded } from '../editor/preset-switch';
import { formatBytes } from '../format';
import { filesFromDrop, pickModelFiles } from './local-files';
import { loadErrorView } from './load-error';
import './model.css';

const PHASE_TEXT: Record<string, string> = {
  config: 'Fetching config.json',
  cache: 'Reading from the browser cache',
  download: 'Downloading',
  verify: 'Verifying sha256',
  store: 'Saving to the browser cache',
  parse: 'Reading the checkpoint',
  upload: 'Moving weights to the backend',
};

/** The editor switches to the new model's presets only once it has loaded: a failed load changes nothing. */
function choose(choice: ModelChoice) {
  void loadModel(choice).then((ok) => { if (ok) applyDefaultPresetIfNeeded(choice); });
}

export function ModelPanel() {
  const model = useStore((s) => s.model);
  const cached = useStore((s) => s.cached);
  const [urlText, setUrlText] = useState('');
  const [localError, setLocalError] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const folderInput = useRef<HTMLInputElement>(null);
  const filesInput = useRef<HTMLInputElement>(null);
  const urlId = useId();

  const current = model.choice;
  const selectValue = current.kind === 'builtin' ? current.id : modelKey(current);
  const urlOk = isAllowedModelUrl(urlText.trim());

  const openLocal = (files: File[], folder?: string) => {
    const picked = pickModelFiles(files);
    if ('error' in picked) {
      setLocalError(picked.error);
      return;
    }
    setLocalError(null);
    choose({ kind: 'local', name: folder ?? picked.name, config: picked.config, weights: picked.weights });
  };

  const onDrop = async (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    const { files, folder } = await filesFromDrop(e.dataTransfer);
    openLocal(files, folder);
  };

  const p = model.progress;
  const pct = p?.total ? Math.min(100, (100 * p.loaded) / p.total) : undefined;

  return (
    <section
      className={`pw-panel pw-model${dragging ? ' pw-dragging' : ''}`}
      aria-labelledby="model-heading"
      data-testid="model.panel"
      onDragOver={(e) => { e.preventDefault(); setDragging(true); }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => void onDrop(e)}
    >
      <h2 id="model-heading">Model</h2>
      <div className="pw-row">
        <select
          aria-label="Model"
          data-testid="model.picker"
          value={selectValue}
          onChange={(e) => {
            const id = e.target.value;
            if (BUILTIN_MODELS.some((m) => m.id === id)) choose({ kind: 'builtin', id: id as BuiltinModelId });
          }}
        >
          {BUILTIN_MODELS.map((m) => (
            <option key={m.id} value={m.id} title={m.note}>
              {m.label}{m.hub ? (cached[m.id] ? ' · cached' : m.hub.size !== undefined ? ` · ${formatBytes(m.hub.size)}` : ` · ${weightSizes(m.id) ?? 'size unknown'}`) : ''}
            </option>
          ))}
          {current.kind !== 'builtin' ? <option value={selectValue}>{modelLabel(current)}</option> : null}
        </select>
        <span className={`pw-status pw-status-${model.status}`} data-testid="model.status">
          {model.status === 'ready' ? (model.fromCache ? 'ready · from cache' : 'ready') : model.status === 'loading' ? 'loading…' : model.status === 'error' ? 'failed' : ''}
        </span>
      </div>
      <ModelNote choice={current} config={model.status === 'ready' ? model.config : null} servedFrom={model.status === 'ready' ? model.servedFrom : null} />

      {model.status === 'loading' && p ? (
        <div className="pw-progress" data-testid="model.progress" role="status" aria-live="polite">
          <progress max={100} value={pct} aria-label={PHASE_TEXT[p.phase] ?? p.phase} />
          <div className="pw-progress-text">
            <span>{PHASE_TEXT[p.phase] ?? p.phase}</span>
            {p.phase === 'download' || p.phase === 'cache' ? (
              <span data-testid="model.progress.bytes">
                {formatBytes(p.loaded)}{p.total ? ` / ${formatBytes(p.total)} · ${pct!.toFixed(0)}%` : ''}
                {p.speed ? ` · ${formatBytes(p.speed)}/s` : ''}
              </span>
            ) : null}
            <button type="button" className="pw-small" onClick={cancelLoad} data-testid="model.cancel">Cancel</button>
          </div>
        </div>
      ) : null}

      {model.error ? <LoadError error={model.error} failed={model.failed ?? current} stillLoaded={model.status === 'ready' && model.failed ? modelLabel(current) : null} /> : null}

      <details className="pw-more" open={current.kind !== 'builtin' || undefined}>
        <summary>Local files or a URL</summary>
        <div className="pw-row pw-wrap">
          <button type="button" onClick={() => folderInput.current?.click()} data-testid="model.folder">Open folder…</button>
          <button type="button" onClick={() => filesInput.current?.click()} data-testid="model.files">Open files…</button>
          <span className="pw-muted pw-small-text">or drop config.json + model.safetensors (or their folder) here</span>
          <input
            ref={folderInput}
            type="file"
            hidden
            data-testid="model.folder.input"
            {...{ webkitdirectory: '', directory: '' }}
            onChange={(e) => { openLocal(Array.from(e.target.files ?? [])); e.target.value = ''; }}
          />
          <input
            ref={filesInput}
            type="file"
            multiple
            hidden
            accept=".json,.safetensors"
            data-testid="model.files.input"
            onChange={(e) => { openLocal(Array.from(e.target.files ?? [])); e.target.value = ''; }}
          />
        </div>
        {localError ? <p className="pw-error" role="alert" data-testid="model.local.error">{localError}</p> : null}
        <form
          className="pw-row"
          onSubmit={(e) => {
            e.preventDefault();
            if (urlOk) choose({ kind: 'url', url: urlText.trim() });
          }}
        >
          <label htmlFor={urlId} className="pw-sr-only">Model URL</label>
          <input
            id={urlId}
            type="url"
            placeholder="https://…/ folder with config.json + model.safetensors"
            value={urlText}
            onChange={(e) => setUrlText(e.target.value)}
            data-testid="model.url"
            aria-invalid={urlText !== '' && !urlOk}
          />
          <button type="submit" disabled={!urlOk} data-testid="model.url.load">Load</button>
        </form>
        {urlText !== '' && !urlOk ? <p className="pw-muted">Only https:// URLs (or http://localhost) can be loaded.</p> : null}
      </details>
    </section>
  );
}

/**
 * A failed load: a short summary that fits the sidebar (no raw URL), the loader's full message behind Details, and
 * Retry inside the panel (issue 14 item 5).
 */
function LoadError({ error, failed, stillLoaded }: { error: string; failed: ModelChoice; stillLoaded: string | null }) {
  const hub = failed.kind === 'builtin' ? builtin(failed.id).hub?.repo : undefined;
  const v = loadErrorView(error, { label: modelLabel(failed), hub, stillLoaded });
  return (
    <div className="pw-error pw-load-error" role="alert" data-testid="model.error">
      <span data-testid="model.error.summary">{v.summary}</span>
      {v.detail ? (
        <details className="pw-load-error-detail">
          <summary>Details</summary>
          <code>{v.detail}</code>
        </details>
      ) : null}
      <button type="button" className="pw-small" onClick={() => choose(failed)} data-testid="model.retry">Retry</button>
    </div>
  );
}

function ModelNote({ choice, config, servedFrom }: {
  choice: ModelChoice;
  config: { nLayers: number; nHeads: number; dModel: number } | null;
  servedFrom: string | null;
}) {
  const shape = config ? `${config.nLayers} layers × ${config.nHeads} heads, d_model ${config.dModel}` : null;
  if (choice.kind === 'builtin') {
    const b = builtin(choice.id);
    const pinned = b.hub?.sha256 !== undefined;
    const sizes = weightSizes(choice.id);
    const title = !b.hub
      ? 'Served with the app: works with no network at all.'
      : pinned
        ? `${b.hub.repo} pinned at commit ${b.hub.commit}; model.safetensors is checked against its size (${b.hub.size} bytes) and sha256 ${b.hub.sha256} before it is cached or used.`
        : `${b.hub.repo} at ${b.hub.commit}, not pinned: the sha256 of the first download is recorded and later visits are checked against it. Weights ${sizes ?? ''}: float16 is used on WebGPU where the GPU has shader-f16.`;
    return (
      <p className="pw-note" title={title} data-testid="model.note">
        {!b.hub ? 'Ships with the app; works offline.' : pinned
          ? <>{b.hub.repo} @ <code>{b.hub.commit.slice(0, 7)}</code> · verified sha256</>
          : <>{b.hub.repo} @ <code>{b.hub.commit}</code> · not pinned{sizes ? <> · <span data-testid="model.sizes">{sizes}</span></> : null}</>}
        {shape ? <> · {shape}</> : null}
      </p>
    );
  }
  return (
    <p className="pw-note" data-testid="model.note">
      {choice.kind === 'url' ? 'Custom URL' : 'Local files'}
      {choice.kind === 'url' && servedFrom ? <> · served from <code data-testid="model.servedFrom">{servedFrom}</code></> : null}
      {shape ? <> · {shape}</> : null}
    </p>
  );
}
