import { SocraticDistillError, type TeacherUnsuitableError } from '../../errors.js';

/**
 * The library names the API (`SimulatedTeacher ... use OpenAICompatibleTeacher`); a command says the same refusal
 * in its flags, naming only the teachers it offers (`offered`, as --teacher values); `where` names the data as
 * the command's flags do, e.g. `--dataset jsonl`.
 */
export function teacherRefusal(err: TeacherUnsuitableError, where: string, offered: readonly string[]): SocraticDistillError {
  const works = err.works.filter((w) => offered.includes(w.id));
  const use = works.length > 0 ? `use ${works.map((w) => `--teacher ${w.id}`).join(' or ')} there` : 'no teacher of this command works there';
  const lack = err.lacking === err.total ? `none of the ${err.total} problems has them` : `${err.lacking} of the ${err.total} problems have none (first: ${err.firstLacking})`;
  const what = err.need === 'gold-steps' ? 'gold steps' : 'a gold rationale';
  const mode = err.mode === 'cot' ? ' --mode cot' : '';
  return new SocraticDistillError(err.code, `--teacher ${err.teacher}${mode} cannot work on ${where}: it needs ${what} and ${lack}; ${use}`);
}
