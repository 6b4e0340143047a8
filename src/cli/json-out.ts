// JSON output that never exists as one string: `pattern_by_pos` on a 596-token GPT-2 Small prompt is ~51M numbers,
// over 1 GB of text, past V8's longest string ("Invalid string length", issue 16). Values are written in chunks
// as they are serialised; a file is written under a temporary name and renamed when complete, so an error never
// leaves a partial file. Writes are synchronous, so a Ctrl-C handler (main.ts) runs only before or after one.
import { closeSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { numel } from '../engine/graph/shape';
import type { Labelled } from '../engine/patching';

export class OutputError extends Error {
  override readonly name = 'OutputError';
}

const CHUNK = 1 << 20;

const isLabelled = (x: unknown): x is Labelled =>
  typeof x === 'object' && x !== null && (x as Labelled).data instanceof Float64Array && Array.isArray((x as Labelled).shape);

/** Numbers as JSON.stringify writes them (NaN and +-Infinity become null). */
const num = (x: number) => (Number.isFinite(x) ? String(x) : 'null');

/**
 * Serialises `value` as JSON.stringify would, calling `write` with pieces of at most about 1 MiB. A Labelled value
 * (a result array with axes) is written as nested arrays, outermost axis first, straight from its Float64Array.
 */
export function writeJson(write: (chunk: string) => void, value: unknown, chunkSize = CHUNK): void {
  let parts: string[] = [];
  let size = 0;
  const push = (s: string) => {
    parts.push(s);
    size += s.length;
    if (size >= chunkSize) flush();
  };
  const flush = () => {
    if (size > 0) write(parts.join(''));
    parts = [];
    size = 0;
  };
  const labelled = (x: Labelled) => {
    const nest = (axis: number, offset: number) => {
      const n = x.shape[axis];
      const last = axis === x.shape.length - 1;
      const stride = numel(x.shape.slice(axis + 1));
      push('[');
      if (last) {
        // A row at a time: rows are short (positions, neurons), and one push per number would be slow.
        const row: string[] = new Array(n);
        for (let i = 0; i < n; i++) row[i] = num(x.data[offset + i]);
        push(row.join(','));
      } else {
        for (let i = 0; i < n; i++) {
          if (i) push(',');
          nest(axis + 1, offset + i * stride);
        }
      }
      push(']');
    };
    if (x.shape.length === 0) push(num(x.data[0]));
    else nest(0, 0);
  };
  const any = (v: unknown): void => {
    if (isLabelled(v)) return labelled(v);
    if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') return any((v as { toJSON(): unknown }).toJSON());
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return any(Array.from(v as unknown as ArrayLike<number>));
    if (Array.isArray(v)) {
      push('[');
      v.forEach((e, i) => {
        if (i) push(',');
        any(e === undefined || typeof e === 'function' || typeof e === 'symbol' ? null : e);
      });
      return push(']');
    }
    if (v !== null && typeof v === 'object') {
      push('{');
      let first = true;
      for (const [k, e] of Object.entries(v)) {
        if (e === undefined || typeof e === 'function' || typeof e === 'symbol') continue;
        push(`${first ? '' : ','}${JSON.stringify(k)}:`);
        first = false;
        any(e);
      }
      return push('}');
    }
    push(JSON.stringify(v) ?? 'null');
  };
  any(value);
  flush();
}

const partialName = (path: string) => join(dirname(path), `.${basename(path)}.${process.pid}.partial`);

/** Throws OutputError unless `path` can be written: called before any computation, so no result is lost. */
export function checkOutputPath(path: string): void {
  const full = resolve(path);
  let existing;
  try {
    existing = statSync(full, { throwIfNoEntry: false });
  } catch {
    existing = undefined; // e.g. ENOTDIR: the probe below says why
  }
  if (existing?.isDirectory()) throw new OutputError(`cannot write ${path}: it is a folder`);
  const probe = partialName(full);
  try {
    closeSync(openSync(probe, 'wx'));
    unlinkSync(probe);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const folder = dirname(full);
    const why =
      code === 'ENOENT' ? `the folder ${folder} does not exist`
      : code === 'ENOTDIR' ? `${folder} is not a folder`
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? `the folder ${folder} is not writable (${code})`
      : (e as Error).message;
    throw new OutputError(`cannot write ${path}: ${why}`);
  }
}

/** Writes `value` as JSON to `path` atomically (temporary file + rename); on error nothing is left behind. */
export function writeJsonFile(path: string, value: unknown): void {
  const full = resolve(path);
  const tmp = partialName(full);
  const fd = openSync(tmp, 'w');
  let closed = false;
  try {
    writeJson((chunk) => {
      const bytes = Buffer.from(chunk, 'utf8');
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
    }, value);
    writeSync(fd, '\n');
    closeSync(fd);
    closed = true;
    renameSync(tmp, full);
  } catch (e) {
    if (!closed) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw e;
  }
}
