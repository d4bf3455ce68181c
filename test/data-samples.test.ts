import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SocraticDataset, sampleDataDir } from '../src/data/index.js';
import { AnnotationTeacher } from '../src/teacher/index.js';
import { ChainVerifier } from '../src/verify/index.js';
import { SHARED_DATA, hasSharedData } from './fixtures-data/shared.js';

describe('bundled samples', () => {
  it('hold 50 problems per dataset, load with the normal loaders and carry their licenses', async () => {
    for (const dataset of ['gsm8k', 'svamp', 'strategyqa'] as const) {
      const d = await SocraticDataset.load({ dataset, path: join(sampleDataDir(), dataset), split: 'all' });
      expect(d.size).toBe(50);
      expect(readFileSync(join(sampleDataDir(), dataset, 'LICENSE'), 'utf8')).toMatch(/MIT License/);
      const chains = (await Promise.all(d.problems.map((p) => new AnnotationTeacher().decompose(p)))).flat();
      expect(new ChainVerifier().verifyAll(chains, d.problems).stats.kept).toBe(50);
    }
  });

  it.skipIf(!hasSharedData)('are verbatim excerpts of the shared files', async () => {
    const sample = await SocraticDataset.load({ dataset: 'gsm8k', path: join(sampleDataDir(), 'gsm8k'), split: 'test' });
    const full = await SocraticDataset.load({ dataset: 'gsm8k', path: join(SHARED_DATA, 'gsm8k'), split: 'test', limit: 25 });
    expect(sample.problems).toEqual(full.problems);
    const sv = await SocraticDataset.load({ dataset: 'svamp', path: join(sampleDataDir(), 'svamp'), split: 'all' });
    const svFull = await SocraticDataset.load({ dataset: 'svamp', path: join(SHARED_DATA, 'svamp'), split: 'all' });
    for (const p of sv.problems) expect(svFull.get(p.id)).toEqual(p);
  });
});
