#!/usr/bin/env node
// The Patchwork CLI runs the TypeScript engine directly through tsx: one engine, no separate build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main();
