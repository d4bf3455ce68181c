import { realpath } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { BaseModelMissingError, ModelConfigError } from '../errors.js';
import type { StudentBase } from './common.js';
import type { StudentLM } from './lm.js';

/**
 * LoRA students on disk: each model is a PEFT adapter directory over one frozen base, and student.json records that
 * base (its path and a fingerprint), not a copy of its weights unless asked. Loading reads the base once. Node only
 * (the browser loader fetches the same files, src/browser/load.ts).
 */

/** How a student is saved. */
export interface StudentSaveOptions {
  /**
   * LoRA students: also copy the base model (its files as they are) into `<dir>/base`, and point the adapters at it
   * relatively, so the student directory is complete on its own (to move it to another machine, or serve it to the
   * browser). Default false: student.json records where the base is.
   */
  withBase?: boolean;
}

/** How a saved student is loaded. */
export interface StudentLoadOptions {
  /** LoRA students: the base model directory, when it is no longer where student.json records it (moved, or another machine). */
  base?: string;
}

/** The base copy's directory inside a student directory saved `withBase`. */
export const BASE_COPY_DIR = 'base';

/**
 * Save a student's models (sub-directory, model; '' is the student directory itself). Plain models save as HF
 * directories; LoRA models as PEFT adapters over their one shared base, which is returned for student.json.
 */
export async function saveStudentModels(dir: string, models: ReadonlyArray<readonly [string, StudentLM]>, options: StudentSaveOptions = {}): Promise<StudentBase | undefined> {
  const lora = models.filter(([, lm]) => lm.model.lora !== undefined);
  if (lora.length === 0) {
    if (options.withBase) throw new ModelConfigError('save: withBase is for LoRA students (adapters over a base); this student\'s models hold all their weights');
    for (const [sub, lm] of models) await lm.save(join(dir, sub));
    return undefined;
  }
  if (lora.length !== models.length) throw new ModelConfigError('save: a student whose models are partly LoRA adapters and partly full models cannot be saved; give every model an adapter, or none');
  const bases = [...new Set(models.map(([, lm]) => lm.model.baseModel))];
  const basePath = bases[0];
  if (bases.length > 1) throw new ModelConfigError(`save: the student's adapters are over different bases (${bases.join(', ')}); a LoRA student has one base`);
  if (basePath === null || basePath === undefined) {
    throw new ModelConfigError('save: this LoRA student\'s base was not loaded from a directory, so student.json cannot record it; load the base with StudentLM.load(dir, { lora }) or `init`');
  }
  const fs = await import('../model/base-dir.js');
  const fingerprint = await fs.baseFingerprint(basePath);
  const copyDir = join(dir, BASE_COPY_DIR);
  if (options.withBase && !(await sameDir(basePath, copyDir))) await fs.copyBaseDir(basePath, copyDir);
  for (const [sub, lm] of models) {
    const at = join(dir, sub);
    await lm.save(at, options.withBase ? { baseModel: relative(resolve(at), resolve(copyDir)) } : {});
  }
  return { path: basePath, fingerprint, ...(options.withBase ? { copy: BASE_COPY_DIR } : {}) };
}

async function sameDir(a: string, b: string): Promise<boolean> {
  const [ra, rb] = await Promise.all([realpath(a).catch(() => resolve(a)), realpath(b).catch(() => resolve(b))]);
  return ra === rb;
}

/**
 * The base directory to load a LoRA student's adapters over: `given`, else the copy saved beside them, else the path
 * student.json records. A missing base is a BaseModelMissingError naming that path; a different model there (its
 * fingerprint differs) a ModelConfigError naming both.
 */
export async function resolveStudentBase(dir: string, base: StudentBase, given?: string): Promise<string> {
  const fs = await import('../model/base-dir.js');
  const candidates = given !== undefined ? [given] : [...(base.copy ? [join(dir, base.copy)] : []), base.path];
  let found: string | undefined;
  for (const c of candidates) {
    if (await fs.isDirectory(c)) {
      found = c;
      break;
    }
  }
  if (found === undefined) {
    throw new BaseModelMissingError(
      dir,
      given ?? base.path,
      given !== undefined
        ? 'the `base` given to load is not a directory'
        : 'put the base back there, or pass its directory as `base` to loadStudent(dir, backend, { base }) (or to the student class\'s load)',
    );
  }
  if ((await fs.baseFingerprint(found)) !== base.fingerprint) {
    throw new ModelConfigError(
      `${dir}: the base model at ${found} is not the one this student's adapters were trained over (${base.path}, recorded in student.json): ` +
        'its config.json or weights differ; pass that base as `base`',
    );
  }
  return found;
}
