// `npx tsx scripts/bench-sweep.ts`: only the exact head x position sweep and its naive baseline, measured exactly as
// `npm run bench` does (same checkpoint, prompt, 48 spread naive patches, median of 3 sweeps), for quick before/after
// comparisons on a shared machine. Prints the load average with the figures. --reps N changes the sweep repetitions.
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GPT2_SMALL_CONFIG } from '../src/engine/model/checkpoint';
import { loadModelFromDir, writeRandomCheckpoint } from '../src/engine/model/weights-node';
import { createNodeRuntime } from '../src/engine/runtime/node';
import { PatchingEngine, familyShape } from '../src/engine/patching';
import { BENCH_EXPERIMENT, naivePatchTimes } from './naive-patch';
import { numel } from '../src/engine/graph/shape';

const { values: args } = parseArgs({ options: { dir: { type: 'string', default: '.cache/bench/gpt2-small-random' }, samples: { type: 'string', default: '48' }, threads: { type: 'string' }, bucket: { type: 'string' }, reps: { type: 'string', default: '3' }, 'skip-naive': { type: 'boolean' } } });
const log = (m: string) => process.stderr.write(m + '\n');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

if (!existsSync(join(args.dir!, 'model.safetensors'))) {
  log(`writing a GPT-2-Small-shaped random checkpoint to ${args.dir} ...`);
  await writeRandomCheckpoint(args.dir!, { ...GPT2_SMALL_CONFIG, name: 'gpt2-small-random' }, 1234);
}
const { config: cfg, weights } = await loadModelFromDir(args.dir!);
const rt = createNodeRuntime({ threads: args.threads ? Number(args.threads) : undefined });
const engine = await PatchingEngine.create(rt, cfg, weights);
const exp = engine.resolve(BENCH_EXPERIMENT);
const P = exp.nPos;
log(`load average before: ${load()}`);

const shape = familyShape('head_out', cfg, P);
const nPatches = numel(shape);
let naivePerPatch = NaN;
let naiveCpuPerPatch = NaN;
// CPU time (every thread of this process): on a loaded machine it varies less than wall time.
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
if (!args['skip-naive']) {
  const samples = Number(args.samples);
  const { wall: naiveTimes, cpu: naiveCpu } = await naivePatchTimes(rt, cfg, exp.corrupted[0], samples);
  naivePerPatch = naiveTimes.reduce((a, b) => a + b, 0) / naiveTimes.length;
  naiveCpuPerPatch = naiveCpu.reduce((a, b) => a + b, 0) / naiveCpu.length;
  log(`naive: ${naivePerPatch.toFixed(1)} ms per patch (sample of ${samples}) -> ${(naivePerPatch * nPatches / 1000).toFixed(1)} s for ${nPatches} patches`);
}
const sweepTimes: number[] = [];
const sweepCpu: number[] = [];
for (let rep = 0; rep < Number(args.reps); rep++) {
  const t0 = performance.now();
  const c = process.cpuUsage();
  const faults = process.resourceUsage().minorPageFault;
  await engine.sweep(exp, 'head_out', { positionBucket: args.bucket ? Number(args.bucket) : undefined });
  sweepTimes.push(performance.now() - t0);
  const used = process.cpuUsage(c);
  sweepCpu.push(cpuMs(used));
  log(`  sweep ${rep + 1}: ${(sweepTimes[rep] / 1000).toFixed(2)} s (cpu ${(sweepCpu[rep] / 1000).toFixed(2)} s, of which system ${(used.system / 1e6).toFixed(2)} s; ${process.resourceUsage().minorPageFault - faults} page faults)`);
}
const sweepMs = median(sweepTimes);
const result = {
  sweep_head_pos_ms: Math.round(sweepMs), sweep_head_pos_first_ms: Math.round(sweepTimes[0]),
  naive_ms_per_patch: +naivePerPatch.toFixed(1), naive_sweep_head_pos_ms: Math.round(naivePerPatch * nPatches),
  sweep_speedup: +(naivePerPatch * nPatches / sweepMs).toFixed(2),
  sweep_cpu_ms: Math.round(median(sweepCpu)), naive_cpu_ms_per_patch: +naiveCpuPerPatch.toFixed(1),
  sweep_speedup_cpu: +(naiveCpuPerPatch * nPatches / median(sweepCpu)).toFixed(2), sessions_created: rt.sessionsCreated, load_average: load(),
};
console.log(JSON.stringify(result));
await engine.dispose();
