import { tryEvaluate } from './expr.js';
import { parseNumber } from './answer.js';

/** One arithmetic claim found in a step, e.g. `<<48/2=24>>` or `3 x 4 = 12`. */
export interface ArithmeticClaim {
  expression: string;
  claimed: number;
  actual: number;
  ok: boolean;
  source: 'note' | 'text';
}

const NOTE_RE = /<<([^<>=]+)=([^<>]+)>>/g;

/** Tolerance of a claimed value: half a unit in its last written decimal (people round), at least 1e-6. */
function claimTolerance(claimedText: string): number {
  const decimals = /\.(\d+)/.exec(claimedText)?.[1]?.length ?? 0;
  return Math.max(1e-6, 0.5 * 10 ** -decimals + 1e-9);
}

function check(expression: string, claimedText: string, source: ArithmeticClaim['source']): ArithmeticClaim | undefined {
  const actual = tryEvaluate(expression.trim());
  const claimed = parseNumber(claimedText);
  if (actual === undefined || claimed === null) return undefined;
  const ok = Math.abs(actual - claimed) <= claimTolerance(claimedText.trim().replace(/\.$/, ''));
  return { expression: expression.trim(), claimed, actual, ok, source };
}

/** Calculator notes `<<expr=value>>` (GSM8K style). */
export function noteClaims(text: string): ArithmeticClaim[] {
  const out: ArithmeticClaim[] = [];
  for (const m of text.matchAll(NOTE_RE)) {
    const c = check(m[1]!, m[2]!, 'note');
    if (c) out.push(c);
  }
  return out;
}

/** Characters an arithmetic run may contain once ` x ` and dashes are normalised. */
const RUN_CHARS = /[0-9.,()+\-*/÷$ ]/;
const OPERATOR = /\d[\s)$]*[+\-*/÷^][\s($]*[\d.]/;

function normalizeText(text: string): string {
  return text
    .replace(NOTE_RE, '')
    .replace(/[\u2013\u2212]/g, '-')
    .replace(/(?<=[\d)]\s*)\s[x\u00d7]\s(?=\s*[\d($.])/g, ' * ');
}

/** The arithmetic run ending at `end`, or undefined when the expression clearly starts further left. */
function runBefore(text: string, end: number): string | undefined {
  let start = end;
  while (start > 0 && RUN_CHARS.test(text[start - 1]!)) start--;
  let run = text.slice(start, end).replace(/^[\s,]+/, '').replace(/^\.(?=\s)/, '').trim();
  // `60g * 4/5` or `15 pages x 1/3`: the run starts mid-expression, so its value is not the claim.
  if (/^[+*/÷]/.test(run)) return undefined;
  if (start > 0 && /[a-zA-Z%]/.test(text[start - 1]!) && /^[\d.]/.test(text[start]!)) return undefined;
  // `15 pages x 1/3`: an x left over after normalisation multiplies something we cannot see.
  if (start > 0 && /[x\u00d7]/.test(text[start - 1]!)) return undefined;
  run = run.replace(/^\$/, '');
  return run.length > 0 ? run : undefined;
}

/** The arithmetic run starting at `start`, or undefined when it is not a whole value (e.g. `50%`). */
function runAfter(text: string, start: number): string | undefined {
  let end = start;
  while (end < text.length && RUN_CHARS.test(text[end]!)) end++;
  let run = text.slice(start, end);
  const sentenceEnd = run.search(/\.(\s|$)/);
  if (sentenceEnd >= 0) run = run.slice(0, sentenceEnd);
  else if (/^[%a-zA-Z]/.test(text[end] ?? ' ') && !/\s$/.test(run)) return undefined;
  run = run.replace(/[\s,]+$/, '').trim();
  if (/[+\-*/÷(]$/.test(run)) return undefined;
  return run.length > 0 ? run : undefined;
}

/**
 * Plain-text claims `a op b (op c…) = d`, including chains `a = b = c` and
 * fraction forms `1 - 3/5 = 2/5`. Only whole expressions are checked: a side
 * that starts or ends mid-expression (units, variables, `%`) is skipped, not guessed.
 */
export function textClaims(text: string): ArithmeticClaim[] {
  const plain = normalizeText(text);
  const out: ArithmeticClaim[] = [];
  for (let eq = plain.indexOf('='); eq >= 0; eq = plain.indexOf('=', eq + 1)) {
    const left = runBefore(plain, eq);
    const right = runAfter(plain, eq + 1);
    if (!left || !right || !(OPERATOR.test(left) || OPERATOR.test(right))) continue;
    const actual = tryEvaluate(left);
    const claimed = tryEvaluate(right);
    if (actual === undefined || claimed === undefined) continue;
    const pureNumber = !OPERATOR.test(right);
    const tol = pureNumber ? claimTolerance(right) : 1e-6 * Math.max(1, Math.abs(claimed));
    out.push({ expression: pureNumber ? left : `${left} = ${right}`, claimed, actual, ok: Math.abs(actual - claimed) <= tol, source: 'text' });
  }
  return out;
}

/** Every checkable arithmetic claim in a step's text. */
export function arithmeticClaims(text: string): ArithmeticClaim[] {
  return [...noteClaims(text), ...textClaims(text)];
}
