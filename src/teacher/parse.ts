import type { Answer, DatasetName, SocraticStep } from '../data/schema.js';
import { stepResult } from '../data/gsm8k.js';
import { extractAnswer, parseBoolean } from '../verify/answer.js';

export interface ParsedDecomposition {
  steps: SocraticStep[];
  /**
   * The stated final answer, read as the dataset's answer type. When the text states one that cannot be
   * read (`Final answer: seventy-two`) this is that text, verbatim, so the verifier can reject the chain
   * as `unparseable-final-answer` instead of crediting it with the last step's result.
   * Null only when no answer is stated and the last step has none.
   */
  finalAnswer: Answer | null;
}

const QUESTION_LINE = /^(?:[-*#>\s]*)(?:\*\*)?\s*(?:Q|Sub-?question|Question)\s*(\d+)?\s*(?:\*\*)?\s*[:.)]\s*(?:\*\*)?\s*(.*)$/i;
const ANSWER_LINE = /^(?:[-*#>\s]*)(?:\*\*)?\s*(?:A|Answer|Solution)\s*(\d+)?\s*(?:\*\*)?\s*[:.)]\s*(?:\*\*)?\s*(.*)$/i;
const FINAL_LINE = /^(?:[-*#>\s]*)(?:\*\*)?\s*(?:final answer|the final answer is|so the answer is|the answer is)\s*(?:\*\*)?\s*[:.]?\s*(?:\*\*)?\s*(.*)$/i;

function stepAnswer(solution: string, dataset: DatasetName): SocraticStep['answer'] {
  if (dataset === 'strategyqa') {
    const m = /\b(yes|no)\b[^a-z]*$/i.exec(solution.trim());
    return m ? (parseBoolean(m[1]!) ?? undefined) : undefined;
  }
  return stepResult(solution);
}

/**
 * Read a teacher's free text into Socratic steps. Accepts `Q1:/A1:` pairs
 * (bold, numbered or not), `Sub-question:/Answer:` and GSM8K `subq ** solution`
 * lines; the final answer from `Final answer:`, `The answer is`, or `#### N` (else the last step's).
 * Returns undefined when no step can be found (the caller records off-format).
 */
export function parseDecomposition(text: string, dataset: DatasetName): ParsedDecomposition | undefined {
  const steps: { subquestion: string; solution: string }[] = [];
  let final: string | undefined;
  let target: 'q' | 'a' | null = null;
  for (const raw of text.replace(/\r/g, '').split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const finalMatch = FINAL_LINE.exec(line) ?? /^####\s*(.*)$/.exec(line);
    const q = QUESTION_LINE.exec(line);
    const a = ANSWER_LINE.exec(line);
    if (finalMatch && !q) {
      final = finalMatch[1]!.replace(/\*\*/g, '').trim();
      target = null;
    } else if (q) {
      steps.push({ subquestion: q[2]!.trim(), solution: '' });
      target = 'q';
    } else if (a && steps.length > 0) {
      steps.at(-1)!.solution = a[2]!.trim();
      target = 'a';
    } else if (line.includes(' ** ')) {
      const at = line.indexOf(' ** ');
      steps.push({ subquestion: line.slice(0, at).trim(), solution: line.slice(at + 4).trim() });
      target = 'a';
    } else if (target && steps.length > 0) {
      const last = steps.at(-1)!;
      if (target === 'q') last.subquestion += ` ${line}`;
      else last.solution += ` ${line}`;
    }
  }
  const usable = steps.filter((s) => s.subquestion.length > 0 && s.solution.length > 0);
  if (usable.length === 0) return undefined;
  const parsedSteps = usable.map((s): SocraticStep => {
    const answer = stepAnswer(s.solution, dataset);
    return { subquestion: s.subquestion, solution: s.solution, ...(answer === undefined ? {} : { answer }) };
  });
  if (final !== undefined && final.length > 0) return { steps: parsedSteps, finalAnswer: extractAnswer(final, dataset, 'flexible') ?? final };
  return { steps: parsedSteps, finalAnswer: parsedSteps.at(-1)!.answer ?? null };
}
