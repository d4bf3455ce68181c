import type { BackendChoice } from './lm.js';
import { readManifest } from './common.js';
import { IterativeStudent } from './iterative.js';
import type { StudentLoadOptions } from './lora.js';
import { AnswerOnlyStudent, CoTStudent, UnifiedStudent } from './single.js';

export type Student = AnswerOnlyStudent | CoTStudent | UnifiedStudent | IterativeStudent;

/**
 * Load any student directory written by `save()`, dispatching on its student.json. A LoRA student loads its base
 * once, from where student.json records it or from `options.base`.
 */
export async function loadStudent(dir: string, backend?: BackendChoice, options: StudentLoadOptions = {}): Promise<Student> {
  const manifest = await readManifest(dir);
  switch (manifest.kind) {
    case 'answer-only':
      return AnswerOnlyStudent.load(dir, backend, options);
    case 'cot':
      return CoTStudent.load(dir, backend, options);
    case 'unified':
      return UnifiedStudent.load(dir, backend, options);
    case 'iterative':
      return IterativeStudent.load(dir, backend, options);
  }
}
