import { z } from 'zod';
import { DatasetFormatError } from '../errors.js';
import { parseNumber } from './numbers.js';
import type { Problem, SocraticStep } from './schema.js';

/** One GSM8K JSONL row (both the plain and the socratic variant). */
export const Gsm8kRowSchema = z.object({ question: z.string().min(1), answer: z.string().min(1) });

export interface ParsedGsm8kAnswer {
  /** Socratic steps, present when every step line has a `subquestion ** ` prefix. */
  steps: SocraticStep[] | undefined;
  /** The plain (main-variant) answer text, `#### N` line included: the CoT rationale. */
  rationale: string;
  finalAnswer: number;
}

const NOTE_RESULT = /<<[^<>]*=([^<>]+)>>/g;

/** A step's result: its last calculator note, else the last number in the text. */
export function stepResult(solution: string): number | undefined {
  const notes = [...solution.matchAll(NOTE_RESULT)];
  const fromNote = notes.length > 0 ? parseNumber(notes.at(-1)![1]!) : null;
  if (fromNote !== null) return fromNote;
  const numbers = solution.replace(/<<[^<>]*>>/g, ' ').match(/-?\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?/g);
  const last = numbers ? parseNumber(numbers.at(-1)!) : null;
  return last ?? undefined;
}

/** Remove `<<expr=value>>` calculator notes, which students need not generate. */
export function stripCalculatorNotes(text: string): string {
  return text.replace(/<<[^<>]*>>/g, '');
}

/**
 * Parse a GSM8K answer: step lines (optionally `subquestion ** solution`) and a
 * final `#### N` line. Throws a plain Error with the reason; callers add file/line.
 */
export function parseGsm8kAnswer(answer: string): ParsedGsm8kAnswer {
  const lines = answer.split('\n');
  const finalLine = lines.at(-1)!;
  const m = /^####\s*(.+)$/.exec(finalLine.trim());
  if (!m) throw new Error(`last line must be '#### <answer>', got '${finalLine.slice(0, 40)}'`);
  const finalAnswer = parseNumber(m[1]!);
  if (finalAnswer === null) throw new Error(`final answer '${m[1]}' is not a number`);
  const bodyLines = lines.slice(0, -1);
  const stepLines = bodyLines.filter((l) => l.trim().length > 0);
  const socratic = stepLines.length > 0 && stepLines.every((l) => l.includes(' ** '));
  // Blank lines are kept in the rationale so it stays byte-identical to the plain file.
  const plainLines = bodyLines.map((l) => (socratic && l.includes(' ** ') ? l.slice(l.indexOf(' ** ') + 4) : l));
  const steps = socratic
    ? stepLines.map((l): SocraticStep => {
        const solution = l.slice(l.indexOf(' ** ') + 4);
        const result = stepResult(solution);
        return { subquestion: l.slice(0, l.indexOf(' ** ')).trim() || '(missing subquestion)', solution, ...(result === undefined ? {} : { answer: result }) };
      })
    : undefined;
  return { steps, rationale: [...plainLines, finalLine].join('\n'), finalAnswer };
}

export function gsm8kProblem(raw: z.infer<typeof Gsm8kRowSchema>, id: string, file: string, line: number): Problem {
  let parsed: ParsedGsm8kAnswer;
  try {
    parsed = parseGsm8kAnswer(raw.answer);
  } catch (err) {
    throw new DatasetFormatError(file, line, (err as Error).message, 'answer');
  }
  return {
    id,
    dataset: 'gsm8k',
    question: raw.question,
    answer: parsed.finalAnswer,
    meta: { rationale: parsed.rationale, ...(parsed.steps ? { goldSteps: parsed.steps } : {}) },
  };
}
