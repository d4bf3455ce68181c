import type { SolvedStep } from './common.js';

/**
 * A phrase said again and again in a row is a decoding loop, not reasoning: one word 4 times (`many many many
 * many`), or a phrase of 2-8 words 3 times (`So the answer is. So the answer is. So the answer is.`, `2 = 2 = 2 =`).
 * A repeated phrase with a number in it counts only with an `=` in it: real sums repeat terms (`20 + 20 + 20`,
 * `3 cars + 3 cars + 3 cars`; 7 GSM8K gold steps do), but never an equation.
 */
const MAX_PHRASE = 8;

/** True when `text` loops (see above). No GSM8K, SVAMP, StrategyQA or synthetic gold step does. */
export function hasWordLoop(text: string): boolean {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  for (let n = 1; n <= MAX_PHRASE; n++) {
    const needed = n === 1 ? 4 : 3;
    for (let start = 0; start + n * needed <= words.length; start++) {
      let times = 1;
      while (start + (times + 1) * n <= words.length && sameRun(words, start, start + times * n, n)) times++;
      if (times < needed) continue;
      const phrase = words.slice(start, start + n).join(' ');
      if (n === 1 || !/\d/.test(phrase) || phrase.includes('=')) return true;
    }
  }
  return false;
}

function sameRun(words: readonly string[], a: number, b: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (words[a + i] !== words[b + i]) return false;
  return true;
}

/**
 * Why a new step shows the student looping instead of reasoning, or undefined: it repeats an earlier step
 * word for word (subquestion and solution: a real chain may ask the same question twice, never with the same
 * solution), or a line of it repeats one word over and over. Solving stops there (`stoppedBy: 'repetition'`).
 */
export function repetitionIn(step: Pick<SolvedStep, 'subquestion' | 'solution'>, earlier: ReadonlyArray<Pick<SolvedStep, 'subquestion' | 'solution'>>): string | undefined {
  if (hasWordLoop(step.subquestion) || hasWordLoop(step.solution)) return 'repeats one word over and over';
  const k = earlier.findIndex((e) => e.subquestion.trim() === step.subquestion.trim() && e.solution.trim() === step.solution.trim());
  return k >= 0 ? `repeats step ${k + 1} word for word` : undefined;
}
