import { z } from 'zod';
import { DatasetFormatError } from '../errors.js';
import type { Problem, SocraticStep } from './schema.js';

export const SvampRowSchema = z.object({
  ID: z.string().min(1),
  Body: z.string(),
  Question: z.string().min(1),
  Equation: z.string().min(1),
  Answer: z.number(),
  Type: z.string().optional(),
});

const QUESTION_WORDS = new Set(['How', 'What', 'Which', 'Who', 'When', 'Where', 'Why', 'Find']);

/**
 * Join Body and Question into one problem text. 358 SVAMP bodies end without a
 * period; most of those end in an `If …` clause, which reads right as `If …, how …?`.
 */
export function joinSvampText(body: string, question: string): string {
  const b = body.trim();
  const q = question.trim();
  if (b.length === 0) return q;
  if (/[.!?]$/.test(b)) return `${b} ${q}`;
  const lastSentence = b.slice(b.search(/[^.!?]*$/)).trim();
  if (/^If\b/.test(lastSentence)) {
    const first = q.split(/\s/, 1)[0]!;
    return `${b}, ${QUESTION_WORDS.has(first) ? q[0]!.toLowerCase() + q.slice(1) : q}`;
  }
  return `${b}. ${q}`;
}

type Node = { value: number } | { op: string; left: Node; right: Node };

/** Parse a SVAMP equation (`( 76.0 - 25.0 )`) into a binary tree; throws on anything else. */
export function parseEquationTree(equation: string): Node {
  const tokens = equation.match(/\d+(?:\.\d+)?|[-+*/()]/g) ?? [];
  if (tokens.join('') !== equation.replace(/\s+/g, '')) throw new Error(`unsupported characters in equation '${equation}'`);
  let pos = 0;
  const expr = (): Node => {
    let left = term();
    while (tokens[pos] === '+' || tokens[pos] === '-') {
      const op = tokens[pos++]!;
      left = { op, left, right: term() };
    }
    return left;
  };
  const term = (): Node => {
    let left = atom();
    while (tokens[pos] === '*' || tokens[pos] === '/') {
      const op = tokens[pos++]!;
      left = { op, left, right: atom() };
    }
    return left;
  };
  const atom = (): Node => {
    const t = tokens[pos++];
    if (t === '(') {
      const inner = expr();
      if (tokens[pos++] !== ')') throw new Error(`unbalanced parentheses in '${equation}'`);
      return inner;
    }
    if (t === undefined || !/^\d/.test(t)) throw new Error(`unexpected '${t ?? 'end'}' in '${equation}'`);
    return { value: Number(t) };
  };
  const tree = expr();
  if (pos !== tokens.length) throw new Error(`trailing tokens in '${equation}'`);
  return tree;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(6)));
}

/** Turn an equation into Socratic steps, one per operation, innermost first; the last asks the question. */
export function svampEquationSteps(equation: string, question: string): SocraticStep[] {
  const steps: SocraticStep[] = [];
  const walk = (node: Node): number => {
    if ('value' in node) return node.value;
    const a = walk(node.left);
    const b = walk(node.right);
    const r = node.op === '+' ? a + b : node.op === '-' ? a - b : node.op === '*' ? a * b : a / b;
    const calc = `${fmt(a)} ${node.op} ${fmt(b)}`;
    steps.push({ subquestion: `What is ${calc}?`, solution: `${calc} = <<${fmt(a)}${node.op}${fmt(b)}=${fmt(r)}>>${fmt(r)}.`, answer: r });
    return r;
  };
  const value = walk(parseEquationTree(equation));
  // A bare-number equation still gets one step, so every chain has a final step.
  if (steps.length === 0) steps.push({ subquestion: question.trim(), solution: `The answer is ${fmt(value)}.`, answer: value });
  steps[steps.length - 1]!.subquestion = question.trim();
  return steps;
}

export function svampProblem(raw: z.infer<typeof SvampRowSchema>, file: string, line: number): Problem {
  try {
    parseEquationTree(raw.Equation);
  } catch (err) {
    throw new DatasetFormatError(file, line, (err as Error).message, 'Equation');
  }
  return {
    id: raw.ID,
    dataset: 'svamp',
    question: joinSvampText(raw.Body, raw.Question),
    answer: raw.Answer,
    meta: { body: raw.Body, questionSentence: raw.Question, equation: raw.Equation, ...(raw.Type ? { type: raw.Type } : {}) },
  };
}
