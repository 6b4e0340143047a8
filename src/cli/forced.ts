// The JSON of multi-token answers (teacher forcing, engine/patching/continuations.ts): the prompts' own tokens, the
// answer and wrong-answer token lists, and `metric.per_token`: each token's log p in the clean and corrupted runs
// (their sums, answer minus wrong, are the metric).
import type { Experiment, PatchingEngine, PerToken } from '../engine/patching';

const perTokenJson = (p: PerToken) => ({ answer: p.answer, wrong: p.wrong });

/** tokens + metric of a teacher-forced experiment (one pair, or the rows of one batch). */
export function forcedHeader(exp: Experiment, metric: { clean: number; corrupted: number }) {
  const f = exp.forced!;
  const prompt = (rows: number[][]) => rows.filter((_, r) => r % 2 === 0).map((t) => t.slice(0, f.promptLength));
  const one = f.answer.length === 1;
  const pick = <T>(list: T[]) => (one ? list[0] : list);
  return {
    tokens: {
      clean: pick(prompt(exp.clean)),
      corrupted: pick(prompt(exp.corrupted)),
      answer: pick(f.answer),
      wrong: pick(f.wrong.map((w) => (w.length ? w : null))),
    },
    metric: { name: exp.spec.metric.name, teacher_forced: true, clean: metric.clean, corrupted: metric.corrupted },
    direction: exp.spec.direction,
  };
}

/** Adds metric.per_token (one pair: {answer, wrong}; several: a list per pair) to a header. */
export async function withPerToken<H extends { metric: object }>(engine: PatchingEngine, exp: Experiment, head: H): Promise<H> {
  if (!exp.forced) return head;
  const p = await engine.perToken(exp);
  return { ...head, metric: { ...head.metric, teacher_forced: true, per_token: p.length === 1 ? perTokenJson(p[0]) : p.map(perTokenJson) } };
}

/** A dataset's per-pair entries: per_token for each teacher-forced pair (null for one-token pairs). */
export async function perTokenPairs(engine: PatchingEngine, exps: Experiment[]): Promise<(ReturnType<typeof perTokenJson> | null)[] | undefined> {
  if (!exps.some((e) => e.forced)) return undefined;
  const out = [];
  for (const e of exps) out.push(e.forced ? perTokenJson((await engine.perToken(e))[0]) : null);
  return out;
}
