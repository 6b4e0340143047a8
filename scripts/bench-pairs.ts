// `attribution_1000_pairs_s` (issue 13): `patchwork attribute --pairs` on N IOI-style pairs (one token length, names
// swapped for the corrupted prompt) as a user runs it, in its own process, timed end to end (model load included) with
// its peak RSS (VmHWM from /proc, read until the process exits; Linux). Target: peak RSS under 3 GB for 1,000 pairs.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from '../src/engine/model/tokenizer';

const NAMES = [' Mary', ' John', ' Tom', ' James', ' Anna', ' David', ' Sarah', ' Michael', ' Paul', ' Emma', ' Peter', ' Lisa', ' Mark', ' Kate', ' Daniel', ' Laura'];
const PLACES = [' store', ' park', ' school', ' office', ' beach', ' house', ' garden', ' station'];
const OBJECTS = [' drink', ' book', ' bag', ' ring', ' letter', ' ball', ' pen', ' gift'];

/** n IOI-style pairs, deterministic: every name, place and object is one GPT-2 token, so all pairs share a length. */
export function ioiPairs(n: number): { clean: string; corrupted: string; answer: string; wrong: string }[] {
  for (const w of [...NAMES, ...PLACES, ...OBJECTS]) if (encode(w).length !== 1) throw new Error(`"${w}" is not one token`);
  return Array.from({ length: n }, (_, i) => {
    const a = NAMES[i % NAMES.length];
    const b = NAMES[(i + 1 + Math.floor(i / NAMES.length)) % NAMES.length];
    const [s, io] = a === b ? [a, NAMES[(i + 3) % NAMES.length]] : [a, b];
    const place = PLACES[Math.floor(i / 7) % PLACES.length];
    const obj = OBJECTS[Math.floor(i / 3) % OBJECTS.length];
    const text = (x: string) => `When${s} and${io} went to the${place},${x} gave a${obj} to`;
    return { clean: text(s), corrupted: text(io), answer: io, wrong: s };
  });
}

const vmHwmKb = (pid: number): number => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // exited
  }
};

export async function benchPairs(model: string, n: number, threads?: string): Promise<Record<string, number>> {
  const dir = join('.cache', 'bench', 'pairs');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `ioi-${n}.jsonl`);
  writeFileSync(file, ioiPairs(n).map((p) => JSON.stringify(p)).join('\n') + '\n');
  const out = join(dir, `attribution-${n}.json`);
  const args = ['bin/patchwork.js', 'attribute', '--model', model, '--pairs', file, '--json', out, ...(threads ? ['--threads', threads] : [])];
  const t0 = performance.now();
  const child = spawn('node', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  let peakKb = 0;
  const poll = setInterval(() => (peakKb = Math.max(peakKb, vmHwmKb(child.pid!))), 100);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(poll);
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`patchwork attribute --pairs exited with ${code}`);
  const pairs = JSON.parse(readFileSync(out, 'utf8')).n_pairs;
  if (pairs !== n) throw new Error(`expected ${n} pairs in the output, found ${pairs}`);
  rmSync(out);
  return { [`attribution_${n}_pairs_s`]: +seconds.toFixed(1), [`attribution_${n}_pairs_peak_rss_mb`]: Math.round(peakKb / 1024) };
}
