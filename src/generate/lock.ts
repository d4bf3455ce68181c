import { open, readFile, rm } from 'node:fs/promises';
import { OutputLockedError } from '../errors.js';
import { isProcessAlive } from '../util/process.js';

/**
 * Take `<out>.lock` so two runs never append the same problems twice. A lock
 * left by a crashed (e.g. SIGKILLed) run names a dead pid and is taken over.
 */
const heldHere = new Set<string>();

export async function lockOutput(out: string): Promise<() => Promise<void>> {
  const path = `${out}.lock`;
  if (heldHere.has(path)) throw new OutputLockedError(out, process.pid);
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fh = await open(path, 'wx');
      await fh.write(String(process.pid));
      await fh.close();
      heldHere.add(path);
      return async () => {
        heldHere.delete(path);
        await rm(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isProcessAlive(pid)) throw new OutputLockedError(out, pid);
      await rm(path, { force: true });
    }
  }
  throw new OutputLockedError(out, -1);
}
