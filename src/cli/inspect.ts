// `patchwork inspect`: the views a researcher checks before trusting a patch (issue 14), at the metric position of
// the clean and the corrupted prompt: the top 5 next tokens, direct logit attribution of every head, MLP, the
// embeddings and the biases (summing to the logit difference, or to the target's logit for the other metrics), and
// the logit lens of the accumulated residual stream after each layer. Same options as attribute and patch.
import type { Command } from 'commander';
import { VOCAB_SIZE, tokenString } from '../engine/model/tokenizer';
import type { DirectLogitAttribution, TokenScore } from '../engine/patching';
import { checkFinite } from '../engine/patching/finite';
import { common, emit, header, setup, type CommonOpts } from './main';
import { runCommand } from './circuits';

const log = (msg: string) => process.stderr.write(`${msg}\n`);

/** Ids with their text (GPT-2's tokenizer; null for ids past its vocabulary), logits and probabilities. */
const scored = (list: TokenScore[]) =>
  list.map((t) => ({ id: t.id, text: t.id < VOCAB_SIZE ? tokenString(t.id) : null, logit: t.logit, prob: t.prob }));

const dlaJson = (d: DirectLogitAttribution) => ({
  heads: d.heads, mlps: d.mlps, embed: d.embed, attn_bias: d.attnBias, ln_final_bias: d.lnFinalBias, total: d.total,
});

async function inspect(o: CommonOpts) {
  return runCommand({ setup, emit, header }, o, 'inspection', async (engine, exp) => {
    const t0 = performance.now();
    const r = await engine.inspect(exp, { k: 5 });
    log(`inspection (top 5, direct logit attribution, logit lens) in ${(performance.now() - t0).toFixed(0)} ms`);
    checkFinite('direct logit attribution', r.metric, (['clean', 'corrupted'] as const).flatMap((run) => [
      [`${run} heads`, r.dla[run].heads], [`${run} mlps`, r.dla[run].mlps],
    ] as [string, typeof r.dla.clean.heads][]));
    const { target, wrong } = r.direction[0];
    // What the components sum to: heads + mlps + embed + attn_bias + ln_final_bias = total.
    const sumsTo = wrong === null ? 'logit(target)' : 'logit(target) - logit(wrong)';
    const dla = { clean: dlaJson(r.dla.clean), corrupted: dlaJson(r.dla.corrupted) };
    const top5 = { clean: scored(r.predictions.clean[0]), corrupted: scored(r.predictions.corrupted[0]) };
    const logitLens = { hooks: r.logitLens.hooks, clean: r.logitLens.clean.map(scored), corrupted: r.logitLens.corrupted.map(scored) };
    // With --pairs, dla (numbers only) gets its mean, sem and per_pair; the rest is per pair (per-pair.ts).
    const result = o.pairs === undefined
      ? { position: r.position, top5, dla: { sums_to: sumsTo, target, wrong, ...dla }, logit_lens: logitLens }
      : { dla, dla_target: { position: r.position, sums_to: sumsTo, target, wrong }, top5, logit_lens: logitLens };
    return { metric: r.metric, result };
  });
}

export function inspectCommand(p: Command): Command {
  return common(p.command('inspect').description('top 5 next tokens, direct logit attribution and logit lens at the metric position, clean and corrupted'))
    .action((o) => inspect(o));
}
