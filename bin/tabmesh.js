#!/usr/bin/env node
// The CLI bundled into one file (scripts/bundle.ts) loads in a fraction of the CPU that dist/'s ~255 modules take;
// dist/cli/index.js when there is no bundle, or when tsc has built dist/ again since (the bundle would be older code).
import { statSync } from 'node:fs';

const mtime = (rel) => statSync(new URL(rel, import.meta.url), { throwIfNoEntry: false })?.mtimeMs;
const bundle = mtime('../dist/bundle/cli/index.js');
const tsc = mtime('../dist/tsconfig.build.tsbuildinfo');
const fresh = bundle !== undefined && (tsc === undefined || bundle >= tsc);
// Stack traces name the source files, not lines of the bundle.
if (fresh) process.setSourceMapsEnabled(true);
const { main } = await import(fresh ? '../dist/bundle/cli/index.js' : '../dist/cli/index.js');
await main(process.argv.slice(2));
