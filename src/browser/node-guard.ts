import { BackendUnavailableError } from '../errors.js';

/**
 * Imported first by the browser entry, so it runs before tfjs sets up its platform. In Node, tfjs would
 * take its Node path and fail on the stubbed `util` module with "this.util.TextEncoder is not a
 * constructor", which tells a user nothing. Say which entry to use instead.
 */
const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
const isNode = typeof proc?.versions?.node === 'string';
const hasDom = typeof (globalThis as { document?: unknown }).document !== 'undefined';
if (isNode && !hasDom) {
  throw new BackendUnavailableError(
    'browser',
    "socratic-distill/browser is the browser build (tfjs on wasm, models fetched by URL) and cannot run in Node.js; in Node, import 'socratic-distill' instead",
  );
}
