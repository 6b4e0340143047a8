// Finding config.json + model.safetensors among files the user picked or dropped (files or a whole folder).

export interface LocalModelFiles {
  name: string;
  config: File;
  weights: File;
}

/** From a flat list (an <input multiple> or <input webkitdirectory>), or a message saying what is missing. */
export function pickModelFiles(files: readonly File[]): LocalModelFiles | { error: string } {
  const config = files.find((f) => f.name === 'config.json');
  const weights = files.find((f) => f.name === 'model.safetensors') ?? files.find((f) => f.name.endsWith('.safetensors'));
  const missing = [!config && 'config.json', !weights && 'model.safetensors'].filter(Boolean);
  if (missing.length) {
    const got = files.length ? ` (got ${files.slice(0, 4).map((f) => f.name).join(', ')}${files.length > 4 ? ', …' : ''})` : '';
    return { error: `A model needs config.json and model.safetensors; ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing${got}.` };
  }
  const folder = (weights!.webkitRelativePath || config!.webkitRelativePath).split('/').filter(Boolean);
  const name = folder.length > 1 ? folder[0] : weights!.name.replace(/\.safetensors$/, '') || 'local model';
  return { name, config: config!, weights: weights! };
}

interface EntryLike {
  isFile: boolean;
  isDirectory: boolean;
  name: string;
  file?(ok: (f: File) => void, fail: (e: unknown) => void): void;
  createReader?(): { readEntries(ok: (entries: EntryLike[]) => void, fail: (e: unknown) => void): void };
}

async function readDir(entry: EntryLike): Promise<EntryLike[]> {
  const reader = entry.createReader!();
  const all: EntryLike[] = [];
  // readEntries returns batches (100 in Chrome) until an empty one.
  for (;;) {
    const batch = await new Promise<EntryLike[]>((ok, fail) => reader.readEntries(ok, fail));
    if (!batch.length) return all;
    all.push(...batch);
  }
}

const entryFile = (e: EntryLike) => new Promise<File>((ok, fail) => e.file!(ok, fail));

/** Files from a drop: dropped files as they are, a dropped folder's top-level files; the folder names the model. */
export async function filesFromDrop(dt: DataTransfer): Promise<{ files: File[]; folder?: string }> {
  const entries: EntryLike[] = [];
  for (const item of Array.from(dt.items ?? [])) {
    const entry = item.kind === 'file' ? (item.webkitGetAsEntry?.() as unknown as EntryLike | null) : null;
    if (entry) entries.push(entry);
  }
  const dir = entries.find((e) => e.isDirectory);
  if (dir) {
    const inside = (await readDir(dir)).filter((e) => e.isFile);
    return { files: await Promise.all(inside.map(entryFile)), folder: dir.name };
  }
  return { files: Array.from(dt.files ?? []) };
}
