import { OptionalDependencyError } from '../errors.js';

/** True when `err` says that `pkg` itself could not be found (not a module inside it, not a crash while loading it). */
export function isMissingPackage(err: unknown, pkg: string): boolean {
  // Module loaders (test runners, bundler runtimes) may wrap Node's error: look down the cause chain.
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    // ESM: "Cannot find package 'openai' imported from …"; CJS: "Cannot find module 'openai'".
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && e.message.includes(`'${pkg}'`)) return true;
  }
  return false;
}

/**
 * Load an optional peer dependency. `load` must be a literal `() => import('pkg')` so bundlers and the CJS build
 * keep the specifier; a missing package becomes an OptionalDependencyError that names what to install.
 */
export async function importOptional<T>(packages: readonly string[], feature: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (packages.some((p) => isMissingPackage(err, p))) throw new OptionalDependencyError(packages, feature, { cause: err });
    throw err;
  }
}
