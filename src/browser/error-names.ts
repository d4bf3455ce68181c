import * as errors from '../errors.js';

/**
 * Error classes name themselves with `new.target.name`, which a minifier shortens to one letter.
 * Restore the source names so `err.name` reads `ModelFetchError`, not `Nn`, in minified bundles.
 */
for (const [name, value] of Object.entries(errors)) {
  if (typeof value === 'function' && value.name !== name) Object.defineProperty(value, 'name', { value: name });
}
