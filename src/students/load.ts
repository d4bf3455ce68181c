import type { BackendChoice } from './lm.js';
import { readManifest } from './common.js';
import { IterativeStudent } from './iterative.js';
import { AnswerOnlyStudent, CoTStudent, UnifiedStudent } from './single.js';

export type Student = AnswerOnlyStudent | CoTStudent | UnifiedStudent | IterativeStudent;

/** Load any student directory written by `save()`, dispatching on its student.json. */
export async function loadStudent(dir: string, backend?: BackendChoice): Promise<Student> {
  const manifest = await readManifest(dir);
  switch (manifest.kind) {
    case 'answer-only':
      return AnswerOnlyStudent.load(dir, backend);
    case 'cot':
      return CoTStudent.load(dir, backend);
    case 'unified':
      return UnifiedStudent.load(dir, backend);
    case 'iterative':
      return IterativeStudent.load(dir, backend);
  }
}
