import type { TrainProgress } from '../../train/trainer.js';

/**
 * A one-line progress bar on stderr for training (loss, tok/s, ETA). On a non-TTY
 * (CI logs) it prints a plain line every 10% instead of redrawing.
 */
export function trainProgressPrinter(label: () => string): (p: TrainProgress) => void {
  const tty = process.stderr.isTTY === true;
  let lastDecile = -1;
  return (p) => {
    if (p.type === 'eval') {
      process.stderr.write(`${tty ? '\r\x1b[2K' : ''}${label()} step ${p.step}: eval loss ${p.evalLoss?.toFixed(4)}\n`);
      return;
    }
    if (p.type !== 'step') return;
    const frac = p.step / p.totalSteps;
    const width = 24;
    const filled = Math.round(frac * width);
    const line = `${label()} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.step}/${p.totalSteps} loss ${p.loss?.toFixed(3)} ${Math.round(p.tokensPerSecond ?? 0)} tok/s ETA ${Math.round(p.etaSeconds ?? 0)}s`;
    if (tty) {
      process.stderr.write(`\r\x1b[2K${line}${p.step === p.totalSteps ? '\n' : ''}`);
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== lastDecile || p.step === p.totalSteps) {
        lastDecile = decile;
        process.stderr.write(line + '\n');
      }
    }
  };
}
