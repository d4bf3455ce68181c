import { goldRationale, goldSteps } from '../data/gold.js';
import type { Problem } from '../data/schema.js';
import { TeacherUnsuitableError } from '../errors.js';
import type { TeacherClient, TeacherMode, TeacherNeed } from './types.js';

/** What each need asks of a problem, and how to say it. */
const NEED_CHECKS: Record<TeacherNeed, { has: (p: Problem) => boolean; label: string }> = {
  'gold-steps': {
    has: (p) => (goldSteps(p)?.length ?? 0) > 0,
    label: 'gold steps (meta.goldSteps, a SVAMP equation or a StrategyQA decomposition)',
  },
  'gold-rationale': { has: (p) => goldRationale(p) !== undefined, label: 'a gold rationale (meta.rationale, or an annotation to write one from)' },
};

/**
 * The needs of the built-in teachers, by id, as each class declares them. One table, so a refusal can
 * name the teachers that do work on the problems at hand.
 */
export const TEACHER_NEEDS = {
  simulated: (_mode: TeacherMode): readonly TeacherNeed[] => ['gold-steps'],
  annotation: (mode: TeacherMode): readonly TeacherNeed[] => (mode === 'cot' ? ['gold-rationale'] : ['gold-steps']),
  openai: (_mode: TeacherMode): readonly TeacherNeed[] => [],
} as const;

/** Class names of the built-in teachers, for messages that speak of the API. */
export const TEACHER_CLASSES: Record<keyof typeof TEACHER_NEEDS, string> = {
  simulated: 'SimulatedTeacher',
  annotation: 'AnnotationTeacher',
  openai: 'OpenAICompatibleTeacher',
};

/** The first need of `needs` that some problem lacks, with the problems that lack it. */
function unmet(needs: readonly TeacherNeed[], problems: readonly Problem[]): { need: TeacherNeed; lacking: Problem[] } | undefined {
  for (const need of needs) {
    const lacking = problems.filter((p) => !NEED_CHECKS[need].has(p));
    if (lacking.length > 0) return { need, lacking };
  }
  return undefined;
}

/**
 * Check once, before the first problem, that `teacher` can answer every problem in `mode`: a teacher that
 * declares `needs` (e.g. gold steps) would otherwise fail each problem alike, and no rerun could fix it.
 * Throws a TeacherUnsuitableError naming the teacher, the dataset and the built-in teachers that do work there.
 */
export function checkTeacherNeeds(teacher: TeacherClient, mode: TeacherMode, problems: readonly Problem[]): void {
  const needs = teacher.needs?.(mode) ?? [];
  const missing = unmet(needs, problems);
  if (!missing) return;
  const works = (Object.keys(TEACHER_NEEDS) as Array<keyof typeof TEACHER_NEEDS>)
    .filter((id) => id !== teacher.id && !unmet(TEACHER_NEEDS[id](mode), problems))
    .map((id) => ({ id, className: TEACHER_CLASSES[id] }));
  const datasets = [...new Set(problems.map((p) => p.dataset))];
  const builtIn = TEACHER_CLASSES[teacher.id as keyof typeof TEACHER_CLASSES];
  throw new TeacherUnsuitableError({
    teacher: teacher.id,
    teacherName: builtIn ?? teacher.constructor.name,
    dataset: datasets.join('+'),
    mode,
    need: missing.need,
    needLabel: NEED_CHECKS[missing.need].label,
    lacking: missing.lacking.length,
    total: problems.length,
    firstLacking: missing.lacking[0]!.id,
    works,
  });
}
