import type { BackendPreference } from '../../backend/types.js';
import { CliUsageError } from '../usage-error.js';

const BACKENDS: readonly BackendPreference[] = ['auto', 'cuda', 'wasm', 'cpu', 'native', 'tfjs-cpu'];

export function backendFlag(value: string | undefined): BackendPreference {
  const b = value ?? 'auto';
  if (!(BACKENDS as readonly string[]).includes(b)) throw new CliUsageError(`--backend must be one of ${BACKENDS.join('|')}, got '${b}'`);
  return b as BackendPreference;
}

/** Repeated string flags (`--student a --student b`) come back as arrays from parseArgs. */
export function listFlag(values: Record<string, unknown>, name: string): string[] {
  const v = values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}
