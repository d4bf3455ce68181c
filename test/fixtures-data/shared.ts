import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The shared datasets beside the repo (../shared/data), or SOCRATIC_SHARED/data. */
export const SHARED_DATA = resolve(process.env.SOCRATIC_SHARED ?? resolve(__dirname, '../../../shared'), 'data');
export const hasSharedData = existsSync(join(SHARED_DATA, 'gsm8k', 'test.jsonl'));
