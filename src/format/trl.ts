import { z } from 'zod';
import { TrainingDataError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { TrainingPair } from './pairs.js';

/** TRL's prompt/completion dataset row, so bigger students can be trained with TRL/accelerate. */
export const TrlRowSchema = z.object({ prompt: z.string(), completion: z.string() });
export type TrlRow = z.infer<typeof TrlRowSchema>;

/**
 * Our trainer appends EOS to every completion; TRL's SFTTrainer does the same for
 * prompt/completion data, so the text written here is exactly the text we train on.
 */
export function toTrlJsonl(pairs: readonly TrainingPair[]): string {
  return pairs.map((p) => JSON.stringify({ prompt: p.prompt, completion: p.completion } satisfies TrlRow)).join('\n') + (pairs.length ? '\n' : '');
}

export async function writeTrlJsonl(path: string, pairs: readonly TrainingPair[]): Promise<void> {
  await writeFileAtomic(path, toTrlJsonl(pairs));
}

export function parseTrlJsonl(text: string, file = 'input'): TrlRow[] {
  return parseJsonl(text, TrlRowSchema, file);
}

/** Parse JSONL with a zod schema; errors name the file and 1-based line. Blank lines are skipped. */
function parseJsonl<T>(text: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>, file = 'input'): T[] {
  const out: T[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (err) {
      throw new TrainingDataError(`${file}:${i + 1}: not valid JSON (${(err as Error).message})`);
    }
    const r = schema.safeParse(json);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new TrainingDataError(`${file}:${i + 1}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
    }
    out.push(r.data);
  }
  return out;
}
