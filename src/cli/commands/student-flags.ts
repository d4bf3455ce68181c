import type { LoraOptions } from '../../arch/lora.js';
import type { BackendPreference } from '../../backend/types.js';
import { BaseModelMissingError } from '../../errors.js';
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

/**
 * `--lora r=16,alpha=32[,targets=q_proj+v_proj]`: a LoRA adapter's rank (a whole number >= 1), alpha (a number > 0)
 * and optionally the modules to adapt, joined by `+` (which ones exist is checked against the model when it loads).
 */
export function loraFlag(value: string | undefined): LoraOptions | undefined {
  if (value === undefined) return undefined;
  const usage = "--lora takes r=<rank>,alpha=<alpha>[,targets=<module>+<module>...], e.g. --lora r=16,alpha=32 or --lora r=8,alpha=16,targets=q_proj+v_proj";
  const fields = new Map<string, string>();
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (eq < 0 || !key || !v) throw new CliUsageError(`${usage}; got '${value}'`);
    if (!['r', 'alpha', 'targets'].includes(key)) throw new CliUsageError(`--lora: unknown field '${key}' (the fields are r, alpha and targets); ${usage}`);
    if (fields.has(key)) throw new CliUsageError(`--lora: ${key} is given twice in '${value}'`);
    fields.set(key, v);
  }
  const rText = fields.get('r');
  const alphaText = fields.get('alpha');
  if (rText === undefined || alphaText === undefined) throw new CliUsageError(`--lora needs both r and alpha; ${usage}`);
  const r = Number(rText);
  if (!Number.isInteger(r) || r < 1) throw new CliUsageError(`--lora: r must be a whole number >= 1, got '${rText}'`);
  const alpha = Number(alphaText);
  if (!Number.isFinite(alpha) || alpha <= 0) throw new CliUsageError(`--lora: alpha must be a number > 0, got '${alphaText}'`);
  const targetsText = fields.get('targets');
  if (targetsText === undefined) return { r, alpha };
  const targets = targetsText.split('+').map((t) => t.trim());
  if (targets.some((t) => !/^[a-z_]+$/.test(t))) throw new CliUsageError(`--lora: targets are module names joined by '+' (e.g. q_proj+v_proj), got '${targetsText}'`);
  return { r, alpha, targets: targets as [string, ...string[]] };
}

/** A library error about a LoRA student's missing base, in the CLI's words (`--base`). */
export function baseFlagHint(err: unknown, given: string | undefined): unknown {
  if (!(err instanceof BaseModelMissingError)) return err;
  const how = given !== undefined ? '--base must name the base model\'s directory' : 'put the base back there, or pass its directory with --base <dir>';
  return new BaseModelMissingError(err.dir, err.basePath, how);
}
