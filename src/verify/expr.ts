import { ExpressionError } from '../errors.js';

/**
 * A small recursive-descent evaluator for the arithmetic teachers write in
 * `<<48/2=24>>` notes and `3 x 4 = 12` sentences. It accepts numbers (commas,
 * leading `.`), + - * / ^, `x`/`×`/`÷`, parentheses and unary minus, and nothing
 * else: the text comes from a model, so it is never handed to eval/Function.
 */
type Token = { kind: 'num'; value: number } | { kind: 'op'; value: string };

const MAX_LENGTH = 500;

function tokenize(src: string): Token[] {
  if (src.length > MAX_LENGTH) throw new ExpressionError(`expression longer than ${MAX_LENGTH} characters`);
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === ' ' || ch === '\t' || ch === '$') {
      i++;
      continue;
    }
    const num = /^(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?/.exec(src.slice(i))![0];
    if (num.length > 0 && num !== '.') {
      tokens.push({ kind: 'num', value: Number(num.replace(/,/g, '')) });
      i += num.length;
      continue;
    }
    if ('+-*/^()'.includes(ch)) tokens.push({ kind: 'op', value: ch });
    else if (ch === 'x' || ch === 'X' || ch === '×') tokens.push({ kind: 'op', value: '*' });
    else if (ch === '÷') tokens.push({ kind: 'op', value: '/' });
    else throw new ExpressionError(`unexpected character '${ch}' at ${i} in '${src}'`);
    i++;
  }
  return tokens;
}

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly src: string,
  ) {}

  parse(): number {
    if (this.tokens.length === 0) throw new ExpressionError('empty expression');
    const v = this.sum();
    if (this.pos < this.tokens.length) throw new ExpressionError(`trailing input in '${this.src}'`);
    return v;
  }

  private peekOp(): string | undefined {
    const t = this.tokens[this.pos];
    return t?.kind === 'op' ? t.value : undefined;
  }

  private sum(): number {
    let v = this.product();
    for (let op = this.peekOp(); op === '+' || op === '-'; op = this.peekOp()) {
      this.pos++;
      const r = this.product();
      v = op === '+' ? v + r : v - r;
    }
    return v;
  }

  private product(): number {
    let v = this.power();
    for (let op = this.peekOp(); op === '*' || op === '/'; op = this.peekOp()) {
      this.pos++;
      const r = this.power();
      if (op === '/' && r === 0) throw new ExpressionError(`division by zero in '${this.src}'`);
      v = op === '*' ? v * r : v / r;
    }
    return v;
  }

  private power(): number {
    const base = this.unary();
    if (this.peekOp() === '^') {
      this.pos++;
      return base ** this.power();
    }
    return base;
  }

  private unary(): number {
    const op = this.peekOp();
    if (op === '-' || op === '+') {
      this.pos++;
      const v = this.unary();
      return op === '-' ? -v : v;
    }
    return this.atom();
  }

  private atom(): number {
    const t = this.tokens[this.pos];
    if (!t) throw new ExpressionError(`unexpected end of '${this.src}'`);
    if (t.kind === 'num') {
      this.pos++;
      return t.value;
    }
    if (t.value === '(') {
      if (++this.depth > 50) throw new ExpressionError('parentheses nested too deeply');
      this.pos++;
      const v = this.sum();
      if (this.peekOp() !== ')') throw new ExpressionError(`missing ')' in '${this.src}'`);
      this.pos++;
      this.depth--;
      return v;
    }
    throw new ExpressionError(`unexpected '${t.value}' in '${this.src}'`);
  }
}

/** Evaluate an arithmetic expression safely; throws ExpressionError on anything else. */
export function evaluateExpression(src: string): number {
  const v = new Parser(tokenize(src), src).parse();
  if (!Number.isFinite(v)) throw new ExpressionError(`'${src}' is not finite`);
  return v;
}

/** Like evaluateExpression but returns undefined instead of throwing. */
export function tryEvaluate(src: string): number | undefined {
  try {
    return evaluateExpression(src);
  } catch {
    return undefined;
  }
}
