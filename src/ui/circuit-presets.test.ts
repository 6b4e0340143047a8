// The circuit presets' "Look for" (issue 11): the edges each names are there by exact path patching on the shipped
// toy model (onnxruntime-node), among the largest, positive, and (where the text says so) missed by attribution.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelFromDir } from '../engine/model/weights-node';
import { PatchingEngine, allEdges, edgeName, parseEdges } from '../engine/patching';
import { createNodeRuntime } from '../engine/runtime/node';
import { CIRCUIT_PRESETS, presetById } from './presets';

const DIRS = { toy: 'public/models/toy-induction', 'toy-ioi': 'public/models/toy-ioi' } as const;

describe.each(CIRCUIT_PRESETS.map((p) => [p.id, p] as const))('circuit preset %s', (_id, preset) => {
  let engine: PatchingEngine;
  beforeAll(async () => {
    const { config, weights } = await loadModelFromDir(DIRS[preset.kind as keyof typeof DIRS]);
    engine = await PatchingEngine.create(createNodeRuntime({ threads: 1 }), config, weights);
  }, 60_000);
  afterAll(() => engine?.dispose());

  it('opens the Circuit tab and names its edges in "Look for"', () => {
    expect(preset.view.tab).toBe('circuit');
    expect(presetById(preset.id)).toBe(preset);
    expect(preset.edges!.length).toBeGreaterThanOrEqual(2);
    for (const e of preset.edges!) expect(preset.lookFor).toContain(e);
  });

  it('the named edges are among the largest exact path patches, and positive', async () => {
    const exp = engine.resolve(preset.spec);
    const layout = engine.edgeLayout();
    const all = allEdges(layout);
    const exact = await engine.pathPatch(exp, all);
    const names = all.map((e) => edgeName(layout, e));
    const rank = [...names.keys()].sort((a, b) => Math.abs(exact[b]) - Math.abs(exact[a]));
    const top = new Set(rank.slice(0, 5).map((i) => names[i]));
    const scores = await engine.edgeScores(exp);
    const R = layout.receivers.length;
    const named = parseEdges(engine.cfg, [...preset.edges!]);
    named.forEach((e, i) => {
      const name = preset.edges![i];
      const x = exact[names.indexOf(name)];
      expect(top.has(name), `${name} (exact ${x}) in the top 5 of ${rank.slice(0, 5).map((j) => `${names[j]} ${exact[j].toFixed(3)}`).join(', ')}`).toBe(true);
      expect(x, `${name} exact`).toBeGreaterThan(0.3);
      // Attribution misses the key-side edges (near 0) and underestimates IOI's first two by far.
      const attr = scores.edges[e.sender * R + e.receiver];
      if (preset.id === 'toy-induction-keys') expect(Math.abs(attr), `${name} attribution`).toBeLessThan(0.1 * x);
      if (preset.id === 'toy-ioi-circuit' && i < 2) expect(attr, `${name} attribution`).toBeLessThan(0.5 * x);
    });
  }, 120_000);
});
