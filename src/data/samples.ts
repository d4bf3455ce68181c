import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Folder of the bundled 50-problem samples (data/samples in the package).
 * The same code runs from src/data (tests, tsx) and from the dist bundle, which
 * sit at different depths below the package root, so both are tried.
 */
export function sampleDataDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['..', '../..', '../../..']) {
    const dir = join(here, up, 'data', 'samples');
    if (existsSync(join(dir, 'README.md'))) return dir;
  }
  throw new Error(`bundled samples not found near ${here}; reinstall the package`);
}
