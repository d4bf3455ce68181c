/** docs/benchmarks.md is generated: it holds what the run measured and nothing from earlier runs (issue #15, item 7). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KEEP_MARKER, renderDoc, type DocInput, type Figure } from '../bench/report.js';

const figure: Figure = {
  metric: 'train_tokens_per_s', config: 'tiny', backend: 'native-builtin', batch: 8, value: 1500, baseline: 1000, ratio: 1.5, samples: 5,
  cpuPerRep: 2.5, baselineFrom: '2030-01-02, quiet', sameRun: 600, sameRatio: 2.5, load: 0.3, peakFraction: [0.9, 0.6],
};
const input: DocInput = {
  date: '2030-01-01T00:00:00Z', baseline: 'torch (file of 2030-01-02)', sameRun: 'not measured', machine: { cpu: 'cpu', cores: 4, memGiB: 8, flags: 'avx2', node: 'v20' },
  backends: ['native-builtin'], figures: [figure], profiles: [], notes: ['a note of this run'], loadBefore: [0.1, 0.2, 0.3], loadAfter: [0.3, 0.2, 0.1], command: 'npm run bench',
};

describe('bench/report.ts renderDoc', () => {
  it('writes only what the run measured: every date in it comes from the input, and no withdrawn or earlier figures', () => {
    const doc = renderDoc(input);
    expect(doc).toContain('| train | tiny | native-builtin | 8 | 1500.0 tok/s |');
    expect(doc).toContain('- a note of this run');
    expect(doc).toContain("the bench's own 4 threads make a 1-minute load of about 4 on 4 cores");
    expect(new Set(doc.match(/\d{4}-\d{2}-\d{2}/g))).toEqual(new Set(['2030-01-01', '2030-01-02']));
    expect(doc).not.toMatch(/withdrawn|earlier|before this change/i);
    expect(doc).not.toContain(KEEP_MARKER);
  });

  it('reads the targets from native-builtin rows, else from native rows, naming the backend; a missing ratio is n/a', () => {
    const native: Figure = { ...figure, backend: 'native', value: 1200, baseline: null, ratio: null, sameRun: 400, sameRatio: 3 };
    const doc = renderDoc({ ...input, backends: ['native'], figures: [native] });
    expect(doc).toContain('| tiny training >= 1.5x PyTorch | native | 1200.0 | n/a | 3.00x met |');
    expect(doc).toContain('| train | tiny | native | 8 | 1200.0 tok/s | n/a | n/a |');
    expect(doc).toContain('| gpt2-small training >= 1.3x PyTorch | not measured |');
    const both = renderDoc({ ...input, backends: ['native', 'native-builtin'], figures: [native, figure] });
    expect(both).toContain('| tiny training >= 1.5x PyTorch | native-builtin | 1500.0 | 1.50x met | 2.50x met |');
  });

  it('docs/benchmarks.md keeps the history out of the generated part and links to it', () => {
    const docs = join(__dirname, '../docs');
    const file = readFileSync(join(docs, 'benchmarks.md'), 'utf8');
    const [generated, kept] = file.split(KEEP_MARKER) as [string, string];
    expect(generated).not.toMatch(/withdrawn|hand-written/i);
    expect(kept).toContain('(benchmarks-history.md)');
    const history = readFileSync(join(docs, 'benchmarks-history.md'), 'utf8');
    for (const heading of ['## Withdrawn figures', '## Before the built-in sgemm rewrite', '## Decode batch 16 after the run under load']) expect(history).toContain(heading);
  });
});
