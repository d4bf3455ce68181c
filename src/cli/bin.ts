#!/usr/bin/env node
/**
 * The `socratic-distill` command. npm links the package's bin through a symlink whose
 * name says nothing about this file, so this entry always runs the CLI; `main.ts`
 * only exports `main` and stays free of side effects for tests and importers.
 */
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`socratic-distill: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
