// Datasets in the editor (issue 13): import a pairs file (JSONL or CSV, the CLI's --pairs format) by picking or
// dropping it, generate corrupted prompts with a seeded generator, export the dataset as JSONL. A bad file names
// its line and field and changes nothing: the typed pairs and any dataset already loaded stay as they were.
import { useId, useState, type DragEvent } from 'react';
import { INDUCTION_VARIANTS, type InductionVariant } from '../../engine/patching/corrupt';
import {
  cancelPairs, clearDataset, datasetJsonl, dismissDatasetError, generateDataset, importDatasetFile, type GeneratorChoice,
} from '../../state/actions/dataset';
import { MAX_DATASET_PAIRS, useDatasetStore } from '../../state/dataset';
import { Progress } from '../Progress';

type Kind = GeneratorChoice['generator'];

const GENERATOR_TEXT: Record<Kind, string> = {
  flip: 'flip: each pair, then the pair with clean and corrupted (and the answers) swapped',
  abc: 'IOI → ABC: the repeated subject becomes a third name',
  random: 'random: the tokens at chosen positions become random words',
  induction: 'induction: new A A′ sequences, corrupted as BB, AB, BA or BC',
};

export function DatasetImport() {
  const dataset = useDatasetStore((s) => s.dataset);
  const error = useDatasetStore((s) => s.importError);
  const progress = useDatasetStore((s) => s.progress);
  const [over, setOver] = useState(false);
  const inputId = useId();

  const onFiles = (files: FileList | null) => {
    const f = files?.[0];
    if (f) void importDatasetFile(f);
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    onFiles(e.dataTransfer.files);
  };
  const download = () => {
    if (!dataset) return;
    const url = URL.createObjectURL(new Blob([datasetJsonl(dataset)], { type: 'application/jsonl' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${dataset.name.replace(/[^\w.-]+/g, '_').replace(/\.(jsonl|csv|json|ndjson)$/i, '')}.jsonl`;
    a.click();
    window.setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  return (
    <div
      className={`pw-dataset${over ? ' pw-dataset-over' : ''}`}
      data-testid="dataset"
      onDragOver={(e) => { e.preventDefault(); setOver(true); }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <div className="pw-dataset-row">
        <label htmlFor={inputId}>Dataset of pairs</label>
        <input
          id={inputId}
          type="file"
          accept=".jsonl,.ndjson,.json,.csv,text/csv,application/json"
          onChange={(e) => { onFiles(e.target.files); e.target.value = ''; }}
          data-testid="dataset.file"
        />
      </div>
      <p className="pw-muted pw-small-text">
        JSONL or CSV with clean, corrupted, answer, wrong (optional positions) per pair, as <code>patchwork --pairs</code> reads; up to {MAX_DATASET_PAIRS} pairs. Drop a file here too.
      </p>
      {error ? (
        <div className="pw-error" role="alert" data-testid="dataset.error">
          {error.split('\n').map((line, i) => <p key={i}>{line}</p>)}
          <button type="button" className="pw-small" onClick={dismissDatasetError}>Dismiss</button>
        </div>
      ) : null}
      {dataset ? (
        <div className="pw-dataset-summary" role="status" data-testid="dataset.summary" data-pairs={dataset.records.length}>
          <span>
            <strong>{dataset.name}</strong>: {dataset.records.length} pair{dataset.records.length === 1 ? '' : 's'}, run instead of the typed pairs
            {dataset.generated?.seed !== undefined ? <> (seed <strong data-testid="dataset.seed">{dataset.generated.seed}</strong>)</> : null}
          </span>
          <button type="button" className="pw-small" onClick={download} data-testid="dataset.export">Export JSONL</button>
          <button type="button" className="pw-small" onClick={clearDataset} data-testid="dataset.remove">Use the typed pairs</button>
        </div>
      ) : null}
      {progress ? <Progress id="dataset" label="Pairs computed" done={progress.done} total={progress.total} onCancel={cancelPairs} /> : null}
      <Generators />
    </div>
  );
}

function Generators() {
  const [kind, setKind] = useState<Kind>('abc');
  const [seed, setSeed] = useState('1');
  const [positions, setPositions] = useState('');
  const [count, setCount] = useState('8');
  const [length, setLength] = useState('4');
  const [variant, setVariant] = useState<InductionVariant>('BB');
  const [message, setMessage] = useState<string | null>(null);
  const seedN = Number(seed);

  const generate = () => {
    if (kind !== 'flip' && !(seed.trim() !== '' && Number.isSafeInteger(seedN) && seedN >= 0)) {
      setMessage('The seed must be a whole number ≥ 0.');
      return;
    }
    const pos = positions.split(/[\s,]+/).filter(Boolean);
    if (kind === 'random' && !pos.every((p) => /^\d+$/.test(p))) {
      setMessage('Positions are whole numbers separated by spaces or commas, e.g. 2 5.');
      return;
    }
    setMessage(null);
    const choice: GeneratorChoice = kind === 'flip' ? { generator: 'flip' }
      : kind === 'abc' ? { generator: 'abc', seed: seedN }
      : kind === 'random' ? { generator: 'random', seed: seedN, positions: pos.map(Number) }
      : { generator: 'induction', seed: seedN, count: Number(count), length: Number(length), variant };
    generateDataset(choice);
  };

  return (
    <details className="pw-generators" data-testid="generator">
      <summary>Generate corrupted prompts</summary>
      <p className="pw-muted pw-small-text">From the clean prompts of the dataset (else the typed pairs); the seed makes it reproducible and goes into the exported file.</p>
      <label>
        Generator{' '}
        <select value={kind} onChange={(e) => setKind(e.target.value as Kind)} data-testid="generator.kind">
          {(Object.keys(GENERATOR_TEXT) as Kind[]).map((k) => <option key={k} value={k}>{GENERATOR_TEXT[k]}</option>)}
        </select>
      </label>
      {kind !== 'flip' ? (
        <label>Seed <input value={seed} inputMode="numeric" size={6} onChange={(e) => setSeed(e.target.value)} data-testid="generator.seed" /></label>
      ) : null}
      {kind === 'random' ? (
        <label>Token positions <input value={positions} placeholder="2 5" size={10} onChange={(e) => setPositions(e.target.value)} data-testid="generator.positions" /></label>
      ) : null}
      {kind === 'induction' ? (
        <>
          <label>Pairs <input value={count} inputMode="numeric" size={4} onChange={(e) => setCount(e.target.value)} data-testid="generator.count" /></label>
          <label>Tokens per half <input value={length} inputMode="numeric" size={3} onChange={(e) => setLength(e.target.value)} data-testid="generator.length" /></label>
          <label>
            Variant{' '}
            <select value={variant} onChange={(e) => setVariant(e.target.value as InductionVariant)} data-testid="generator.variant">
              {INDUCTION_VARIANTS.map((v) => <option key={v} value={v}>{v}</option>)}
            </select>
          </label>
        </>
      ) : null}
      <button type="button" onClick={generate} data-testid="generator.run">Generate</button>
      {message ? <p className="pw-error" role="alert" data-testid="generator.error">{message}</p> : null}
    </details>
  );
}
