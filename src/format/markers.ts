/**
 * The literal markers every training format and every solver agrees on.
 * Changing one changes what trained students emit, so they live in one place.
 */
export const MARKERS = {
  problem: 'Problem:',
  facts: 'Facts:',
  question: 'Q:',
  answer: 'A:',
  final: '####',
  /** Emitted by the QG model when no further subquestion is needed. */
  end: '[END]',
} as const;

/** Text fields are single-line in every format: newlines separate turns. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

export function formatAnswer(answer: number | boolean | string): string {
  if (typeof answer === 'boolean') return answer ? 'yes' : 'no';
  return oneLine(String(answer));
}
