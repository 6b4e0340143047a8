// Only the datasets figure of `npm run bench` (issue 13): `attribute --pairs` on N IOI-style pairs of a
// GPT-2-Small-shaped random checkpoint, in its own process, with its time and peak RSS. `npx tsx scripts/bench-pairs-only.ts --pairs 1000`
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GPT2_SMALL_CONFIG } from '../src/engine/model/checkpoint';
import { writeRandomCheckpoint } from '../src/engine/model/weights-node';
import { benchPairs } from './bench-pairs';

const { values: args } = parseArgs({ options: { dir: { type: 'string', default: '.cache/bench/gpt2-small-random' }, pairs: { type: 'string', default: '1000' }, threads: { type: 'string' } } });
if (!existsSync(join(args.dir!, 'config.json'))) await writeRandomCheckpoint(args.dir!, { ...GPT2_SMALL_CONFIG, name: 'gpt2-small-random' }, 1234);
process.stdout.write(JSON.stringify(await benchPairs(args.dir!, Number(args.pairs), args.threads)) + '\n');
